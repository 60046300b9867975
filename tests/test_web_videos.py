"""The video library over REST: uploads (streamed, typed by content, size-limited),
list with search, filters, ordering and pagination, detail, update, delete, the
premium flag, and durations from ffprobe."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from contextlib import aclosing
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio

from .video_helpers import (
    FTYP,
    TINY_MP4,
    TINY_WEBM,
    fake_mp4,
    make_admin,
    media_files,
    path_of,
    run_videos,
    upload,
    uploaded,
)
from .web_helpers import assert_error, auth


async def test_upload_types_by_content_and_stores_under_a_generated_name(db_path: Path) -> None:
    async with run_videos(db_path) as web:
        owner = await web.register("Owner")
        # A WebM with a misleading name and type, and a path in its name.
        response = await upload(
            web,
            owner,
            TINY_WEBM,
            filename="../../etc/passwd.mp4",
            content_type="video/mp4",
            title="  Sunset  ",
            description="Red\nsky",
            visibility="unlisted",
            allow_download=True,
            is_premium=True,
        )
        assert response.status_code == 201, response.text
        video = response.json()
        assert video["content_type"] == "video/webm"
        assert video["size_bytes"] == len(TINY_WEBM)
        assert video["title"] == "Sunset"
        assert video["description"] == "Red\nsky"
        assert (video["visibility"], video["allow_download"], video["is_premium"]) == (
            "unlisted",
            True,
            True,
        )
        assert video["owner"] == {"id": owner["user"]["id"], "display_name": "Owner"}
        assert video["duration_s"] is None  # no ffprobe in this app
        assert video["view_count"] == video["like_count"] == video["comment_count"] == 0
        assert video["can_edit"] is True
        assert video["can_download"] is True
        assert video["stream_url"].endswith(f"/api/videos/{video['id']}/stream/")
        assert len(video["id"]) == 32
        assert media_files(web) == [f"{video['id']}.webm"]
        stored = Path(web.config.media_dir) / f"{video['id']}.webm"
        assert stored.read_bytes() == TINY_WEBM

        detail = await web.client.get(f"/api/videos/{video['id']}/", headers=auth(owner))
        assert detail.status_code == 200
        assert detail.json()["title"] == "Sunset"


async def test_upload_defaults_and_the_watch_party_alias(db_path: Path) -> None:
    async with run_videos(db_path) as web:
        owner = await web.register()
        response = await upload(
            web, owner, TINY_MP4, filename="C:\\films\\My holiday.mp4", title="  "
        )
        assert response.status_code == 201, response.text
        video = response.json()
        assert video["title"] == "My holiday"
        assert (video["visibility"], video["allow_download"], video["is_premium"]) == (
            "public",
            False,
            False,
        )
        alias = await web.client.post(
            "/api/videos/upload/",
            files={"video": ("x.bin", TINY_MP4, "application/octet-stream")},
            headers=auth(owner),
        )
        assert alias.status_code == 201, alias.text
        assert alias.json()["title"] == "x"
        assert alias.json()["content_type"] == "video/mp4"


NOT_VIDEOS = {
    "text": b"just some text, with a video name",
    "empty": b"",
    "png": b"\x89PNG\r\n\x1a\n" + b"\x00" * 64,
    "heif image": b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 64,
    "m4a audio": b"\x00\x00\x00\x18ftypM4A \x00\x00\x00\x00M4A isom" + b"\x00" * 64,
    "ogg vorbis": b"OggS\x00\x02" + b"\x00" * 20 + b"\x01\x1e" + b"\x01vorbis" + b"\x00" * 40,
    "ebml other": b"\x1a\x45\xdf\xa3\x87\x42\x82\x84abcd" + b"\x00" * 64,
}


@pytest.mark.parametrize("kind", sorted(NOT_VIDEOS))
async def test_a_file_that_is_not_a_video_is_refused_and_not_kept(db_path: Path, kind: str) -> None:
    async with run_videos(db_path) as web:
        owner = await web.register()
        response = await upload(web, owner, NOT_VIDEOS[kind], filename="film.mp4")
        error = assert_error(response, 415, "unsupported_media_type")
        assert error["details"] == [
            {"field": "file", "message": "not a recognised video container"}
        ]
        assert media_files(web) == []
        listed = (await web.client.get("/api/videos/", headers=auth(owner))).json()
        assert listed["count"] == 0


async def test_uploads_over_the_limit_are_refused_with_nothing_left_on_disk(db_path: Path) -> None:
    limit = 64 * 1024
    async with run_videos(db_path, max_upload_bytes=limit) as web:
        owner = await web.register()
        # Just over the file limit: found while streaming.
        over = await upload(web, owner, fake_mp4(limit + 1))
        assert_error(over, 413, "request_too_large")
        assert "max_upload_bytes" in over.json()["error"]["message"]
        assert media_files(web) == []
        # A declared length far over the body limit: refused before reading.
        huge = await upload(web, owner, fake_mp4(limit + 512 * 1024))
        assert_error(huge, 413, "request_too_large")
        assert media_files(web) == []

        # Chunked, without a declared length: counted as it arrives.
        boundary = "wpboundary"

        async def body() -> AsyncIterator[bytes]:
            yield (
                f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
                f'filename="a.mp4"\r\nContent-Type: video/mp4\r\n\r\n'
            ).encode()
            yield FTYP
            for _ in range(12):
                yield b"\x00" * (32 * 1024)
            yield f"\r\n--{boundary}--\r\n".encode()

        async with aclosing(body()) as stream:
            chunked = await web.client.post(
                "/api/videos/",
                content=stream,
                headers={
                    **auth(owner),
                    "Content-Type": f"multipart/form-data; boundary={boundary}",
                },
            )
        assert_error(chunked, 413, "request_too_large")
        assert media_files(web) == []

        # At the limit exactly: accepted.
        exact = await upload(web, owner, fake_mp4(limit))
        assert exact.status_code == 201, exact.text
        assert exact.json()["size_bytes"] == limit
        # Other requests keep the usual body limit.
        too_big_json = await web.client.post(
            "/api/auth/guest/", json={"display_name": "x" * 2_000_000}
        )
        assert_error(too_big_json, 413, "request_too_large")


async def test_bad_upload_requests(db_path: Path) -> None:
    async with run_videos(db_path) as web:
        owner = await web.register()
        assert_error(await upload(web, None), 401, "authentication_required")
        guest = await web.guest()
        assert_error(await upload(web, guest), 403, "guests_cannot_upload")
        not_multipart = await web.client.post(
            "/api/videos/", json={"title": "x"}, headers=auth(owner)
        )
        assert_error(not_multipart, 415, "unsupported_media_type")
        no_file = await web.client.post(
            "/api/videos/", data={"title": "x"}, files={}, headers=auth(owner)
        )
        # httpx sends a urlencoded body without files: still not multipart.
        assert no_file.status_code in (415, 422)
        only_fields = await web.client.post(
            "/api/videos/",
            content=b'--b\r\nContent-Disposition: form-data; name="title"\r\n\r\nx\r\n--b--\r\n',
            headers={**auth(owner), "Content-Type": "multipart/form-data; boundary=b"},
        )
        error = assert_error(only_fields, 422, "validation_error")
        assert error["details"] == [{"field": "file", "message": "required"}]
        garbage = await web.client.post(
            "/api/videos/",
            content=b"this is not multipart at all",
            headers={**auth(owner), "Content-Type": "multipart/form-data; boundary=b"},
        )
        assert_error(garbage, 400, "malformed_multipart")
        no_boundary = await web.client.post(
            "/api/videos/",
            content=b"x",
            headers={**auth(owner), "Content-Type": "multipart/form-data"},
        )
        assert_error(no_boundary, 400, "malformed_multipart")
        wrong_field = await upload(web, owner, field="attachment")
        assert_error(wrong_field, 400, "unexpected_file")
        bad_fields = await upload(web, owner, visibility="secret", title="x" * 201)
        error = assert_error(bad_fields, 422, "validation_error")
        assert {d["field"] for d in error["details"]} == {"visibility", "title"}
        bad_bool = await upload(web, owner, allow_download="perhaps")
        assert_error(bad_bool, 422, "validation_error")
        assert media_files(web) == []


async def seed_library(web: Any) -> dict[str, Any]:
    """Alice: public 'Alpha cats', unlisted 'Beta dogs', private 'Gamma birds';
    Bob: public premium 'Delta cats and dogs'."""
    alice, bob = await web.register("Alice"), await web.register("Bob")
    videos = {
        "alpha": await uploaded(web, alice, title="Alpha cats", description="purring"),
        "beta": await uploaded(web, alice, title="Beta dogs", visibility="unlisted"),
        "gamma": await uploaded(web, alice, title="Gamma birds", visibility="private"),
    }
    web.clock.advance(1)
    videos["delta"] = await uploaded(
        web, bob, title="Delta", description="cats and dogs", is_premium=True
    )
    return {"alice": alice, "bob": bob, **videos}


def titles(response: Any) -> list[str]:
    assert response.status_code == 200, response.text
    return [v["title"] for v in response.json()["results"]]


async def test_list_shows_public_and_own_videos_and_staff_everything(db_path: Path) -> None:
    async with run_videos(db_path) as web:
        lib = await seed_library(web)
        staff = await make_admin(web, "Staff", role="staff")
        get = web.client.get
        assert titles(await get("/api/videos/?ordering=title")) == ["Alpha cats", "Delta"]
        bob_sees = await get("/api/videos/?ordering=title", headers=auth(lib["bob"]))
        assert titles(bob_sees) == ["Alpha cats", "Delta"]
        alice_sees = await get("/api/videos/?ordering=title", headers=auth(lib["alice"]))
        assert titles(alice_sees) == ["Alpha cats", "Beta dogs", "Delta", "Gamma birds"]
        staff_sees = await get("/api/videos/?ordering=-title", headers=auth(staff))
        assert titles(staff_sees) == ["Gamma birds", "Delta", "Beta dogs", "Alpha cats"]
        # Newest first by default.
        assert titles(await get("/api/videos/"))[0] == "Delta"


async def test_list_search_filters_ordering_and_pagination(db_path: Path) -> None:
    async with run_videos(db_path) as web:
        lib = await seed_library(web)
        alice = auth(lib["alice"])
        get = web.client.get
        assert titles(await get("/api/videos/?search=cats&ordering=title")) == [
            "Alpha cats",
            "Delta",
        ]
        assert titles(await get("/api/videos/?search=CATS+dogs")) == ["Delta"]
        assert titles(await get("/api/videos/?search=purr")) == ["Alpha cats"]
        assert titles(await get("/api/videos/?search=100%25")) == []
        assert titles(await get("/api/videos/?is_premium=true")) == ["Delta"]
        assert titles(await get("/api/videos/?is_premium=false")) == ["Alpha cats"]
        mine = await get("/api/videos/?owner=me&ordering=title", headers=alice)
        assert titles(mine) == ["Alpha cats", "Beta dogs", "Gamma birds"]
        bobs = await get(f"/api/videos/?owner={lib['bob']['user']['id']}")
        assert titles(bobs) == ["Delta"]
        assert titles(await get("/api/videos/?visibility=private", headers=alice)) == [
            "Gamma birds"
        ]
        assert titles(await get("/api/videos/?visibility=private")) == []
        assert_error(await get("/api/videos/?owner=me"), 401, "authentication_required")
        assert_error(await get("/api/videos/?ordering=size"), 422, "validation_error")
        assert_error(await get("/api/videos/?visibility=hidden"), 422, "validation_error")

        # Views and likes order.
        delta = lib["delta"]
        await web.client.get(path_of(delta["stream_url"]))
        await web.client.get(path_of(delta["stream_url"]))
        await web.client.get(path_of(lib["alpha"]["stream_url"]))
        assert titles(await get("/api/videos/?ordering=-views")) == ["Delta", "Alpha cats"]
        assert titles(await get("/api/videos/?ordering=views")) == ["Alpha cats", "Delta"]
        await web.client.post(
            f"/api/videos/{lib['alpha']['id']}/like/", json={"is_like": True}, headers=alice
        )
        assert titles(await get("/api/videos/?ordering=-likes")) == ["Alpha cats", "Delta"]

        first = await get("/api/videos/?page_size=2&ordering=title", headers=alice)
        page = first.json()
        assert page["count"] == 4
        assert [v["title"] for v in page["results"]] == ["Alpha cats", "Beta dogs"]
        assert page["previous"] is None
        assert page["next"].endswith("page_size=2&ordering=title&page=2")
        second = await get(path_of(page["next"]), headers=alice)
        assert titles(second) == ["Delta", "Gamma birds"]
        assert second.json()["next"] is None
        assert_error(await get("/api/videos/?page=3&page_size=2", headers=alice), 404)


async def test_detail_follows_visibility(db_path: Path) -> None:
    async with run_videos(db_path) as web:
        lib = await seed_library(web)
        admin = await make_admin(web)
        get = web.client.get
        for key in ("alpha", "beta"):
            assert (await get(f"/api/videos/{lib[key]['id']}/")).status_code == 200
        gamma = f"/api/videos/{lib['gamma']['id']}/"
        assert_error(await get(gamma), 401, "authentication_required")
        assert_error(await get(gamma, headers=auth(lib["bob"])), 403, "private_video")
        assert (await get(gamma, headers=auth(lib["alice"]))).status_code == 200
        as_admin = await get(gamma, headers=auth(admin))
        assert as_admin.status_code == 200
        assert as_admin.json()["can_edit"] is True
        assert_error(await get("/api/videos/" + "0" * 32 + "/"), 404, "video_not_found")
        assert_error(await get("/api/videos/not-an-id/"), 404, "video_not_found")
        assert_error(await get("/api/videos/comments/x/"), 404)


async def test_update_by_owner_or_admin_only(db_path: Path) -> None:
    async with run_videos(db_path) as web:
        lib = await seed_library(web)
        admin = await make_admin(web)
        url = f"/api/videos/{lib['alpha']['id']}/"
        web.clock.advance(60)
        changed = await web.client.patch(
            url,
            json={"title": "Alpha kittens", "visibility": "private", "allow_download": True},
            headers=auth(lib["alice"]),
        )
        assert changed.status_code == 200, changed.text
        body = changed.json()
        assert (body["title"], body["visibility"], body["allow_download"]) == (
            "Alpha kittens",
            "private",
            True,
        )
        assert body["description"] == "purring"
        assert body["updated_at"] > body["created_at"]
        refused = await web.client.patch(url, json={"title": "Mine"}, headers=auth(lib["bob"]))
        assert_error(refused, 403, "private_video")
        await web.client.patch(url, json={"visibility": "public"}, headers=auth(lib["alice"]))
        refused = await web.client.put(url, json={"title": "Mine"}, headers=auth(lib["bob"]))
        assert_error(refused, 403, "forbidden")
        by_admin = await web.client.put(url, json={"is_premium": True}, headers=auth(admin))
        assert by_admin.status_code == 200
        assert by_admin.json()["is_premium"] is True
        assert_error(await web.client.patch(url, json={"title": "x"}), 401)
        invalid = await web.client.patch(
            url, json={"visibility": "hidden", "title": " "}, headers=auth(lib["alice"])
        )
        assert_error(invalid, 422, "validation_error")
        strict = await web.client.patch(
            url, json={"allow_download": "yes"}, headers=auth(lib["alice"])
        )
        assert_error(strict, 422, "validation_error")
        missing = await web.client.patch(
            "/api/videos/" + "f" * 32 + "/", json={}, headers=auth(lib["alice"])
        )
        assert_error(missing, 404, "video_not_found")


async def test_delete_removes_the_file_by_owner_or_admin(db_path: Path) -> None:
    async with run_videos(db_path) as web:
        lib = await seed_library(web)
        admin = await make_admin(web)
        alpha, delta = lib["alpha"]["id"], lib["delta"]["id"]
        assert f"{alpha}.mp4" in media_files(web)
        refused = await web.client.delete(f"/api/videos/{alpha}/", headers=auth(lib["bob"]))
        assert_error(refused, 403, "forbidden")
        gone = await web.client.delete(f"/api/videos/{alpha}/", headers=auth(lib["alice"]))
        assert gone.status_code == 204
        assert f"{alpha}.mp4" not in media_files(web)
        assert_error(await web.client.get(f"/api/videos/{alpha}/"), 404, "video_not_found")
        again = await web.client.delete(f"/api/videos/{alpha}/", headers=auth(lib["alice"]))
        assert_error(again, 404, "video_not_found")
        by_admin = await web.client.delete(f"/api/videos/{delta}/", headers=auth(admin))
        assert by_admin.status_code == 204
        assert f"{delta}.mp4" not in media_files(web)
        assert len(media_files(web)) == 2


async def test_premium_flag_is_set_by_admins(db_path: Path) -> None:
    async with run_videos(db_path) as web:
        user, admin = await web.register("User"), await make_admin(web)
        staff = await make_admin(web, "Staff", role="staff")
        url = f"/api/admin/users/{user['user']['id']}/premium/"
        refused = await web.client.put(url, json={"is_premium": True}, headers=auth(user))
        assert_error(refused, 403, "forbidden")
        refused = await web.client.put(url, json={"is_premium": True}, headers=auth(staff))
        assert_error(refused, 403, "forbidden")
        done = await web.client.put(url, json={"is_premium": True}, headers=auth(admin))
        assert done.status_code == 200
        assert done.json() == {"user_id": user["user"]["id"], "is_premium": True}
        unknown = await web.client.put(
            "/api/admin/users/nobody/premium/", json={"is_premium": True}, headers=auth(admin)
        )
        assert_error(unknown, 404, "user_not_found")
        invalid = await web.client.put(url, json={"is_premium": 1}, headers=auth(admin))
        assert_error(invalid, 422, "validation_error")


async def test_duration_comes_from_ffprobe(db_path: Path) -> None:
    # A missing ffprobe is a failure, not a skip: the README's test command installs ffmpeg.
    assert shutil.which("ffprobe"), "ffprobe is not installed (Debian: apt-get install ffmpeg)"
    async with run_videos(db_path, ffprobe_path="ffprobe") as web:
        owner = await web.register()
        video = await uploaded(web, owner, TINY_MP4)
        assert video["duration_s"] == pytest.approx(1.0, abs=0.1)


async def test_a_missing_or_failing_ffprobe_leaves_the_duration_unknown(db_path: Path) -> None:
    async with run_videos(db_path, ffprobe_path=str(db_path.parent / "no-ffprobe")) as web:
        owner = await web.register()
        assert (await uploaded(web, owner))["duration_s"] is None
    failing = db_path.parent / "failing-ffprobe"
    failing.write_text("#!/bin/sh\necho broken >&2\nexit 1\n")
    failing.chmod(0o755)
    async with run_videos(db_path, ffprobe_path=str(failing)) as web:
        owner = await web.register()
        assert (await uploaded(web, owner, fake_mp4(2048)))["duration_s"] is None


async def test_a_client_that_goes_away_mid_upload_leaves_nothing(db_path: Path) -> None:
    async with run_videos(db_path) as web:
        owner = await web.register()
        boundary = "b"
        started = trio.Event()

        async def body() -> AsyncIterator[bytes]:
            yield (
                f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
                'filename="a.mp4"\r\n\r\n'
            ).encode() + fake_mp4(64 * 1024)
            started.set()
            await trio.sleep_forever()
            yield b""  # pragma: no cover

        async def send() -> None:
            headers = {**auth(owner), "Content-Type": f"multipart/form-data; boundary={boundary}"}
            async with httpx.AsyncClient(base_url=web.url) as client, aclosing(body()) as stream:
                await client.post("/api/videos/", content=stream, headers=headers)

        with trio.fail_after(10):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(send)
                await started.wait()
                while not any(name.endswith(".part") for name in media_files(web)):
                    await trio.sleep(0.01)
                nursery.cancel_scope.cancel()
            while media_files(web):
                await trio.sleep(0.01)
