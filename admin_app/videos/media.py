"""Serving and probing video files: the type from the content, byte ranges and
conditional requests, streamed file bodies, ``Content-Disposition`` and ffprobe.

Pure helpers (:func:`sniff_video`, :func:`parse_range`, :func:`check_preconditions`,
:func:`range_applies`, :func:`attachment`) take their inputs as arguments; the
I/O ones read files in worker threads (``trio.open_file``) and run ffprobe with
``trio.run_process``, never on the event loop.

References: byte ranges, ``If-Range`` and the order of preconditions are RFC 9110
sections 13.2.2 and 14; ``Content-Disposition`` is RFC 6266 with RFC 8187's
``filename*``; container signatures are those of the ISO base media file format
(ISO/IEC 14496-12 ``ftyp``), EBML/Matroska (RFC 9559), Ogg (RFC 3533), RIFF AVI,
MPEG-TS, MPEG-PS and FLV.
"""

from __future__ import annotations

import logging
import math
import re
import shutil
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import quote

import trio
from pydantic import BaseModel, Field
from quart.wrappers.response import ResponseBody
from werkzeug.http import http_date, parse_date, parse_etags

logger = logging.getLogger(__name__)


#: Bytes of a file's beginning that :func:`sniff_video` needs at most.
SNIFF_BYTES = 4096
#: Bytes read from disk (in a worker thread) per chunk of a streamed body.
CHUNK_BYTES = 256 * 1024
#: Longest ffprobe run before it is killed and the duration left unknown, seconds.
FFPROBE_TIMEOUT_S = 30.0
#: Longest duration taken from ffprobe (``protocol.messages.MAX_POSITION_S``), seconds.
MAX_DURATION_S = 10_000_000.0


@dataclass(frozen=True, slots=True)
class VideoType:
    """A video container recognised from a file's first bytes.

    Attributes:
        name: Short name (``mp4``, ``webm``, ...).
        mime: The ``Content-Type`` to serve it with.
        extension: File name extension with its dot, for stored and downloaded names.
    """

    name: str
    mime: str
    extension: str


MP4 = VideoType("mp4", "video/mp4", ".mp4")
QUICKTIME = VideoType("quicktime", "video/quicktime", ".mov")
THREE_GP = VideoType("3gpp", "video/3gpp", ".3gp")
WEBM = VideoType("webm", "video/webm", ".webm")
MATROSKA = VideoType("matroska", "video/x-matroska", ".mkv")
OGG = VideoType("ogg", "video/ogg", ".ogv")
AVI = VideoType("avi", "video/x-msvideo", ".avi")
MPEG_TS = VideoType("mpegts", "video/mp2t", ".ts")
MPEG_PS = VideoType("mpeg", "video/mpeg", ".mpg")
FLV = VideoType("flv", "video/x-flv", ".flv")
#: Every type :func:`sniff_video` can return.
VIDEO_TYPES = (MP4, QUICKTIME, THREE_GP, WEBM, MATROSKA, OGG, AVI, MPEG_TS, MPEG_PS, FLV)

# ftyp major brands of files that are not videos: HEIF/AVIF images and audio-only MP4.
_NOT_VIDEO_BRANDS = {
    b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs", b"mif1",
    b"msf1", b"avif", b"avis", b"avio", b"jp2 ", b"jpm ", b"jpx ", b"crx ",
    b"M4A ", b"M4B ", b"M4P ", b"F4A ", b"F4B ",
}  # fmt: skip
# First packets of Ogg logical streams (RFC 3533 carries any codec): video codecs and
# the Skeleton index that video files carry, versus audio-only codecs.
_OGG_VIDEO = (b"\x80theora", b"\x01video", b"BBCD\x00", b"fishead\x00")


def sniff_video(head: bytes) -> VideoType | None:
    """The video container of a file, from its first bytes (never from its name).

    Args:
        head: The file's first bytes, :data:`SNIFF_BYTES` or all of a shorter file.

    Returns:
        The recognised type, or None for anything else: other files, images and
        audio-only containers that share a video signature (HEIF and M4A ``ftyp``
        brands, Ogg Vorbis or Opus), and beginnings too short to tell.
    """
    if len(head) >= 12 and head[4:8] == b"ftyp":
        brand = head[8:12]
        if int.from_bytes(head[0:4], "big") < 8 or brand in _NOT_VIDEO_BRANDS:
            return None
        if brand == b"qt  ":
            return QUICKTIME
        if brand.startswith((b"3gp", b"3g2")):
            return THREE_GP
        return MP4
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        doc_type = _ebml_doc_type(head)
        return {b"webm": WEBM, b"matroska": MATROSKA}.get(doc_type or b"")
    if head.startswith(b"OggS") and len(head) >= 27:
        first_packet = head[27 + head[26] :]
        return OGG if first_packet.startswith(_OGG_VIDEO) else None
    if head.startswith(b"RIFF") and head[8:12] == b"AVI ":
        return AVI
    if head.startswith(b"FLV\x01"):
        return FLV
    if len(head) > 376 and head[0] == head[188] == head[376] == 0x47:
        return MPEG_TS
    if head.startswith(b"\x00\x00\x01\xba"):
        return MPEG_PS
    return None


def _ebml_vint(data: bytes, pos: int, *, keep_marker: bool) -> tuple[int, int] | None:
    """An EBML variable-length integer at *pos*: ``(value, next position)`` or None."""
    if pos >= len(data) or data[pos] == 0:
        return None
    length = 8 - data[pos].bit_length() + 1
    if pos + length > len(data):
        return None
    value = int.from_bytes(data[pos : pos + length], "big")
    if not keep_marker:
        value &= (1 << (7 * length)) - 1
    return value, pos + length


def _ebml_doc_type(head: bytes) -> bytes | None:
    """The DocType (element 0x4282) of the EBML header at the start of *head*."""
    size = _ebml_vint(head, 4, keep_marker=False)
    if size is None:
        return None
    header_size, pos = size
    end = min(len(head), pos + header_size)
    while pos < end:
        element = _ebml_vint(head, pos, keep_marker=True)
        if element is None:
            return None
        element_id, pos = element
        length = _ebml_vint(head, pos, keep_marker=False)
        if length is None:
            return None
        value_size, pos = length
        if element_id == 0x4282:
            return head[pos : pos + value_size].rstrip(b"\x00")
        pos += value_size
    return None


# --- ranges and conditional requests ----------------------------------------------------


class RangeNotSatisfiable(Exception):
    """Raised by :func:`parse_range` when no requested range overlaps the file
    (answered with 416 and ``Content-Range: bytes */<size>``)."""


_SPEC = re.compile(r"^(\d{0,19})-(\d{0,19})$")


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The byte range to send for a ``Range`` header, per RFC 9110 section 14.

    Args:
        header: The ``Range`` header, or None.
        size: The representation's length in bytes.

    Returns:
        ``(first, last)`` byte positions, both inclusive, for a 206; or None to send
        the whole file with 200: no header, a unit other than ``bytes``, a header
        that does not parse (section 14.2 lets a server ignore it), or more than one
        range (answering those with the whole representation is always allowed,
        and no player asks for several).

    Raises:
        RangeNotSatisfiable: for one syntactically valid range that starts at or
            past the end (``bytes=<size>-``), a zero-length suffix (``bytes=-0``),
            or any range of an empty file.
    """
    if header is None:
        return None
    unit, sep, ranges = header.partition("=")
    if not sep or unit.strip().lower() != "bytes":
        return None
    specs = [s.strip() for s in ranges.split(",") if s.strip()]
    parsed = [_SPEC.match(s) for s in specs]
    if not specs or any(m is None for m in parsed):
        return None
    bounds: list[tuple[int | None, int | None]] = []
    for match in parsed:
        assert match is not None
        first_text, last_text = match.groups()
        first = int(first_text) if first_text else None
        last = int(last_text) if last_text else None
        if (first is None and last is None) or (
            first is not None and last is not None and last < first
        ):
            return None
        bounds.append((first, last))
    if len(bounds) > 1:
        return None
    first, last = bounds[0]
    if first is None:
        assert last is not None
        if last == 0 or size == 0:
            raise RangeNotSatisfiable(f"suffix of {last} bytes of a {size}-byte file")
        return max(0, size - last), size - 1
    if first >= size:
        raise RangeNotSatisfiable(f"range from byte {first} of a {size}-byte file")
    return first, size - 1 if last is None else min(last, size - 1)


@dataclass(frozen=True, slots=True)
class Validators:
    """A file's validators: a strong ETag and its modification time.

    Attributes:
        etag: The entity tag without quotes.
        last_modified_s: Modification time, whole Unix seconds.
    """

    etag: str
    last_modified_s: int

    @classmethod
    def for_file(cls, key: str, size: int, mtime_ns: int) -> Validators:
        """Validators from a stable key (the video id), the size and ``st_mtime_ns``."""
        return cls(f"{key}-{size:x}-{mtime_ns:x}", mtime_ns // 1_000_000_000)

    def headers(self) -> dict[str, str]:
        """``ETag`` and ``Last-Modified`` response headers."""
        return {"ETag": f'"{self.etag}"', "Last-Modified": http_date(self.last_modified_s)}


def check_preconditions(headers: Any, method: str, validators: Validators) -> int | None:
    """Evaluate the preconditions of a request for a file, RFC 9110 section 13.2.2.

    Args:
        headers: The request headers (a mapping with ``get``).
        method: The request method.
        validators: The file's current validators.

    Returns:
        412 when ``If-Match`` or ``If-Unmodified-Since`` fails, 304 for a GET or
        HEAD whose ``If-None-Match`` (or, without it, ``If-Modified-Since``) says the
        client's copy is current, else None (go on and answer).
    """
    if_match = headers.get("If-Match")
    if if_match is not None:
        tags = parse_etags(if_match)
        if not (tags.star_tag or tags.contains(validators.etag)):
            return 412
    else:
        since = parse_date(headers.get("If-Unmodified-Since"))
        if since is not None and validators.last_modified_s > since.timestamp():
            return 412
    if_none_match = headers.get("If-None-Match")
    if if_none_match is not None:
        tags = parse_etags(if_none_match)
        if tags.star_tag or tags.contains_weak(validators.etag):
            return 304 if method in ("GET", "HEAD") else 412
        return None
    if method in ("GET", "HEAD"):
        since = parse_date(headers.get("If-Modified-Since"))
        if since is not None and validators.last_modified_s <= since.timestamp():
            return 304
    return None


def range_applies(headers: Any, validators: Validators) -> bool:
    """Whether a ``Range`` may be honoured given ``If-Range`` (RFC 9110 section 13.1.5).

    True without ``If-Range``, or when it names the current entity tag (strong
    comparison: a weak tag never matches) or exactly the current ``Last-Modified``
    date. False otherwise: the client's partial copy is stale, so it gets it all.
    """
    value = headers.get("If-Range")
    if value is None:
        return True
    value = value.strip()
    if value.startswith(('"', "W/")):
        return value == f'"{validators.etag}"'
    since = parse_date(value)
    return since is not None and int(since.timestamp()) == validators.last_modified_s


class FileRequestHeaders(BaseModel):
    """Request headers of file responses (RFC 9110 sections 13 and 14)."""

    range: str | None = Field(
        None, description="`bytes=<first>-<last>`, `bytes=<first>-` or `bytes=-<suffix>`."
    )
    if_range: str | None = Field(None, description="Send the range only if this is current.")
    if_none_match: str | None = Field(None, description="Entity tags of the client's copy.")
    if_modified_since: str | None = Field(None, description="Date of the client's copy.")


class MediaLinkQuery(BaseModel):
    """Query of stream and download links."""

    token: str | None = Field(
        None, description="A signed media link token (from `stream_url` or `download_url`)."
    )


# --- bodies -----------------------------------------------------------------------------


class FileRangeBody(ResponseBody):
    """A response body of *length* bytes of a file from byte *start*, read in
    :data:`CHUNK_BYTES` chunks in worker threads.

    The file is opened when the response starts and closed when it ends, also when
    the client goes away mid-way. A file that turns out shorter than expected ends
    the body early (the client sees a short response, never other bytes).
    """

    def __init__(self, path: Path, start: int, length: int) -> None:
        self.path = path
        self.start = start
        self.remaining = length
        self._file: Any = None

    async def __aenter__(self) -> FileRangeBody:
        self._file = await trio.open_file(self.path, "rb")
        await self._file.seek(self.start)
        return self

    async def __aexit__(
        self, exc_type: type | None, exc_value: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._file is not None:
            with trio.CancelScope(shield=True):
                await self._file.aclose()

    def __aiter__(self) -> FileRangeBody:
        return self

    async def __anext__(self) -> bytes:
        if self.remaining <= 0:
            raise StopAsyncIteration
        data: bytes = await self._file.read(min(CHUNK_BYTES, self.remaining))
        if not data:
            raise StopAsyncIteration
        self.remaining -= len(data)
        return data


def attachment(filename: str, fallback: str = "video") -> str:
    """A ``Content-Disposition: attachment`` value for *filename* (RFC 6266).

    ``filename`` carries an ASCII version (other characters replaced by ``_``) for
    old clients; when the name is not plain ASCII, ``filename*`` carries it in
    UTF-8, percent-encoded (RFC 8187).

    Args:
        filename: The name to suggest, already free of path separators.
        fallback: Used when nothing of *filename* is left.
    """
    name = (
        "".join(
            ch
            for ch in unicodedata.normalize("NFC", filename)
            if unicodedata.category(ch)[0] != "C"
        ).strip()
        or fallback
    )
    ascii_name = re.sub(r"[^A-Za-z0-9 ._()\[\]-]", "_", name).strip() or fallback
    value = f'attachment; filename="{ascii_name}"'
    if ascii_name != name:
        value += f"; filename*=UTF-8''{quote(name, safe='')}"
    return value


def download_name(title: str, extension: str) -> str:
    """A file name for a download: the title without separators or control
    characters, at most 150 characters, with *extension*."""
    cleaned = "".join(
        " " if ch in "/\\" or unicodedata.category(ch)[0] == "C" else ch for ch in title
    )
    cleaned = " ".join(cleaned.split())[:150].strip(" .") or "video"
    return cleaned + extension


# --- ffprobe ----------------------------------------------------------------------------


async def probe_duration_s(
    path: Path, ffprobe_path: str, *, timeout_s: float = FFPROBE_TIMEOUT_S
) -> float | None:
    """A video's duration in seconds, from ffprobe when it is installed.

    Args:
        path: The video file (absolute, a name made by the server).
        ffprobe_path: The ffprobe program (looked up on ``PATH`` without a slash);
            empty: do not probe.
        timeout_s: Longest run; ffprobe is killed after it.

    Returns:
        The duration, or None when ffprobe is not configured or installed, fails,
        times out, or prints no finite duration between 0 and
        :data:`MAX_DURATION_S`.

    Error handling:
        Never raises for a failed probe (it is logged at WARNING): a video without a
        known duration is still a video. Cancellation propagates (ffprobe is killed).
    """
    if not ffprobe_path:
        return None
    program = await trio.to_thread.run_sync(shutil.which, ffprobe_path)
    if program is None:
        logger.info("ffprobe %r not found: storing %s without a duration", ffprobe_path, path.name)
        return None
    command = [
        program,
        "-v",
        "error",
        "-show_entries",
        "format=duration",
        "-of",
        "default=noprint_wrappers=1:nokey=1",
        str(path),
    ]
    result = None
    with trio.move_on_after(timeout_s):
        try:
            result = await trio.run_process(
                command, capture_stdout=True, capture_stderr=True, check=False
            )
        except OSError as exc:
            logger.warning("ffprobe could not run on %s: %s", path.name, exc)
            return None
    if result is None:
        logger.warning("ffprobe took over %s s on %s: killed", timeout_s, path.name)
        return None
    if result.returncode != 0:
        logger.warning(
            "ffprobe failed on %s (exit %d): %s",
            path.name,
            result.returncode,
            result.stderr.decode("utf-8", "replace").strip()[:300],
        )
        return None
    try:
        duration = float(result.stdout.decode("ascii", "replace").strip().splitlines()[0])
    except (ValueError, IndexError):
        return None
    if not math.isfinite(duration) or not 0.0 <= duration <= MAX_DURATION_S:
        return None
    return round(duration, 3)
