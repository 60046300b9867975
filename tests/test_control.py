"""The room control interface: the same operations in one process and over the
control socket, applied exactly as the same actions on the sync socket."""

from __future__ import annotations

import pytest
import trio
from trio_websocket import ConnectionRejected, open_websocket_url

from sync_server.control import (
    ControlError,
    LocalRoomControl,
    issue_service_token,
    open_remote_room_control,
)

MEDIA = {"url": "https://example.org/x.mp4", "title": "x", "duration_s": 100.0}


@pytest.fixture(params=["local", "remote"])
async def control(request, srv):
    if request.param == "local":
        yield LocalRoomControl(srv.server)
        return
    url = f"ws://127.0.0.1:{srv.server.port}/control"
    async with open_remote_room_control(url, srv.server.secret) as remote:
        yield remote


async def test_create_act_and_read_a_room(control, srv):
    room = await control.create_room(name="Over control", owner_user_id="u1", media=MEDIA)
    code = room["code"]
    assert room["owner_user_id"] == "u1"
    assert room["playback"]["media"]["url"] == MEDIA["url"]
    async with srv.client(code, "bob") as bob:
        result = await control.act(code, user_id="u1", action={"type": "play", "position_s": 5.0})
        event = await bob.wait_for("playback")
        assert event["state"]["paused"] is False
        assert event["by"] == "user:u1"
        assert event["seq"] == result["seq"]
        assert result["playback"] == event["state"]
        detail = await control.get_room(code)
        assert detail["participant_count"] == 1
        assert [p["name"] for p in detail["participants"]] == ["bob"]
        codes = {r["code"] for r in await control.list_rooms()}
        assert codes == {"room1", code}


async def test_permissions_match_the_socket(control, srv):
    room = await control.create_room(name="Strict", owner_user_id="owner", media=MEDIA)
    code = room["code"]
    async with srv.client(code, "first") as first:
        # A user with no participant acts as a viewer: refused under control=cohosts.
        with pytest.raises(ControlError) as refused:
            await control.act(code, user_id="stranger", action={"type": "pause"})
        assert refused.value.code == "forbidden"
        # The socket refuses the same thing to a viewer.
        async with srv.client(code, "viewer") as viewer:
            with pytest.raises(Exception, match="forbidden"):
                await viewer.pause()
        await first.request({"type": "update_settings", "settings": {"control": "everyone"}})
        result = await control.act(code, user_id="stranger", action={"type": "pause"})
        assert result["playback"]["paused"] is True


async def test_errors_are_typed(control):
    with pytest.raises(ControlError) as missing:
        await control.get_room("nosuchroom")
    assert missing.value.code == "room_not_found"
    with pytest.raises(ControlError) as bad:
        await control.act("room1", user_id="u", action={"type": "dance"})
    assert bad.value.code == "invalid_message"
    room = await control.create_room(name="Empty", owner_user_id="o")
    with pytest.raises(ControlError) as no_media:
        await control.act(room["code"], user_id="o", action={"type": "play"})
    assert no_media.value.code == "no_media"
    with pytest.raises(ControlError) as taken:
        await control.create_room(name="Again", code="room1")
    assert taken.value.code == "invalid_message"


async def test_remove_user_and_delete_room(control, srv):
    token = srv.token("u-9", "Nine")
    async with srv.client("room1", "host") as host, srv.client("room1", token=token) as nine:
        assert await control.remove_user("room1", "u-9") == 1
        left = await host.wait_for("participant_left")
        assert left["participant_id"] == nine.participant_id
        assert await nine.wait_closed() == 1000
        assert await control.remove_user("room1", "u-9") == 0
        assert await control.delete_room("room1") is True
        assert await host.wait_closed() == 4013
    with pytest.raises(ControlError):
        await control.get_room("room1")


async def test_control_socket_requires_a_service_token(srv):
    url = f"ws://127.0.0.1:{srv.server.port}/control"
    with pytest.raises(ConnectionRejected) as rejected:
        async with open_websocket_url(url):
            pass
    assert rejected.value.status_code == 401
    forged = issue_service_token("x" * 40, now_s=srv.server.now_ms() / 1000)
    with pytest.raises(ConnectionRejected) as rejected:
        async with open_websocket_url(url, extra_headers=[("Authorization", f"Bearer {forged}")]):
            pass
    assert rejected.value.status_code == 401
    # A forged key through the client surfaces as "unavailable", not as a crash.
    async with open_remote_room_control(url, "y" * 40, timeout_s=2) as remote:
        with pytest.raises(ControlError) as err:
            await remote.list_rooms()
    assert err.value.code == "unavailable"


async def test_unreachable_sync_server_is_unavailable():
    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    port = listeners[0].socket.getsockname()[1]
    for listener in listeners:
        await listener.aclose()
    url = f"ws://127.0.0.1:{port}/control"
    async with open_remote_room_control(url, "z" * 40, timeout_s=2) as remote:
        with pytest.raises(ControlError) as err:
            await remote.get_room("room1")
    assert err.value.code == "unavailable"


async def test_join_requests_reach_the_host_and_the_owner_only(control, srv):
    room = await control.create_room(name="Approval", owner_user_id="owner", media=MEDIA)
    code = room["code"]
    owner_token = srv.token("owner", "Owner")
    async with (
        srv.client(code, "guest") as guest,
        srv.client(code, token=owner_token) as owner,
        srv.client(code, "viewer") as viewer,
    ):
        assert owner.welcome["participant"]["role"] == "host"  # the owner takes the host
        await owner.request(
            {"type": "set_role", "participant_id": guest.participant_id, "role": "host"}
        )
        await guest.wait_for("host_changed")
        told = await control.notify_join_request(
            code, user_id="a" * 32, display_name="<b>Dana</b>", requested_at_ms=1.5e12
        )
        assert told == 2  # the host (guest) and the owner's connection (now not host)
        for client in (guest, owner):
            notice = await client.wait_for("join_request")
            assert notice == {
                "type": "join_request",
                "room": code,
                "status": "pending",
                "user_id": "a" * 32,
                "display_name": "<b>Dana</b>",
                "requested_at_ms": 1.5e12,
            }
        # The viewer was not told: a chat sent after the notice reaches it first.
        mark = viewer.mark()
        await guest.chat("after the notice")
        await viewer.wait_for("chat_message", since=mark)
        assert not [e for e in viewer.events if e["type"] == "join_request"]

        await control.notify_join_request(
            code, user_id="a" * 32, display_name="Dana", requested_at_ms=2.0, status="withdrawn"
        )
        withdrawn = await guest.wait_for("join_request", lambda m: m["status"] == "withdrawn")
        assert withdrawn["display_name"] == "Dana"
        with pytest.raises(ControlError) as bad:
            await control.notify_join_request(
                code, user_id="a" * 32, display_name="D", requested_at_ms=1.0, status="maybe"
            )
        assert bad.value.code == "invalid_message"
    with pytest.raises(ControlError) as missing:
        await control.notify_join_request(
            "nosuchroom", user_id="a" * 32, display_name="D", requested_at_ms=1.0
        )
    assert missing.value.code == "room_not_found"


async def test_polls_through_interact(control, srv):
    room = await control.create_room(name="Polls", owner_user_id="owner", media=MEDIA)
    code = room["code"]
    async with srv.client(code, "bob") as bob:
        opened = await control.interact(
            code,
            user_id="owner",
            name="Owner",
            action={"type": "poll_create", "question": "Q?", "options": ["a", "b"]},
        )
        poll_id = opened["poll"]["id"]
        assert opened["poll"]["created_by_name"] == "Owner"
        assert (await bob.wait_for("poll_opened"))["seq"] == opened["seq"]
        vote = {"type": "poll_vote", "poll_id": poll_id, "choices": [1]}
        assert await control.interact(code, user_id="u2", name="U2", action=vote) == {
            "poll_id": poll_id,
            "choices": [1],
        }
        await bob.wait_for("poll_results", lambda m: m["results"]["counts"] == [0, 1])
        # A stranger acts as a viewer: it may not close the owner's poll.
        close = {"type": "poll_close", "poll_id": poll_id}
        with pytest.raises(ControlError) as refused:
            await control.interact(code, user_id="u2", name="U2", action=close)
        assert refused.value.code == "forbidden"
        closed = await control.interact(code, user_id="owner", name="Owner", action=close)
        assert closed["poll"]["results"]["counts"] == [0, 1]
        for action, code_ in (
            (vote, "poll_closed"),
            ({**vote, "poll_id": poll_id + 99}, "not_found"),
            ({"type": "poll_vote", "poll_id": "x", "choices": []}, "invalid_message"),
            ({"type": "play"}, "invalid_message"),
        ):
            with pytest.raises(ControlError) as info:
                await control.interact(code, user_id="owner", name="Owner", action=action)
            assert info.value.code == code_, action
