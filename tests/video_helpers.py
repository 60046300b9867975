"""Helpers of the video library tests: tiny video files, uploads, admins.

``tests/fixtures/tiny.mp4`` (1.7 KB, 1 s of 16x16 H.264) and ``tiny.webm`` (650 B,
VP8) were made with ffmpeg once; the tests never need ffmpeg. Larger files are
:func:`fake_mp4`: a valid ``ftyp`` box then a byte pattern, enough for the type
check and for checking which bytes a range returned.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx

from data import users as user_store

from .web_helpers import WebHandle, auth, run_web

FIXTURES = Path(__file__).resolve().parent / "fixtures"
TINY_MP4 = (FIXTURES / "tiny.mp4").read_bytes()
TINY_WEBM = (FIXTURES / "tiny.webm").read_bytes()

#: A minimal ISO BMFF ``ftyp`` box (ISO/IEC 14496-12): size, type, brand, version,
#: compatible brands.
FTYP = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2"


def pattern(size: int, offset: int = 0) -> bytes:
    """*size* bytes of a pattern where each byte tells its position (mod 251)."""
    return bytes((offset + i) % 251 for i in range(size))


def fake_mp4(size: int) -> bytes:
    """*size* bytes that sniff as MP4: the ``ftyp`` box, then :func:`pattern`."""
    assert size >= len(FTYP)
    return FTYP + pattern(size - len(FTYP), len(FTYP))


def media_files(web: WebHandle) -> list[str]:
    """Every file in the app's media directory (partial uploads included)."""
    media_dir = Path(web.config.media_dir)
    return sorted(p.name for p in media_dir.iterdir()) if media_dir.exists() else []


@asynccontextmanager
async def run_videos(db_path: Path, **overrides: Any) -> AsyncIterator[WebHandle]:
    """The web app with its media directory beside the database and no ffprobe
    (durations stay unknown, the same on every machine), unless overridden."""
    overrides.setdefault("media_dir", str(db_path.parent / "media"))
    overrides.setdefault("ffprobe_path", "")
    async with run_web(db_path, **overrides) as web:
        yield web


async def upload(
    web: WebHandle,
    session: dict[str, Any] | str | None,
    content: bytes = TINY_MP4,
    *,
    filename: str = "clip.mp4",
    content_type: str = "video/mp4",
    field: str = "file",
    **fields: Any,
) -> httpx.Response:
    """POST a multipart upload; form values are sent as text (booleans as true/false)."""
    data = {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in fields.items()}
    headers = auth(session) if session is not None else {}
    return await web.client.post(
        "/api/videos/",
        data=data,
        files={field: (filename, content, content_type)},
        headers=headers,
    )


async def uploaded(
    web: WebHandle, session: dict[str, Any], content: bytes = TINY_MP4, **fields: Any
) -> dict[str, Any]:
    """Upload and return the 201 body."""
    fields.setdefault("title", "A clip")
    response = await upload(web, session, content, **fields)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def make_admin(web: WebHandle, name: str = "Admin", role: str = "admin") -> dict[str, Any]:
    """Register an account and give it *role* (``admin`` or ``staff``)."""
    session = await web.register(name)
    user_id = session["user"]["id"]
    await web.db.write(user_store.set_user_role, user_id, role)
    return session


def path_of(url: str) -> str:
    """The path and query of an absolute URL the API gave (the client has a base URL)."""
    parsed = httpx.URL(url)
    query = parsed.query.decode()
    return parsed.path + (f"?{query}" if query else "")
