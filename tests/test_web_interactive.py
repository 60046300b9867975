"""Polls over REST against the real sync server: open, list, vote (and change the
vote), results, close, the permission rules, and what a socket member sees of it."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sync_server.control import LocalRoomControl

from .conftest import ServerHandle, run_server
from .web_helpers import WebHandle, assert_error, auth, run_web


@asynccontextmanager
async def stack(db_path: Path) -> AsyncIterator[tuple[ServerHandle, WebHandle]]:
    async with run_server(db_path) as srv:
        control = LocalRoomControl(srv.server)
        async with run_web(
            db_path, rooms=control, db=srv.db, clock=time.time, public_sync_url=srv.url
        ) as web:
            yield srv, web


POLL = {"question": "Next film?", "options": ["Sintel", "Tears of Steel"]}


async def test_polls_over_rest(db_path: Path) -> None:
    async with stack(db_path) as (srv, web):
        owner, viewer = await web.register("Owner"), await web.register("Viewer")
        code = (await web.create_room(owner))["code"]
        base = f"/api/interactive/parties/{code}/polls/"
        async with (
            srv.client(code, token=owner["access"]),  # the host, as the owner joins first
            srv.client(code, token=viewer["access"]) as member,
        ):
            created = await web.client.post(base, json=POLL, headers=auth(owner))
            assert created.status_code == 201, created.text
            poll = created.json()
            assert poll["party_id"] == code
            assert poll["status"] == "open"
            assert poll["created_by_name"] == "Owner"
            assert poll["results"] == {"counts": [0, 0], "voter_count": 0, "voters": [[], []]}
            opened = await member.wait_for("poll_opened")
            assert opened["poll"]["id"] == poll["id"]

            # A vote over REST and one on the socket count together, live.
            url = f"/api/interactive/polls/{poll['id']}/"
            voted = await web.client.post(
                url + "respond/", json={"choices": [1]}, headers=auth(owner)
            )
            assert voted.status_code == 200, voted.text
            assert voted.json() == {"poll_id": poll["id"], "choices": [1]}
            await member.request({"type": "poll_vote", "poll_id": poll["id"], "choices": [0]})
            await member.wait_for("poll_results", lambda m: m["results"]["counts"] == [1, 1])
            results = (await web.client.get(url + "results/")).json()["results"]
            assert results["counts"] == [1, 1]
            assert {v["name"] for o in results["voters"] for v in o} == {"Owner", "Viewer"}
            # The viewer's account votes again over REST: its vote moves.
            await web.client.post(url + "respond/", json={"choices": [1]}, headers=auth(viewer))
            assert (await web.client.get(url)).json()["results"]["counts"] == [0, 2]

            # Viewers may not open polls (the default "cohosts"), nor close the owner's.
            assert_error(
                await web.client.post(base, json=POLL, headers=auth(viewer)), 403, "forbidden"
            )
            assert_error(
                await web.client.post(url + "close/", headers=auth(viewer)), 403, "forbidden"
            )
            closed = await web.client.post(url + "close/", headers=auth(owner))
            assert closed.status_code == 200, closed.text
            body = closed.json()
            assert (body["status"], body["close_reason"]) == ("closed", "closed")
            assert body["results"]["counts"] == [0, 2]
            final = await member.wait_for("poll_closed")
            assert final["poll"]["results"]["counts"] == [0, 2]

            assert_error(
                await web.client.post(url + "respond/", json={"choices": [0]}, headers=auth(owner)),
                409,
                "poll_closed",
            )
            assert_error(await web.client.post(url + "close/", headers=auth(owner)), 409)

        listed = (await web.client.get(base)).json()
        assert listed["count"] == 1
        (item,) = listed["results"]
        assert (item["id"], item["status"], item["results"]["counts"]) == (
            poll["id"],
            "closed",
            [0, 2],
        )


async def test_bad_poll_requests(db_path: Path) -> None:
    async with stack(db_path) as (_, web):
        owner = await web.register("Owner")
        code = (await web.create_room(owner))["code"]
        base = f"/api/interactive/parties/{code}/polls/"
        assert_error(await web.client.post(base, json=POLL), 401)
        for bad in (
            {**POLL, "options": ["one"]},
            {**POLL, "options": ["a", "A"]},
            {**POLL, "question": ""},
            {**POLL, "duration_s": 0},
            {**POLL, "options": [str(i) for i in range(11)]},
        ):
            response = await web.client.post(base, json=bad, headers=auth(owner))
            assert response.status_code == 422, (bad, response.text)
        poll: dict[str, Any] = (await web.client.post(base, json=POLL, headers=auth(owner))).json()
        url = f"/api/interactive/polls/{poll['id']}/respond/"
        for choices in ([2], [0, 1], [0, 0]):
            response = await web.client.post(url, json={"choices": choices}, headers=auth(owner))
            assert_error(response, 422)
        assert_error(await web.client.get("/api/interactive/polls/999999/"), 404, "poll_not_found")
        assert_error(
            await web.client.get("/api/interactive/parties/no-such-room/polls/"),
            404,
            "room_not_found",
        )


async def test_reactions_over_rest(db_path: Path) -> None:
    async with stack(db_path) as (srv, web):
        owner, viewer = await web.register("Owner"), await web.register("Viewer")
        room = await web.create_room(owner, media={"url": "https://example.org/v.mp4"})
        code = room["code"]
        async with srv.client(code, token=viewer["access"]) as member:
            await member.request({"type": "reaction", "emoji": "😂"})
        # Stored by the room's timer within a second; the party's list shows it then.
        await srv.server.store_pending_reactions()
        listed = (await web.client.get(f"/api/interactive/parties/{code}/reactions/")).json()
        assert listed["count"] == 1
        (reaction,) = listed["results"]
        assert (reaction["emoji"], reaction["display_name"], reaction["position_s"]) == (
            "😂",
            "Viewer",
            0.0,
        )
        timeline = (
            await web.client.get(f"/api/interactive/parties/{code}/reactions/timeline/")
        ).json()
        assert timeline == {
            "media_key": "url:https://example.org/v.mp4",
            "bucket_s": 1,
            "counts": [[0, "😂", 1]],
        }
        assert_error(
            await web.client.get(f"/api/interactive/videos/{'0' * 32}/reactions/timeline/"),
            404,
            "video_not_found",
        )


async def test_queue_over_rest(db_path: Path) -> None:
    async with stack(db_path) as (srv, web):
        owner, viewer = await web.register("Owner"), await web.register("Viewer")
        room = await web.create_room(owner, media={"url": "https://example.org/v.mp4"})
        code = room["code"]
        base = f"/api/interactive/parties/{code}/queue/"
        async with (
            srv.client(code, token=owner["access"]),
            srv.client(code, token=viewer["access"]) as member,
        ):
            added = await web.client.post(
                base,
                json={"url": "https://example.org/a.mp4", "title": "A", "duration_s": 5.0},
                headers=auth(viewer),
            )
            assert added.status_code == 201, added.text
            queue = added.json()["queue"]
            assert [i["media"]["title"] for i in queue["items"]] == ["A"]
            assert queue["items"][0]["added_by_name"] == "Viewer"
            event = await member.wait_for("queue_changed")
            assert event["seq"] == added.json()["seq"]
            b = await web.client.post(base, json={"url": "/static/b.webm"}, headers=auth(owner))
            b_id = b.json()["queue"]["items"][-1]["id"]
            version = b.json()["queue"]["version"]

            for bad in (
                {"url": "javascript:alert(1)"},
                {"url": "https://example.org/x.mp4", "video_id": "0" * 32},
                {},
            ):
                assert_error(await web.client.post(base, json=bad, headers=auth(owner)), 422)
            assert_error(
                await web.client.post(base, json={"video_id": "0" * 32}, headers=auth(owner)),
                404,
                "not_found",
            )
            move = f"{base}{b_id}/move/"
            stale = await web.client.post(
                move, json={"to_index": 0, "version": version - 1}, headers=auth(owner)
            )
            assert_error(stale, 409, "stale_queue")
            assert_error(
                await web.client.post(
                    move, json={"to_index": 0, "version": version}, headers=auth(viewer)
                ),
                403,
                "forbidden",
            )
            moved = await web.client.post(
                move, json={"to_index": 0, "version": version}, headers=auth(owner)
            )
            assert [i["media"]["url"] for i in moved.json()["queue"]["items"]] == [
                "/static/b.webm",
                "https://example.org/a.mp4",
            ]
            assert_error(
                await web.client.delete(f"{base}{b_id}/", headers=auth(viewer)), 403, "forbidden"
            )
            # Two connected, ratio 0.5: one vote skips; a second vote is refused.
            voted = await web.client.post(f"{base}vote-skip/", headers=auth(viewer))
            assert voted.status_code == 200, voted.text
            playback = await member.wait_for("playback", lambda m: m["action"] == "vote_skip")
            assert playback["state"]["media"]["url"] == "/static/b.webm"
            skipped = await web.client.post(f"{base}skip/", headers=auth(owner))
            assert skipped.json()["queue"]["items"] == []
            assert_error(await web.client.post(f"{base}skip/", headers=auth(owner)), 422)
            assert (await web.client.get(base)).json()["version"] == skipped.json()["queue"][
                "version"
            ]


async def test_audit_log_over_rest(db_path: Path) -> None:
    async with stack(db_path) as (srv, web):
        owner, viewer = await web.register("Owner"), await web.register("Viewer")
        room = await web.create_room(owner, media={"url": "https://example.org/v.mp4"})
        code = room["code"]
        async with (
            srv.client(code, token=owner["access"]) as host,
            srv.client(code, token=viewer["access"]) as member,
        ):
            await host.request({"type": "mute", "participant_id": member.participant_id})
            played = await web.client.post(
                f"/api/rooms/{code}/control/", json={"action": "play"}, headers=auth(owner)
            )
            assert played.status_code == 200, played.text
        url = f"/api/interactive/parties/{code}/audit/"
        assert_error(await web.client.get(url), 401)
        assert_error(await web.client.get(url, headers=auth(viewer)), 403, "forbidden")
        page = (await web.client.get(url, headers=auth(owner))).json()
        assert page["count"] == 2
        newest, oldest = page["results"]
        assert (oldest["action"], oldest["actor_name"], oldest["target"]) == (
            "mute",
            "Owner",
            member.participant_id,
        )
        assert (newest["action"], newest["actor_user_id"]) == ("play", owner["user"]["id"])
