"""Ticket attachments: one small file a request, recognised by its content.

Attachments are screenshots and logs, so they are small
(``support_max_attachment_bytes``, 512 KiB by default) and the whole request stays
under ``max_request_bytes``: Quart's own form parser reads them (in memory), unlike
video uploads, which are streamed to disk.

What is accepted, told apart by the first bytes (as video uploads are), never by the
name or the ``Content-Type`` the client gives:

* images: PNG, JPEG, GIF, WebP;
* text (logs, configuration, CSV, JSON): UTF-8 without NUL or other control
  characters than tab, line breaks, form feed and escape (terminal colours), and not
  markup (HTML, SVG or XML, which a browser could run).

The file name's extension must agree with the content: ``shot.png`` holding HTML, or
``notes.txt`` holding a PNG, is refused as disguised (415 ``attachment_type_mismatch``).
Stored names are the client's base name cleaned of paths and control characters,
with the extension of the type found. Files are served as downloads
(``Content-Disposition: attachment``) with their found type and ``nosniff``.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from admin_app.core.errors import ApiError

#: Longest stored file name, characters.
MAX_NAME_CHARS = 100


@dataclass(frozen=True, slots=True)
class AttachmentType:
    """A file type attachments may have.

    Attributes:
        mime: The ``Content-Type`` it is served with.
        extensions: Extensions a file of this type may be named with (first: default).
    """

    mime: str
    extensions: tuple[str, ...]


PNG = AttachmentType("image/png", (".png",))
JPEG = AttachmentType("image/jpeg", (".jpg", ".jpeg"))
GIF = AttachmentType("image/gif", (".gif",))
WEBP = AttachmentType("image/webp", (".webp",))
TEXT = AttachmentType("text/plain; charset=utf-8", (".txt", ".log", ".csv", ".json", ".md"))
TYPES = (PNG, JPEG, GIF, WEBP, TEXT)

_MARKUP = re.compile(rb"^\s*<(!doctype|html|head|body|script|svg|\?xml|iframe|!--)", re.I)
_ALLOWED_CONTROLS = {"\t", "\n", "\r", "\f", "\x1b"}


def sniff_attachment(content: bytes) -> AttachmentType | None:
    """The type of *content*, or None when it is none of :data:`TYPES`."""
    if content.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if content.startswith(b"\xff\xd8\xff"):
        return JPEG
    if content[:6] in (b"GIF87a", b"GIF89a"):
        return GIF
    if content[:4] == b"RIFF" and content[8:12] == b"WEBP":
        return WEBP
    if _MARKUP.match(content[:1024].lstrip(b"\xef\xbb\xbf")):
        return None
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if any(unicodedata.category(ch) == "Cc" and ch not in _ALLOWED_CONTROLS for ch in text):
        return None
    return TEXT


def stored_name(client_name: str, kind: AttachmentType) -> str:
    """The name an attachment is stored and served under.

    Raises:
        ApiError: 415 ``attachment_type_mismatch`` when the client's extension is one
            of another type's (a disguised file).
    """
    base = client_name.replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(ch for ch in base if unicodedata.category(ch)[0] != "C").strip(" .")
    stem, dot, extension = base.rpartition(".")
    extension = f".{extension.lower()}" if dot else ""
    if not dot:
        stem = base
    known = {ext for t in TYPES for ext in t.extensions}
    if extension and extension not in kind.extensions:
        if extension in known or extension in (".html", ".htm", ".svg", ".xml", ".js"):
            raise ApiError(
                415,
                "attachment_type_mismatch",
                f"the file is named {extension} but its content is {kind.mime.split(';')[0]}",
                details=[("file", "the name's extension does not match the content")],
            )
        stem, extension = base, ""
    stem = (stem or "attachment")[: MAX_NAME_CHARS - 6]
    return stem + (extension or kind.extensions[0])


@dataclass(frozen=True, slots=True)
class ReceivedAttachment:
    """An attachment read from a request: its content, type, name and whether staff
    marked it internal."""

    content: bytes
    kind: AttachmentType
    file_name: str
    internal: bool


async def receive_attachment(request: Any, *, max_bytes: int) -> ReceivedAttachment:
    """Read the ``multipart/form-data`` body of *request*: a ``file`` part and an
    optional ``internal`` field (``true``/``false``).

    Raises:
        ApiError: 415 ``unsupported_media_type`` for another body or a file of no
            accepted type; 415 ``attachment_type_mismatch`` for a disguised one; 413
            ``request_too_large`` over *max_bytes*; 422 ``validation_error`` without a
            file, with an empty one, or with a bad ``internal``.
    """
    if request.mimetype != "multipart/form-data":
        raise ApiError(
            415,
            "unsupported_media_type",
            "expected a multipart/form-data body with the file in a 'file' field, got "
            f"{request.mimetype or 'no content type'}",
        )
    files = await request.files
    form = await request.form
    upload = files.get("file")
    if upload is None:
        raise ApiError(
            422,
            "validation_error",
            "expected the attachment in a file field named 'file', got none",
            details=[("file", "required")],
        )
    content = upload.read(max_bytes + 1)
    if len(content) > max_bytes:
        raise ApiError(
            413,
            "request_too_large",
            f"the attachment is over the limit of {max_bytes} bytes (support_max_attachment_bytes)",
        )
    if not content:
        raise ApiError(
            422, "validation_error", "the attachment is empty", details=[("file", "empty file")]
        )
    internal_raw = (form.get("internal") or "false").strip().lower()
    if internal_raw not in ("true", "false", "1", "0", "on", "off"):
        raise ApiError(
            422,
            "validation_error",
            f"expected internal to be true or false, got {internal_raw[:20]!r}",
            details=[("internal", "must be true or false")],
        )
    kind = sniff_attachment(content)
    if kind is None:
        raise ApiError(
            415,
            "unsupported_media_type",
            "expected an image (PNG, JPEG, GIF, WebP) or UTF-8 text, told apart by its "
            "content, got something else",
            details=[("file", "not an accepted attachment type")],
        )
    return ReceivedAttachment(
        content=content,
        kind=kind,
        file_name=stored_name(upload.filename or "", kind),
        internal=internal_raw in ("true", "1", "on"),
    )
