"""Streaming videos to players and downloading them: byte ranges (RFC 9110 section
14), conditional requests (section 13), signed media links, view and download
counts, and every permission case of visibility and downloads."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from werkzeug.http import http_date

from data import videos as video_store

from .video_helpers import fake_mp4, make_admin, path_of, run_videos, uploaded
from .web_helpers import WebHandle, assert_error, auth

SIZE = 300_000  # over one read chunk (256 KiB): whole-file reads span two
CONTENT = fake_mp4(SIZE)


@pytest.fixture
async def web(db_path: Path) -> AsyncIterator[WebHandle]:
    async with run_videos(db_path) as handle:
        yield handle


@pytest.fixture
async def video(web: WebHandle) -> dict[str, Any]:
    owner = await web.register("Owner")
    body = await uploaded(web, owner, CONTENT, title="Film", allow_download=True)
    body["owner_session"] = owner
    return body


def stream(video: dict[str, Any]) -> str:
    return f"/api/videos/{video['id']}/stream/"


async def test_whole_file_with_validators(web: WebHandle, video: dict[str, Any]) -> None:
    response = await web.client.get(stream(video))
    assert response.status_code == 200
    assert response.content == CONTENT
    headers = response.headers
    assert headers["Accept-Ranges"] == "bytes"
    assert headers["Content-Length"] == str(SIZE)
    assert headers["Content-Type"] == "video/mp4"
    assert re.fullmatch(r'"[0-9a-f]{32}-[0-9a-f]+-[0-9a-f]+"', headers["ETag"])
    assert "Last-Modified" in headers
    assert "Content-Range" not in headers
    assert headers["Cache-Control"] == "private, no-cache"


RANGES = [
    ("bytes=0-99", 0, 99),
    ("bytes=100-", 100, SIZE - 1),  # open-ended
    ("bytes=-500", SIZE - 500, SIZE - 1),  # suffix
    ("bytes=299990-400000", 299_990, SIZE - 1),  # last byte past the end is cut
    ("bytes=-400000", 0, SIZE - 1),  # a suffix longer than the file is all of it
    ("bytes=262140-262150", 262_140, 262_150),  # across the chunk boundary
    ("BYTES=5-5", 5, 5),
]


@pytest.mark.parametrize(("header", "first", "last"), RANGES)
async def test_one_range_answers_206(
    web: WebHandle, video: dict[str, Any], header: str, first: int, last: int
) -> None:
    response = await web.client.get(stream(video), headers={"Range": header})
    assert response.status_code == 206
    assert response.headers["Content-Range"] == f"bytes {first}-{last}/{SIZE}"
    assert response.headers["Content-Length"] == str(last - first + 1)
    assert response.headers["Accept-Ranges"] == "bytes"
    assert response.content == CONTENT[first : last + 1]


@pytest.mark.parametrize("header", ["bytes=300000-", "bytes=999999-1000000", "bytes=-0"])
async def test_a_range_outside_the_file_answers_416(
    web: WebHandle, video: dict[str, Any], header: str
) -> None:
    response = await web.client.get(stream(video), headers={"Range": header})
    assert_error(response, 416, "range_not_satisfiable")
    assert response.headers["Content-Range"] == f"bytes */{SIZE}"


@pytest.mark.parametrize(
    "header", ["bytes=0-1,5-6", "bytes=abc", "items=0-5", "bytes=5-2", "bytes=", "bytes=-"]
)
async def test_several_or_unparsable_ranges_get_the_whole_file(
    web: WebHandle, video: dict[str, Any], header: str
) -> None:
    response = await web.client.get(stream(video), headers={"Range": header})
    assert response.status_code == 200
    assert response.content == CONTENT


async def test_conditional_requests(web: WebHandle, video: dict[str, Any]) -> None:
    first = await web.client.get(stream(video))
    etag, modified = first.headers["ETag"], first.headers["Last-Modified"]
    get = web.client.get

    async def status(**headers: str) -> int:
        return (await get(stream(video), headers=headers)).status_code

    not_modified = await get(stream(video), headers={"If-None-Match": etag})
    assert not_modified.status_code == 304
    assert not_modified.content == b""
    assert not_modified.headers["ETag"] == etag
    assert await status(**{"If-None-Match": f'"other", {etag}'}) == 304
    assert await status(**{"If-None-Match": f"W/{etag}"}) == 304  # weak comparison
    assert await status(**{"If-None-Match": "*"}) == 304
    assert await status(**{"If-None-Match": '"other"'}) == 200
    assert await status(**{"If-Modified-Since": modified}) == 304
    assert await status(**{"If-Modified-Since": http_date(0)}) == 200
    # If-None-Match wins over If-Modified-Since.
    assert await status(**{"If-None-Match": '"other"', "If-Modified-Since": modified}) == 200

    # If-Range: the range only while the client's copy is current.
    ranged = {"Range": "bytes=10-19"}
    assert await status(**ranged, **{"If-Range": etag}) == 206
    assert await status(**ranged, **{"If-Range": modified}) == 206
    stale = await get(stream(video), headers={**ranged, "If-Range": '"old"'})
    assert stale.status_code == 200
    assert stale.content == CONTENT
    assert await status(**ranged, **{"If-Range": f"W/{etag}"}) == 200  # strong only
    assert await status(**ranged, **{"If-Range": http_date(0)}) == 200

    assert_error(await get(stream(video), headers={"If-Match": '"old"'}), 412)
    assert await status(**{"If-Match": etag}) == 200
    assert_error(await get(stream(video), headers={"If-Unmodified-Since": http_date(0)}), 412)


async def test_head_sends_headers_only(web: WebHandle, video: dict[str, Any]) -> None:
    whole = await web.client.head(stream(video))
    assert whole.status_code == 200
    assert whole.headers["Content-Length"] == str(SIZE)
    assert whole.content == b""
    part = await web.client.head(stream(video), headers={"Range": "bytes=0-99"})
    assert part.status_code == 206
    assert part.headers["Content-Length"] == "100"
    assert part.headers["Content-Range"] == f"bytes 0-99/{SIZE}"


async def test_views_count_plays_from_the_start_only(web: WebHandle, video: dict[str, Any]) -> None:
    etag = (await web.client.head(stream(video))).headers["ETag"]
    await web.client.get(stream(video))  # counted
    await web.client.get(stream(video), headers={"Range": "bytes=0-"})  # counted
    await web.client.get(stream(video), headers={"Range": "bytes=1000-"})  # seeking
    await web.client.get(stream(video), headers={"If-None-Match": etag})  # 304
    await web.client.get(stream(video), headers={"Range": "bytes=900000-"})  # 416
    detail = await web.client.get(f"/api/videos/{video['id']}/")
    assert detail.json()["view_count"] == 2


async def test_unknown_videos_and_missing_files_are_404(
    web: WebHandle, video: dict[str, Any]
) -> None:
    assert_error(await web.client.get("/api/videos/" + "a" * 32 + "/stream/"), 404)
    assert_error(await web.client.get("/api/videos/x/download/"), 404, "video_not_found")
    (Path(web.config.media_dir) / f"{video['id']}.mp4").unlink()
    assert_error(await web.client.get(stream(video)), 404, "video_file_missing")


async def test_private_streams_need_the_owner_or_a_signed_link(web: WebHandle) -> None:
    owner, other = await web.register("Owner"), await web.register("Other")
    admin = await make_admin(web)
    private = await uploaded(web, owner, fake_mp4(4096), visibility="private")
    public = await uploaded(web, owner, fake_mp4(4096))
    get = web.client.get
    url = stream(private)
    assert_error(await get(url), 401, "authentication_required")
    assert_error(await get(url, headers=auth(other)), 403, "private_video")
    assert (await get(url, headers=auth(owner))).status_code == 200
    assert (await get(url, headers=auth(admin))).status_code == 200

    # A <video> element sends no Authorization header: the stream_url is signed.
    signed = (await get(f"/api/videos/{private['id']}/", headers=auth(owner))).json()
    assert "?token=" in signed["stream_url"]
    ranged = await get(path_of(signed["stream_url"]), headers={"Range": "bytes=0-9"})
    assert ranged.status_code == 206
    token = signed["stream_url"].split("?token=")[1]
    # Bound to its video, its typ and its lifetime.
    assert_error(await get(f"{stream(public)}?token={token}"), 401, "invalid_token")
    assert_error(await get(f"{url}?token={owner['access']}"), 401, "invalid_token")
    assert_error(await get(f"{url}?token=garbage"), 401, "invalid_token")
    # Public videos need no token.
    seen = (await get(f"/api/videos/{public['id']}/", headers=auth(other))).json()
    assert "?token=" not in seen["stream_url"]
    assert (await get(stream(public))).status_code == 200
    web.clock.advance(web.config.media_token_ttl_s + 1)
    assert_error(await get(path_of(signed["stream_url"])), 401, "invalid_token")


# --- downloads -----------------------------------------------------------------------------

VIEWERS = ("anonymous", "other", "premium", "owner", "staff", "admin")


def expected_download(visibility: str, allow: bool, premium: bool, viewer: str) -> Any:
    """The Watch Party download rule, written out independently of the code."""
    if viewer in ("owner", "staff", "admin"):
        return 200
    if visibility == "private" and viewer == "anonymous":
        return (401, "authentication_required")
    if visibility == "private":
        return (403, "private_video")
    if not allow:
        return (403, "download_disabled")
    if premium and viewer == "anonymous":
        return (401, "authentication_required")
    if premium and viewer != "premium":
        return (403, "premium_required")
    return 200


async def test_every_download_permission_case(web: WebHandle) -> None:
    sessions = {
        "owner": await web.register("Owner"),
        "other": await web.register("Other"),
        "premium": await web.register("Premium"),
        "staff": await make_admin(web, "Staff", role="staff"),
        "admin": await make_admin(web, "Admin"),
    }
    await web.db.write(video_store.set_premium, sessions["premium"]["user"]["id"], True)
    cases = []
    for visibility in ("public", "unlisted", "private"):
        for allow in (True, False):
            for premium in (True, False):
                video = await uploaded(
                    web,
                    sessions["owner"],
                    fake_mp4(1024),
                    visibility=visibility,
                    allow_download=allow,
                    is_premium=premium,
                )
                cases.append((visibility, allow, premium, video["id"]))
    mismatches = []
    for visibility, allow, premium, video_id in cases:
        for viewer in VIEWERS:
            headers = auth(sessions[viewer]) if viewer in sessions else {}
            response = await web.client.get(f"/api/videos/{video_id}/download/", headers=headers)
            want = expected_download(visibility, allow, premium, viewer)
            got: Any = response.status_code
            if got != 200:
                assert_error(response, got)
                got = (got, response.json()["error"]["code"])
            else:
                assert response.content == fake_mp4(1024)
                assert response.headers["Content-Disposition"].startswith("attachment;")
            if got != want:
                mismatches.append((visibility, allow, premium, viewer, got, want))
            # The detail's can_download tells the same, for those who may see it.
            detail = await web.client.get(f"/api/videos/{video_id}/", headers=headers)
            if detail.status_code == 200 and detail.json()["can_download"] != (want == 200):
                mismatches.append((visibility, allow, premium, viewer, "can_download", want))
    assert mismatches == []


async def test_downloads_are_counted_and_named(web: WebHandle) -> None:
    owner, fan = await web.register("Owner"), await web.register("Fan")
    video = await uploaded(web, owner, fake_mp4(8192), title="Café ☕ night", allow_download=True)
    url = f"/api/videos/{video['id']}/download/"
    first = await web.client.get(url, headers=auth(fan))
    assert first.status_code == 200
    assert first.headers["Content-Disposition"] == (
        'attachment; filename="Caf_ _ night.mp4"; '
        "filename*=UTF-8''Caf%C3%A9%20%E2%98%95%20night.mp4"
    )
    assert first.headers["Content-Type"] == "video/mp4"
    await web.client.get(url)  # signed out
    resumed = await web.client.get(url, headers={**auth(fan), "Range": "bytes=4096-"})
    assert resumed.status_code == 206  # a resumed download is not counted again
    await web.client.head(url, headers=auth(fan))  # nor a HEAD
    # The signed download_url identifies the caller without a header.
    link = (await web.client.get(f"/api/videos/{video['id']}/", headers=auth(owner))).json()
    assert (await web.client.get(path_of(link["download_url"]))).status_code == 200

    detail = (await web.client.get(f"/api/videos/{video['id']}/")).json()
    assert detail["download_count"] == 3
    records = await web.client.get(f"/api/videos/{video['id']}/downloads/", headers=auth(owner))
    assert records.status_code == 200
    page = records.json()
    assert page["count"] == 3
    assert [r["user_id"] for r in page["results"]] == [
        owner["user"]["id"],
        None,
        fan["user"]["id"],
    ]
    refused = await web.client.get(f"/api/videos/{video['id']}/downloads/", headers=auth(fan))
    assert_error(refused, 403, "forbidden")

    plain = await uploaded(web, owner, fake_mp4(1024), title="Plain title", allow_download=True)
    named = await web.client.get(f"/api/videos/{plain['id']}/download/")
    assert named.headers["Content-Disposition"] == 'attachment; filename="Plain title.mp4"'
