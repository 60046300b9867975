"""The web app driving the real sync server (``LocalRoomControl``), one database:
REST-created rooms are live on the socket, REST actions reach socket clients, and
REST history shows socket chat."""

from __future__ import annotations

import time
from pathlib import Path

from sync_server.control import LocalRoomControl

from .conftest import run_server
from .web_helpers import assert_error, auth, run_web

MEDIA = {"url": "https://example.org/film.mp4", "title": "Film", "duration_s": 600.0}


async def test_rest_and_socket_together(db_path: Path) -> None:
    async with run_server(db_path) as srv:
        control = LocalRoomControl(srv.server)
        async with run_web(
            db_path, rooms=control, db=srv.db, clock=time.time, public_sync_url=srv.url
        ) as web:
            owner, viewer = await web.register("Owner"), await web.register("Viewer")
            room = await web.create_room(owner, media=MEDIA, entry_mode="password", password="pass")
            code = room["code"]
            assert room["playback"]["media"]["url"] == MEDIA["url"]
            joined = await web.client.post(
                "/api/rooms/join/",
                json={"room_code": code, "password": "pass"},
                headers=auth(viewer),
            )
            assert joined.status_code == 200
            assert joined.json()["room"]["sync_url"] == srv.url

            async with srv.client(code, token=viewer["access"]) as socket:
                detail = (await web.client.get(f"/api/rooms/{code}/")).json()
                assert [p["name"] for p in detail["participants"]] == ["Viewer"]
                assert detail["participants"][0]["user_id"] == viewer["user"]["id"]

                # The owner has host rights over REST without being connected.
                played = await web.client.post(
                    f"/api/rooms/{code}/control/",
                    json={"action": "play", "position": 3},
                    headers=auth(owner),
                )
                assert played.status_code == 200
                event = await socket.wait_for("playback")
                assert event["state"]["paused"] is False
                assert event["seq"] == played.json()["seq"]

                # A member with no participant acts as a viewer: refused under
                # control=cohosts, here as on the socket.
                other = await web.register("Other")
                await web.client.post(
                    "/api/rooms/join/",
                    json={"room_code": code, "password": "pass"},
                    headers=auth(other),
                )
                refused = await web.client.post(
                    f"/api/rooms/{code}/control/", json={"action": "pause"}, headers=auth(other)
                )
                assert_error(refused, 403, "forbidden")

                message_id = await socket.chat("hello from the socket")
                history = (await web.client.get(f"/api/rooms/{code}/messages/")).json()
                assert history["count"] == 1
                assert history["results"][0]["id"] == message_id
                assert history["results"][0]["user_id"] == viewer["user"]["id"]

                left = await web.client.delete(f"/api/rooms/{code}/leave/", headers=auth(viewer))
                assert left.status_code == 204
                await socket.wait_closed()
            detail = (await web.client.get(f"/api/rooms/{code}/")).json()
            assert detail["participants"] == []


async def test_socket_honours_logout_and_room_entry_rules(db_path: Path) -> None:
    from trio_websocket import ConnectionClosed, open_websocket_url

    from protocol.codec import decode, encode
    from protocol.messages import PROTOCOL_VERSION

    async def hello_outcome(url: str, hello: dict) -> tuple[dict, int | None]:
        async with open_websocket_url(url, subprotocols=["watchparty.v1.json"]) as ws:
            await ws.send_message(
                encode({"type": "hello", "protocol": PROTOCOL_VERSION, **hello}, "json")
            )
            first = decode(await ws.get_message(), "json")
            try:
                while True:
                    await ws.get_message()
            except ConnectionClosed as exc:
                return first, exc.reason.code if exc.reason else None

    async with run_server(db_path) as srv:
        control = LocalRoomControl(srv.server)
        async with run_web(
            db_path, rooms=control, db=srv.db, clock=time.time, public_sync_url=srv.url
        ) as web:
            owner, member = await web.register("Owner"), await web.register("Member")
            room = await web.create_room(owner, entry_mode="password", password="secret")
            code = room["code"]

            # Not admitted yet: the socket refuses the account, and guests without one.
            first, close = await hello_outcome(srv.url, {"room": code, "token": member["access"]})
            assert (first["code"], close) == ("forbidden", 4003)
            first, close = await hello_outcome(srv.url, {"room": code, "display_name": "Anon"})
            assert (first["code"], close) == ("forbidden", 4003)

            joined = await web.client.post(
                "/api/rooms/join/",
                json={"room_code": code, "password": "secret"},
                headers=auth(member),
            )
            assert joined.status_code == 200
            async with srv.client(code, token=member["access"]) as socket:
                assert socket.welcome["participant"]["user_id"] == member["user"]["id"]
            # The owner needs no admission.
            async with srv.client(code, token=owner["access"]) as host:
                assert host.welcome["participant"]["role"] == "host"

            # After logout the same access token no longer opens the socket.
            out = await web.client.post("/api/auth/logout/", headers=auth(member))
            assert out.status_code == 204
            first, close = await hello_outcome(srv.url, {"room": code, "token": member["access"]})
            assert (first["code"], close) == ("auth_failed", 4001)
            assert "revoked" in first["message"]


async def test_login_and_guest_tokens_join_on_the_socket(db_path: Path) -> None:
    async with run_server(db_path) as srv:
        control = LocalRoomControl(srv.server)
        async with run_web(
            db_path, rooms=control, db=srv.db, clock=time.time, public_sync_url=srv.url
        ) as web:
            account = await web.register("Member", email="member@example.org")
            login = await web.client.post(
                "/api/auth/login/",
                json={"email": "member@example.org", "password": account["password"]},
            )
            assert login.status_code == 200
            guest = await web.guest("Visitor")
            room = await web.create_room(login.json(), name="Tokens")
            code = room["code"]
            async with (
                srv.client(code, token=login.json()["access"]) as member,
                srv.client(code, token=guest["access"]) as visitor,
            ):
                assert member.welcome["participant"]["user_id"] == account["user"]["id"]
                assert member.welcome["participant"]["guest"] is False
                assert member.welcome["participant"]["role"] == "host"  # the owner
                assert visitor.welcome["participant"]["user_id"] == guest["user"]["id"]
                assert visitor.welcome["participant"]["guest"] is True
                assert visitor.welcome["participant"]["name"] == "Visitor"
                joined = await member.wait_for("participant_joined")
                assert joined["participant"]["id"] == visitor.participant_id
