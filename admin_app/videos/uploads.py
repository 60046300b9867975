"""Receiving a video upload: a ``multipart/form-data`` body streamed to a file in the
media directory, chunk by chunk as it arrives, never held whole in memory.

The web app's request bodies are capped at ``max_request_bytes`` (1 MiB by
default). Upload requests (``POST`` to :data:`UPLOAD_PATHS`) get their own cap,
``max_upload_bytes`` plus :data:`FORM_OVERHEAD_BYTES` for the other fields and the
multipart framing, counted over every byte received (Quart's own check counts the
bytes waiting to be read only). :func:`upload_request_class` installs that.

The form is parsed with Werkzeug's sans-IO ``MultipartDecoder`` (the parser Quart
itself uses); the file part is written through ``trio.open_file`` (worker threads)
to ``.upload-<random>.part`` and its type is decided from its first
:data:`~admin_app.videos.media.SNIFF_BYTES` bytes before anything else is kept.

Error handling: every failure (too large: 413; not a video: 415; a malformed form:
400; a missing file: 422; a client silent for :data:`IDLE_TIMEOUT_S`: 408; a
disconnect: cancellation) removes the partial file before the error propagates.
"""

from __future__ import annotations

import errno
import logging
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import trio
from quart import Request
from quart_trio.wrappers.request import TrioBody
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.sansio.multipart import (
    NEED_DATA,
    Data,
    Epilogue,
    Field,
    File,
    MultipartDecoder,
    State,
)

from admin_app.core.errors import ApiError

from .media import SNIFF_BYTES, VideoType, sniff_video

logger = logging.getLogger(__name__)

#: Paths whose POST bodies are uploads (the list endpoint and its Watch Party alias).
UPLOAD_PATHS = frozenset({"/api/videos/", "/api/videos/upload/"})
#: Room for the form's other fields and the multipart framing beyond the file, bytes.
FORM_OVERHEAD_BYTES = 256 * 1024
#: Largest value of one non-file field, and of one part's headers, bytes.
MAX_FIELD_BYTES = 64 * 1024
#: Most parts in one upload form.
MAX_PARTS = 32
#: Names the file part may have.
FILE_FIELDS = ("file", "video")
#: Longest wait for the next piece of the body before 408, seconds.
IDLE_TIMEOUT_S = 60.0
#: Prefix of partial files in the media directory.
PARTIAL_PREFIX = ".upload-"


class UploadBody(TrioBody):
    """A request body whose limit counts every byte received.

    Over the limit, the data is dropped and reading raises
    ``RequestEntityTooLarge``, as Quart's body does for a declared
    ``Content-Length`` over it.
    """

    def __init__(self, expected_content_length: int | None, max_content_length: int) -> None:
        super().__init__(expected_content_length, max_content_length)
        self._received = 0

    def append(self, data: bytes) -> None:
        if data == b"" or self._must_raise is not None:
            return
        self._received += len(data)
        if self._max_content_length is not None and self._received > self._max_content_length:
            self._data.clear()
            self._must_raise = RequestEntityTooLarge()
            self.set_complete()
            return
        self._data.extend(data)
        self._has_data.set()


def upload_request_class(base: type[Request], limit_bytes: int) -> type[Request]:
    """A subclass of *base* whose upload requests take bodies of up to *limit_bytes*.

    Bodies are set up before routing, so the choice is made on the method and
    path: ``POST`` to one of :data:`UPLOAD_PATHS`.
    """

    class UploadAwareRequest(base):  # type: ignore[valid-type,misc]
        def __init__(self, method: str, scheme: str, path: str, *args: Any, **kwargs: Any):
            upload = method == "POST" and path in UPLOAD_PATHS
            if upload:
                kwargs["max_content_length"] = limit_bytes
            super().__init__(method, scheme, path, *args, **kwargs)
            if upload:
                self.body = UploadBody(self.content_length, limit_bytes)

    UploadAwareRequest.__name__ = f"Upload{base.__name__}"
    UploadAwareRequest.__qualname__ = UploadAwareRequest.__name__
    return UploadAwareRequest


@dataclass
class ReceivedUpload:
    """An upload received in full.

    Attributes:
        path: The partial file holding the video, in the media directory; the caller
            renames it (or removes it).
        size_bytes: Its size.
        video_type: Its container, found from its content.
        filename: The file name the client gave (for information only).
        fields: The other form fields, decoded as UTF-8, by name (the last one wins).
    """

    path: Path
    size_bytes: int
    video_type: VideoType
    filename: str
    fields: dict[str, str] = field(default_factory=dict)


def partial_path(media_dir: Path) -> Path:
    """A fresh name for a partial upload in *media_dir*."""
    return media_dir / f"{PARTIAL_PREFIX}{secrets.token_hex(16)}.part"


async def remove_quietly(path: Path) -> None:
    """Remove *path* if it exists, even while being cancelled; log other failures."""
    with trio.CancelScope(shield=True):
        try:
            await trio.Path(path).unlink(missing_ok=True)
        except OSError:
            logger.exception("could not remove %s", path)


class _Receiver:
    def __init__(self, media_dir: Path, max_file_bytes: int) -> None:
        self.media_dir = media_dir
        self.max_file_bytes = max_file_bytes
        self.fields: dict[str, str] = {}
        self.path: Path | None = None
        self.file: Any = None
        self.filename = ""
        self.size = 0
        self.head = bytearray()
        self.video_type: VideoType | None = None
        self.file_done = False
        self._part: str | None = None  # "field", "file" or "skip"
        self._name = ""
        self._value = bytearray()

    async def event(self, event: Any) -> None:
        if isinstance(event, Field):
            self._part, self._name, self._value = "field", event.name or "", bytearray()
        elif isinstance(event, File):
            await self._start_file(event)
        elif isinstance(event, Data):
            if self._part == "field":
                self._value += event.data
                if len(self._value) > MAX_FIELD_BYTES:
                    raise _too_large(f"form field {self._name!r} is over {MAX_FIELD_BYTES} bytes")
                if not event.more_data:
                    self.fields[self._name] = _text(self._name, bytes(self._value))
            elif self._part == "file":
                await self._file_data(event.data, event.more_data)

    async def _start_file(self, event: File) -> None:
        if event.name not in FILE_FIELDS:
            raise ApiError(
                400,
                "unexpected_file",
                f"expected the video in a file field named 'file', got one named {event.name!r}",
                details=[(event.name or "body", "unexpected file")],
            )
        if self.path is not None:
            raise ApiError(
                400, "unexpected_file", "expected one video file per upload, got several"
            )
        self._part = "file"
        self.filename = event.filename or ""
        self.path = partial_path(self.media_dir)
        self.file = await trio.open_file(self.path, "xb")

    async def _file_data(self, data: bytes, more_data: bool) -> None:
        self.size += len(data)
        if self.size > self.max_file_bytes:
            raise _too_large(
                f"the video is over the limit of {self.max_file_bytes} bytes (max_upload_bytes)"
            )
        if self.video_type is None:
            self.head += data
            if len(self.head) < SNIFF_BYTES and more_data:
                return
            self._sniff()
            data, self.head = bytes(self.head), bytearray()
        if data:
            await self.file.write(data)
        if not more_data:
            self.file_done = True

    def _sniff(self) -> None:
        self.video_type = sniff_video(bytes(self.head[:SNIFF_BYTES]))
        if self.video_type is None:
            raise ApiError(
                415,
                "unsupported_media_type",
                "expected a video file (MP4, QuickTime, WebM, Matroska, Ogg, AVI, MPEG or "
                "FLV, told apart by its content), got something else",
                details=[("file", "not a recognised video container")],
            )

    async def close(self) -> None:
        if self.file is not None:
            with trio.CancelScope(shield=True):
                await self.file.aclose()
            self.file = None


async def receive_upload(request: Any, *, media_dir: Path, max_file_bytes: int) -> ReceivedUpload:
    """Stream a ``multipart/form-data`` upload to a partial file in *media_dir*.

    Args:
        request: The current request; its body has not been read.
        media_dir: Where the partial file is written (it must exist).
        max_file_bytes: Largest video file, bytes.

    Returns:
        The received upload; its ``path`` is the caller's to rename or remove.

    Raises:
        ApiError: 415 ``unsupported_media_type`` for a body that is not
            ``multipart/form-data`` or a file that is not a video; 413
            ``request_too_large`` over a limit; 400 ``malformed_multipart``,
            ``unexpected_file``; 422 ``validation_error`` without a file; 408
            ``request_timeout`` when the client stalls; 507 ``insufficient_storage``
            when the disk is full. The partial file is gone then.
    """
    if request.mimetype != "multipart/form-data":
        raise ApiError(
            415,
            "unsupported_media_type",
            f"expected a multipart/form-data body with the video in a 'file' field, got "
            f"{request.mimetype or 'no content type'}",
        )
    boundary = request.mimetype_params.get("boundary", "")
    if not 1 <= len(boundary) <= 200:
        raise _malformed("the multipart/form-data Content-Type has no valid boundary")
    decoder = MultipartDecoder(boundary.encode("latin-1", "replace"), max_parts=MAX_PARTS)
    receiver = _Receiver(media_dir, max_file_bytes)
    body = request.body.__aiter__()
    try:
        while True:
            with trio.move_on_after(IDLE_TIMEOUT_S) as idle:
                try:
                    chunk = await body.__anext__()
                except StopAsyncIteration:
                    chunk = None
            if idle.cancelled_caught:
                raise ApiError(408, "request_timeout", f"no upload data for {IDLE_TIMEOUT_S:g} s")
            await _feed(decoder, receiver, chunk)
            if chunk is None:
                break
        if receiver.path is None or not receiver.file_done:
            raise ApiError(
                422,
                "validation_error",
                "expected the video in a file field named 'file', got no file",
                details=[("file", "required")],
            )
        if receiver.video_type is None:
            receiver._sniff()
        await receiver.close()
        assert receiver.video_type is not None
        return ReceivedUpload(
            path=receiver.path,
            size_bytes=receiver.size,
            video_type=receiver.video_type,
            filename=receiver.filename,
            fields=receiver.fields,
        )
    except RequestEntityTooLarge:
        await _discard(receiver)
        raise _too_large(
            f"the upload is over the limit of {max_file_bytes} bytes (max_upload_bytes) plus "
            f"{FORM_OVERHEAD_BYTES} bytes for the form"
        ) from None
    except OSError as exc:
        await _discard(receiver)
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise ApiError(
                507, "insufficient_storage", "the server has no room for this video"
            ) from None
        raise
    except BaseException:
        await _discard(receiver)
        raise


async def _feed(decoder: MultipartDecoder, receiver: _Receiver, chunk: bytes | None) -> None:
    try:
        decoder.receive_data(chunk)
        while True:
            event = decoder.next_event()
            if event is NEED_DATA:
                break
            await receiver.event(event)
            if isinstance(event, Epilogue):
                break
    except RequestEntityTooLarge:
        raise _too_large(f"the upload form has more than {MAX_PARTS} parts") from None
    except (ValueError, AttributeError, TypeError, IndexError) as exc:
        # The decoder reports malformed input with ValueError, and some with
        # AttributeError (a part that does not start with a line break).
        raise _malformed(f"the multipart/form-data body does not parse: {exc}") from None
    if decoder.state in (State.PREAMBLE, State.PART) and len(decoder.buffer) > MAX_FIELD_BYTES:
        raise _malformed(f"a multipart boundary or part header is over {MAX_FIELD_BYTES} bytes")


async def _discard(receiver: _Receiver) -> None:
    await receiver.close()
    if receiver.path is not None:
        await remove_quietly(receiver.path)


def _text(name: str, value: bytes) -> str:
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(
            400,
            "malformed_multipart",
            f"form field {name!r} is not UTF-8",
            details=[(name or "body", "not UTF-8")],
        ) from None


def _malformed(message: str) -> ApiError:
    return ApiError(400, "malformed_multipart", message)


def _too_large(message: str) -> ApiError:
    return ApiError(413, "request_too_large", message)
