"""Rooms play library videos: ``change-video`` by ``video_id`` over REST, the rule
of :func:`data.videos.media_for_room`, and end to end with the real sync server: a
socket client is handed a stream URL that answers a Range request with 206."""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from data import videos as video_store
from sync_server.control import LocalRoomControl

from .conftest import run_server
from .video_helpers import fake_mp4, run_videos, uploaded
from .web_helpers import assert_error, auth


async def test_change_video_by_id(db_path: Path) -> None:
    async with run_videos(db_path) as web:
        owner, stranger = await web.register("Owner"), await web.register("Stranger")
        room = await web.create_room(owner)
        url = f"/api/rooms/{room['code']}/change-video/"
        film = await uploaded(web, stranger, title="Film", visibility="unlisted")
        await web.db.write(
            lambda conn: conn.execute(
                "UPDATE videos SET duration_s = 12.5 WHERE id = ?", [film["id"]]
            )
        )
        changed = await web.client.post(url, json={"video_id": film["id"]}, headers=auth(owner))
        assert changed.status_code == 200, changed.text
        assert changed.json()["playback"]["media"] == {
            "url": f"/api/videos/{film['id']}/stream/",
            "title": "Film",
            "duration_s": 12.5,
            "video_id": film["id"],
        }

        private = await uploaded(web, owner, visibility="private")
        refused = await web.client.post(url, json={"video_id": private["id"]}, headers=auth(owner))
        error = assert_error(refused, 403, "video_private")
        assert error["details"] == [{"field": "video_id", "message": "private video"}]
        unknown = await web.client.post(url, json={"video_id": "0" * 32}, headers=auth(owner))
        assert_error(unknown, 404, "video_not_found")
        both = await web.client.post(
            url,
            json={"video_id": film["id"], "video_url": "https://example.org/v.mp4"},
            headers=auth(owner),
        )
        assert_error(both, 422, "validation_error")
        neither = await web.client.post(url, json={"title": "x"}, headers=auth(owner))
        assert_error(neither, 422, "validation_error")
        assert_error(await web.client.post(url, json={"video_id": film["id"]}), 401)
        # Room rights still apply: a stranger may not change the owner's room.
        not_yours = await web.client.post(
            url, json={"video_id": film["id"]}, headers=auth(stranger)
        )
        assert_error(not_yours, 403, "forbidden")
        # URLs still work.
        by_url = await web.client.post(
            url, json={"video_url": "https://example.org/v.mp4"}, headers=auth(owner)
        )
        assert by_url.json()["playback"]["media"]["url"] == "https://example.org/v.mp4"


async def test_media_for_room(db_path: Path) -> None:
    async with run_videos(db_path) as web:
        owner = await web.register()
        videos = {
            v: await uploaded(web, owner, title=v.title(), visibility=v)
            for v in ("public", "unlisted", "private")
        }
        user_id = owner["user"]["id"]
        for visibility in ("public", "unlisted"):
            vid = videos[visibility]["id"]
            media = await web.db.read(video_store.media_for_room, vid, None)
            assert media == {
                "url": f"/api/videos/{vid}/stream/",
                "title": visibility.title(),
                "duration_s": None,
                "video_id": vid,
            }
        private = videos["private"]["id"]
        # Private videos are refused for everyone, their owner included.
        assert await web.db.read(video_store.media_for_room, private, user_id) is None
        assert await web.db.read(video_store.media_for_room, "0" * 32, user_id) is None
        assert await web.db.read(video_store.media_for_room, "../etc", None) is None


async def test_socket_client_gets_a_stream_url_that_answers_ranges(db_path: Path) -> None:
    content = fake_mp4(50_000)
    async with run_server(db_path) as srv:
        control = LocalRoomControl(srv.server)
        async with run_videos(
            db_path, rooms=control, db=srv.db, clock=time.time, public_sync_url=srv.url
        ) as web:
            owner, viewer = await web.register("Owner"), await web.register("Viewer")
            video = await uploaded(web, owner, content, title="Library film")
            room = await web.create_room(owner)
            code = room["code"]
            async with srv.client(code, token=viewer["access"]) as socket:
                changed = await web.client.post(
                    f"/api/rooms/{code}/change-video/",
                    json={"video_id": video["id"]},
                    headers=auth(owner),
                )
                assert changed.status_code == 200, changed.text
                event = await socket.wait_for("playback")
                media = event["state"]["media"]
                assert media["url"] == f"/api/videos/{video['id']}/stream/"
                assert media["title"] == "Library film"
                assert event["seq"] == changed.json()["seq"]

                # The player resolves the path against the web app and seeks.
                async with httpx.AsyncClient(base_url=web.url) as player:
                    part = await player.get(media["url"], headers={"Range": "bytes=1000-1999"})
                assert part.status_code == 206
                assert part.headers["Content-Range"] == "bytes 1000-1999/50000"
                assert part.content == content[1000:2000]


async def test_change_media_by_video_id_on_the_socket(db_path: Path) -> None:
    """The socket's change_media with video_id follows the REST rule: public and
    unlisted videos play, private and unknown ones are one not_found, and only those
    who may control the room may do it."""
    import pytest

    from sync_server.client import ServerError

    async with run_server(db_path) as srv:
        control = LocalRoomControl(srv.server)
        async with run_videos(
            db_path, rooms=control, db=srv.db, clock=time.time, public_sync_url=srv.url
        ) as web:
            owner, viewer = await web.register("Owner"), await web.register("Viewer")
            film = await uploaded(web, owner, title="Socket film", visibility="unlisted")
            secret = await uploaded(web, owner, title="Secret", visibility="private")
            room = await web.create_room(owner)
            code = room["code"]
            async with (
                srv.client(code, token=owner["access"]) as host,
                srv.client(code, token=viewer["access"]) as other,
            ):
                ack = await host.request({"type": "change_media", "video_id": film["id"]})
                media = ack["playback"]["media"]
                assert media["url"] == f"/api/videos/{film['id']}/stream/"
                assert (media["title"], media["video_id"]) == ("Socket film", film["id"])
                event = await other.wait_for("playback")
                assert event["state"]["media"] == media

                for missing in (secret["id"], "0" * 32):
                    with pytest.raises(ServerError) as refused:
                        await host.request({"type": "change_media", "video_id": missing})
                    assert refused.value.code == "not_found"
                with pytest.raises(ServerError) as forbidden:
                    await other.request({"type": "change_media", "video_id": film["id"]})
                assert forbidden.value.code == "forbidden"
                with pytest.raises(ServerError) as both:
                    await host.request(
                        {
                            "type": "change_media",
                            "video_id": film["id"],
                            "media": {"url": "https://example.org/x.mp4"},
                        }
                    )
                assert both.value.code == "invalid_message"
                # A client cannot claim a library video for an arbitrary URL.
                ack = await host.request(
                    {
                        "type": "change_media",
                        "media": {"url": "https://example.org/x.mp4", "video_id": film["id"]},
                    }
                )
                assert "video_id" not in ack["playback"]["media"]
