"""Every error the sync socket answers in band, and every way it closes.

In-band errors (``error`` messages) must leave the connection open: each test proves
it with a successful request afterwards. Closing errors are checked on raw
trio-websocket connections, so the ``error`` message and the close code are both
seen exactly as sent.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import msgpack
import pytest
import trio
from trio_websocket import (
    ConnectionClosed,
    ConnectionRejected,
    WebSocketConnection,
    open_websocket_url,
)

from protocol.codec import SUBPROTOCOL_JSON, SUBPROTOCOL_MSGPACK, decode, encode
from protocol.messages import PROTOCOL_VERSION
from protocol.tokens import TYP_ACCESS, TYP_SESSION, issue_token
from sync_server.client import ClientClosed, ServerError, SyncClient
from tests.conftest import ServerHandle, run_server

ENCODINGS = ["msgpack", "json"]
MEDIA = {"url": "https://example.org/v.mp4", "title": "V", "duration_s": 600.0}
WAIT_S = 5.0  # bound on any single wait below; normally milliseconds


@asynccontextmanager
async def server_with_room(db_path: Path, **overrides: Any) -> AsyncIterator[ServerHandle]:
    """A server (with *overrides*) that has room ``room1`` with media."""
    async with run_server(db_path, **overrides) as handle:
        await handle.server.create_room("room1", "Room one", media=MEDIA)
        yield handle


# --- raw connections ---------------------------------------------------------------------
@asynccontextmanager
async def open_raw(
    url: str, encoding: str | None, **kwargs: Any
) -> AsyncIterator[WebSocketConnection]:
    """A bare WebSocket to the sync socket; *encoding* picks the subprotocol offered
    (``None``: offer none)."""
    subprotocols = {None: [], "msgpack": [SUBPROTOCOL_MSGPACK], "json": [SUBPROTOCOL_JSON]}
    async with open_websocket_url(
        url, subprotocols=subprotocols[encoding], disconnect_timeout=WAIT_S, **kwargs
    ) as ws:
        yield ws


async def send(ws: WebSocketConnection, encoding: str, message: dict[str, Any]) -> None:
    await ws.send_message(encode(message, encoding))


async def receive(
    ws: WebSocketConnection, encoding: str, type_: str | None = None
) -> dict[str, Any]:
    """The next message (of *type_*, skipping others such as pings)."""
    with trio.fail_after(WAIT_S):
        while True:
            msg = decode(await ws.get_message(), encoding)
            if type_ is None or msg["type"] == type_:
                return msg


async def close_code(ws: WebSocketConnection) -> int | None:
    """Read until the server closes; return its close code."""
    with trio.fail_after(WAIT_S):
        try:
            while True:
                await ws.get_message()
        except ConnectionClosed as exc:
            return exc.reason.code if exc.reason else None


def hello(room: str = "room1", **fields: Any) -> dict[str, Any]:
    return {"type": "hello", "protocol": PROTOCOL_VERSION, "room": room, "id": "h", **fields}


async def refused(
    url: str, encoding: str, hello_msg: dict[str, Any]
) -> tuple[dict[str, Any], int | None]:
    """Send *hello_msg* on a raw connection; return the error answer and the close code."""
    async with open_raw(url, encoding) as ws:
        try:
            await send(ws, encoding, hello_msg)
        except ConnectionClosed:
            pass  # refused before the hello was read (server full): the answer is queued
        error = await receive(ws, encoding)
        return error, await close_code(ws)


async def still_serves(client: SyncClient) -> None:
    """Prove the connection is open and working: a request gets its answer."""
    state = await client.request({"type": "get_state"})
    assert state["type"] == "state"
    assert client.close_code is None


def types_since(client: SyncClient, mark: int) -> list[str]:
    """Types of the messages *client* received at or after stream position *mark*."""
    events = list(client.events)
    first = client.mark() - len(events)  # stream position of events[0]
    return [m["type"] for m in events[max(0, mark - first) :]]


async def error_of(client: SyncClient, message: dict[str, Any]) -> ServerError:
    with pytest.raises(ServerError) as info:
        await client.request(message)
    return info.value


# --- undecodable frames -------------------------------------------------------------------
BAD_FRAMES = {
    "msgpack": [
        b"\xc1",  # a byte msgpack never uses
        b"\x82\xa4type",  # truncated map
        b"\x81\xa4type\xa4ping\xff",  # trailing bytes after one value
        b"\x81\x01\x02",  # non-str map key
        '{"type": "get_state"}',  # a text frame on a msgpack connection
    ],
    "json": [
        "{not json",
        '{"type": "ping", "nonce": NaN}',
        "",
        msgpack.packb({"type": "get_state"}),  # a binary frame on a JSON connection
    ],
}


@pytest.mark.parametrize("encoding", ENCODINGS)
async def test_bad_frames_answer_bad_frame_and_keep_the_connection(srv, encoding):
    async with srv.client("room1", "alice", encoding=encoding) as a:
        for frame in BAD_FRAMES[encoding]:
            await a.ws.send_message(frame)
            err = await a.wait_for("error")
            assert err["code"] == "bad_frame", frame
            assert err["request_id"] is None
            assert err["message"]
            await still_serves(a)
        assert srv.server.counters["errors_sent"] == len(BAD_FRAMES[encoding])


@pytest.mark.parametrize("encoding", ENCODINGS)
async def test_unknown_type(srv, encoding):
    async with srv.client("room1", "alice", encoding=encoding) as a:
        err = await error_of(a, {"type": "launch_rockets"})
        assert err.code == "unknown_type"
        assert "launch_rockets" in err.message
        err = await error_of(a, {"no_type": True})
        assert err.code == "unknown_type"
        await still_serves(a)


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize(
    ("message", "field"),
    [
        ({"type": "seek"}, "position_s"),
        ({"type": "seek", "position_s": "ten"}, "position_s"),
        ({"type": "seek", "position_s": -1.0}, "position_s"),
        ({"type": "set_rate", "rate": 10.0}, "rate"),
        ({"type": "chat_send", "text": ""}, "text"),
        ({"type": "chat_edit", "message_id": "1", "text": "x"}, "message_id"),
        ({"type": "change_media", "media": {"title": "no url"}}, "media.url"),
        ({"type": "buffer_state", "buffering": "yes"}, "buffering"),
        ({"type": "update_settings", "settings": {"control": "nobody"}}, "settings.control"),
        ({"type": "set_role", "participant_id": "x", "role": "king"}, "role"),
        ({"type": "position_report", "position_s": 1.0}, "server_time_ms"),
    ],
)
async def test_invalid_message_names_the_field_and_echoes_the_id(srv, encoding, message, field):
    async with srv.client("room1", "alice", encoding=encoding) as a:
        before = a.playback
        err = await error_of(a, message)  # request() matched the answer by its request_id
        assert err.code == "invalid_message"
        assert field in [d["field"] for d in err.details]
        assert all(set(d) == {"field", "error"} for d in err.details)
        assert field in err.message
        state = await a.request({"type": "get_state"})
        assert state["playback"] == before
        assert state["seq"] == a.welcome["seq"]


@pytest.mark.parametrize("encoding", ENCODINGS)
async def test_invalid_message_string_id_and_non_map(srv, encoding):
    async with srv.client("room1", "alice", encoding=encoding) as a:
        await a.send({"type": "play", "position_s": [1], "id": "req-7"})
        err = await a.wait_for("error")
        assert (err["code"], err["request_id"]) == ("invalid_message", "req-7")
        assert err["details"][0]["field"] == "position_s"
        # A valid frame that is not a map.
        await a.ws.send_message(encode([1, 2, 3], encoding))  # type: ignore[arg-type]
        err = await a.wait_for("error")
        assert (err["code"], err["request_id"]) == ("invalid_message", None)
        # Chat text over the configured limit (the server's check, not the schema's).
        err = await error_of(a, {"type": "chat_send", "text": "x" * 2001})
        assert err.code == "invalid_message"
        assert "2000" in err.message
        await still_serves(a)


@pytest.mark.parametrize("encoding", ENCODINGS)
async def test_host_may_not_demote_or_kick_itself(srv, encoding):
    async with srv.client("room1", "alice", encoding=encoding) as a:
        for message in (
            {"type": "set_role", "participant_id": a.participant_id, "role": "viewer"},
            {"type": "kick", "participant_id": a.participant_id},
        ):
            assert (await error_of(a, message)).code == "invalid_message", message
        reply = await a.request({"type": "get_participants"})
        assert reply["participants"][0]["role"] == "host"
        assert reply["host_id"] == a.participant_id


@pytest.mark.parametrize("encoding", ENCODINGS)
async def test_forbidden(srv, encoding):
    async with (
        srv.client("room1", "alice", encoding=encoding) as a,
        srv.client("room1", "bob", encoding=encoding) as b,
    ):
        mid = await a.chat("the host's message")
        for message in (
            {"type": "play"},
            {"type": "pause"},
            {"type": "seek", "position_s": 3.0},
            {"type": "set_rate", "rate": 2.0},
            {"type": "change_media", "media": {"url": "https://example.org/x.mp4"}},
            {"type": "update_settings", "settings": {"chat_enabled": False}},
            {"type": "set_role", "participant_id": b.participant_id, "role": "host"},
            {"type": "kick", "participant_id": a.participant_id},
            {"type": "chat_edit", "message_id": mid, "text": "not mine"},
            {"type": "chat_delete", "message_id": mid},
        ):
            err = await error_of(b, message)
            assert err.code == "forbidden", message
        # Even the host may not edit someone else's words.
        other = await b.chat("bob's message")
        err = await error_of(a, {"type": "chat_edit", "message_id": other, "text": "edited"})
        assert err.code == "forbidden"
        state = await b.request({"type": "get_state"})
        assert state["playback"]["paused"] is True
        assert state["room"]["host_id"] == a.participant_id
        assert [m["text"] for m in b.chat_log] == ["the host's message", "bob's message"]


@pytest.mark.parametrize("encoding", ENCODINGS)
async def test_rate_limited_then_served_again(db_path, encoding):
    async with server_with_room(db_path, rate_limit_burst=4, rate_limit_per_s=4.0) as srv:
        async with srv.client("room1", "alice", encoding=encoding) as a:
            # The hello took one token; send more than the other three without waiting.
            for i in range(6):
                await a.send({"type": "chat_send", "text": f"m{i}", "id": f"c{i}"})
            answers = [await a.wait_for(predicate=lambda m: "request_id" in m) for _ in range(6)]
            assert [m["request_id"] for m in answers] == [f"c{i}" for i in range(6)]
            assert [m["type"] for m in answers[:3]] == ["ack"] * 3
            assert [m["type"] for m in answers[4:]] == ["error"] * 2
            limited = [m for m in answers if m["type"] == "error"]
            for m in limited:
                assert m["code"] == "rate_limited"
                assert 0 < m["details"]["retry_after_ms"] <= 250  # one token at 4/s
            # Refused messages were not applied.
            acked = [m["message_id"] for m in answers if m["type"] == "ack"]
            assert [m["id"] for m in a.chat_log] == acked
            # After the advertised wait the next request goes through.
            await trio.sleep(max(m["details"]["retry_after_ms"] for m in limited) / 1000.0)
            await still_serves(a)


@pytest.mark.parametrize("encoding", ENCODINGS)
async def test_not_joined_before_hello(srv, encoding):
    async with open_raw(srv.url, encoding) as ws:
        await send(ws, encoding, {"type": "play", "id": 1})
        err = await receive(ws, encoding)
        assert (err["type"], err["code"], err["request_id"]) == ("error", "not_joined", 1)
        await send(ws, encoding, {"type": "get_state", "id": 2})
        assert (await receive(ws, encoding))["code"] == "not_joined"
        # Clock and liveness messages need no room.
        await send(ws, encoding, {"type": "time_sync", "client_send_ms": 5.0, "id": 3})
        reply = await receive(ws, encoding)
        assert (reply["type"], reply["request_id"], reply["client_send_ms"]) == (
            "time_sync_reply",
            3,
            5.0,
        )
        await send(ws, encoding, {"type": "ping", "nonce": 9, "id": 4})
        assert (await receive(ws, encoding))["type"] == "pong"
        # The connection is still usable: it can join now.
        await send(ws, encoding, hello(display_name="late"))
        welcome = await receive(ws, encoding)
        assert (welcome["type"], welcome["request_id"]) == ("welcome", "h")


@pytest.mark.parametrize("encoding", ENCODINGS)
async def test_hello_without_a_name_is_invalid_and_can_be_retried(srv, encoding):
    async with open_raw(srv.url, encoding) as ws:
        await send(ws, encoding, hello())
        err = await receive(ws, encoding)
        assert (err["code"], err["request_id"]) == ("invalid_message", "h")
        await send(ws, encoding, hello(display_name="named"))
        welcome = await receive(ws, encoding)
        assert welcome["type"] == "welcome"
        assert welcome["participant"]["name"] == "named"


async def test_unencodable_request_id_is_not_echoed(srv):
    """JSON only: a msgpack string holding a surrogate is not valid UTF-8 (bad_frame)."""
    async with srv.client("room1", "alice", encoding="json") as a:
        await a.ws.send_message('{"type": "nonsense", "id": "\\ud800"}')
        err = await a.wait_for("error")
        # Answered, without the id no encoder could send back.
        assert (err["code"], err["request_id"]) == ("unknown_type", None)
        await still_serves(a)


@pytest.mark.parametrize("encoding", ENCODINGS)
async def test_already_joined(srv, encoding):
    async with srv.client("room1", "alice", encoding=encoding) as a:
        err = await error_of(a, hello(display_name="again"))
        assert err.code == "already_joined"
        reply = await a.request({"type": "get_participants"})
        assert len(reply["participants"]) == 1
        await still_serves(a)


@pytest.mark.parametrize("encoding", ENCODINGS)
async def test_chat_disabled(srv, encoding):
    async with (
        srv.client("room1", "alice", encoding=encoding) as a,
        srv.client("room1", "bob", encoding=encoding) as b,
    ):
        mid = await b.chat("before")
        await a.request({"type": "update_settings", "settings": {"chat_enabled": False}})
        await b.wait_for("settings_changed")
        mark = a.mark()
        for message in (
            {"type": "chat_send", "text": "hello?"},
            {"type": "chat_edit", "message_id": mid, "text": "changed"},
            {"type": "typing", "typing": True},
        ):
            err = await error_of(b, message)
            assert err.code == "chat_disabled", message
        await still_serves(b)
        await a.request({"type": "get_state"})
        assert "typing" not in types_since(a, mark)
        assert [m["text"] for m in b.chat_log] == ["before"]


@pytest.mark.parametrize("encoding", ENCODINGS)
async def test_not_found(srv, encoding):
    await srv.server.create_room("room2", "Room two")
    async with (
        srv.client("room1", "alice", encoding=encoding) as a,
        srv.client("room2", "carol", encoding=encoding) as c,
    ):
        elsewhere = await c.chat("in room two")
        for message in (
            {"type": "chat_edit", "message_id": 999_999, "text": "x"},
            {"type": "chat_delete", "message_id": 999_999},
            {"type": "chat_edit", "message_id": elsewhere, "text": "x"},
            {"type": "chat_delete", "message_id": elsewhere},
            {"type": "set_role", "participant_id": "nobody", "role": "cohost"},
            {"type": "kick", "participant_id": "nobody"},
        ):
            err = await error_of(a, message)
            assert err.code == "not_found", message
        # A deleted message is gone for edits and deletes too.
        mid = await a.chat("short-lived")
        await a.delete_chat(mid)
        for message in (
            {"type": "chat_edit", "message_id": mid, "text": "x"},
            {"type": "chat_delete", "message_id": mid},
        ):
            assert (await error_of(a, message)).code == "not_found"
        await still_serves(a)
        assert [m["text"] for m in c.chat_log] == ["in room two"]


@pytest.mark.parametrize("encoding", ENCODINGS)
async def test_no_media(srv, encoding):
    await srv.server.create_room("empty", "No media")
    async with srv.client("empty", "alice", encoding=encoding) as a:
        for message in (
            {"type": "play"},
            {"type": "pause"},
            {"type": "seek", "position_s": 1.0},
        ):
            assert (await error_of(a, message)).code == "no_media", message
        await still_serves(a)
        await a.change_media("https://example.org/now.mp4")
        await a.play()
        assert a.playback["paused"] is False


# --- closing errors ----------------------------------------------------------------------
@pytest.mark.parametrize("encoding", ENCODINGS)
async def test_frame_over_max_frame_bytes_closes_1009(db_path, encoding):
    async with server_with_room(db_path, max_frame_bytes=1024) as srv:
        async with open_raw(srv.url, encoding) as ws:
            await send(ws, encoding, hello(display_name="big"))
            await receive(ws, encoding, "welcome")
            await send(ws, encoding, {"type": "chat_send", "text": "x" * 1100})
            assert await close_code(ws) == 1009
        # A frame just under the limit is fine.
        async with srv.client("room1", "ok", encoding=encoding) as a:
            await a.chat("y" * 900)


def forged_token(srv: ServerHandle) -> str:
    return issue_token(
        "another-secret-of-at-least-32-bytes!",
        {"sub": "u1", "name": "mallory", "role": "user", "guest": False},
        typ=TYP_ACCESS,
        now_s=srv.server.now_ms() / 1000.0,
        ttl_s=3600.0,
    )


def session_token(srv: ServerHandle, room: str) -> str:
    return issue_token(
        srv.server.secret,
        {"sub": "u1", "room": room, "pid": "p1", "name": "x", "guest": False},
        typ=TYP_SESSION,
        now_s=srv.server.now_ms() / 1000.0,
        ttl_s=3600.0,
    )


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("kind", ["garbage", "forged", "expired", "session_as_access", "resume"])
async def test_bad_token_closes_4001_after_auth_failed(srv, encoding, kind):
    if kind == "resume":
        msg = hello(resume={"session": forged_token(srv), "last_seq": 0})
    elif kind == "session_as_access":
        msg = hello(token=session_token(srv, "room1"))
    else:
        token = {
            "garbage": "not.a.jwt",
            "forged": forged_token(srv),
            "expired": srv.token("u1", "late", ttl_s=-1.0),
        }[kind]
        msg = hello(token=token)
    error, code = await refused(srv.url, encoding, msg)
    assert (error["type"], error["code"], error["request_id"]) == ("error", "auth_failed", "h")
    assert code == 4001
    assert srv.server.rooms["room1"].room.participants == {}
    # A good token still works.
    async with srv.client("room1", token=srv.token("u1", "alice"), encoding=encoding) as a:
        assert a.welcome["participant"]["user_id"] == "u1"
        assert a.welcome["participant"]["guest"] is False


@pytest.mark.parametrize("encoding", ENCODINGS)
async def test_unknown_room_closes_4004(srv, encoding):
    error, code = await refused(srv.url, encoding, hello("nosuchroom", display_name="x"))
    assert (error["code"], code) == ("room_not_found", 4004)
    assert "nosuchroom" not in srv.server.rooms


@pytest.mark.parametrize("encoding", ENCODINGS)
async def test_guests_refused_by_server_closes_4003(db_path, encoding):
    async with server_with_room(db_path, allow_guests=False) as srv:
        error, code = await refused(srv.url, encoding, hello(display_name="guest"))
        assert (error["code"], code) == ("guests_not_allowed", 4003)
        async with srv.client("room1", token=srv.token("u1", "member"), encoding=encoding) as a:
            assert a.welcome["participant"]["role"] == "host"


@pytest.mark.parametrize("encoding", ENCODINGS)
async def test_guests_refused_by_room_setting_closes_4003(srv, encoding):
    async with srv.client("room1", "guest-host", encoding=encoding) as a:
        await a.request({"type": "update_settings", "settings": {"allow_guests": False}})
        error, code = await refused(srv.url, encoding, hello(display_name="guest"))
        assert (error["code"], code) == ("guests_not_allowed", 4003)
        # The guest already inside is not affected; members still get in.
        await still_serves(a)
        async with srv.client("room1", token=srv.token("u2", "member"), encoding=encoding) as m:
            assert m.welcome["participant"]["role"] == "viewer"


@pytest.mark.parametrize("encoding", ENCODINGS)
async def test_guests_may_not_create_rooms_when_guest_rooms_off(db_path, encoding):
    create = {"name": "New", "settings": {"control": "everyone"}}
    async with server_with_room(db_path, guest_rooms=False) as srv:
        msg = hello("newroom", display_name="g", create=create)
        error, code = await refused(srv.url, encoding, msg)
        assert (error["code"], code) == ("forbidden", 4003)
        assert "newroom" not in srv.server.rooms
        async with srv.client(
            "newroom", token=srv.token("u1", "owner"), create=create, encoding=encoding
        ) as a:
            assert a.welcome["room"]["settings"]["control"] == "everyone"
            assert a.welcome["participant"]["role"] == "host"


@pytest.mark.parametrize("encoding", ENCODINGS)
async def test_unsupported_protocol_closes_4005(srv, encoding):
    msg = hello(display_name="future")
    msg["protocol"] = PROTOCOL_VERSION + 1
    error, code = await refused(srv.url, encoding, msg)
    assert (error["code"], code) == ("unsupported_version", 4005)


@pytest.mark.parametrize("encoding", ENCODINGS)
async def test_room_full_closes_4006(db_path, encoding):
    async with server_with_room(db_path, max_participants_per_room=1) as srv:
        async with srv.client("room1", "first", encoding=encoding) as a:
            error, code = await refused(srv.url, encoding, hello(display_name="second"))
            assert (error["code"], code) == ("room_full", 4006)
            await still_serves(a)
            reply = await a.request({"type": "get_participants"})
            assert len(reply["participants"]) == 1


@pytest.mark.parametrize("encoding", ENCODINGS)
async def test_server_full_closes_4007(db_path, encoding):
    create = {"name": "Another"}
    async with server_with_room(db_path, max_rooms=1) as srv:
        msg = hello("room2", display_name="g", create=create)
        error, code = await refused(srv.url, encoding, msg)
        assert (error["code"], code) == ("server_full", 4007)
        assert list(srv.server.rooms) == ["room1"]
    async with server_with_room(db_path, max_connections=1) as srv:
        async with srv.client("room1", "first", encoding=encoding) as a:
            error, code = await refused(srv.url, encoding, hello(display_name="second"))
            assert (error["code"], code) == ("server_full", 4007)
            await still_serves(a)


@pytest.mark.parametrize("encoding", ENCODINGS)
async def test_deleted_room_closes_4013(srv, encoding):
    async with (
        srv.client("room1", "alice", encoding=encoding) as a,
        srv.client("room1", "bob", encoding=encoding) as b,
    ):
        assert await srv.server.delete_room("room1") is True
        assert await a.wait_closed() == 4013
        assert await b.wait_closed() == 4013
    error, code = await refused(srv.url, encoding, hello(display_name="late"))
    assert (error["code"], code) == ("room_not_found", 4004)


@pytest.mark.parametrize("encoding", [*ENCODINGS, None])
async def test_hello_timeout_closes_4010(db_path, encoding):
    async with server_with_room(db_path, hello_timeout_s=0.3) as srv:
        start = time.monotonic()
        async with open_raw(srv.url, encoding) as ws:
            # Without a subprotocol the server answers in JSON until a frame says otherwise.
            err = await receive(ws, encoding or "json")
            assert (err["type"], err["code"]) == ("error", "hello_timeout")
            assert await close_code(ws) == 4010
        assert time.monotonic() - start >= 0.3


async def test_no_subprotocol_speaks_the_frame_type(srv):
    async with open_raw(srv.url, None) as ws:
        await ws.send_message(encode(hello(display_name="plain"), "msgpack"))
        welcome = decode(await ws.get_message(), "msgpack")
        assert welcome["type"] == "welcome"
    async with open_raw(srv.url, None) as ws:
        await ws.send_message(encode(hello(display_name="plain"), "json"))
        welcome = decode(await ws.get_message(), "json")
        assert welcome["type"] == "welcome"


@pytest.mark.parametrize("encoding", ENCODINGS)
async def test_heartbeat_timeout_closes_4008_unless_answered(db_path, encoding):
    async with server_with_room(db_path, heartbeat_interval_s=0.1, heartbeat_timeout_s=0.3) as srv:
        async with srv.client("room1", "ponger", encoding=encoding) as keeper:
            async with open_raw(srv.url, encoding) as ws:
                await send(ws, encoding, hello(display_name="silent"))
                start = time.monotonic()
                seen: list[str] = []
                with trio.fail_after(WAIT_S):
                    try:
                        while True:
                            seen.append(decode(await ws.get_message(), encoding)["type"])
                    except ConnectionClosed as exc:
                        code = exc.reason.code
                assert code == 4008
                assert time.monotonic() - start >= 0.3
                assert "welcome" in seen
                assert seen.count("ping") >= 2  # pinged, never answered
            assert srv.server.counters["closed_heartbeat"] == 1
            # The project client answers every ping: it outlives two timeouts.
            for _ in range(6):
                await keeper.wait_for("ping")
            await still_serves(keeper)
            assert srv.server.counters["closed_heartbeat"] == 1


@pytest.mark.parametrize("encoding", ENCODINGS)
async def test_kicked_closes_4012(srv, encoding):
    async with (
        srv.client("room1", "host", encoding=encoding) as a,
        srv.client("room1", "victim", encoding=encoding) as b,
    ):
        await a.request({"type": "kick", "participant_id": b.participant_id})
        assert await b.wait_closed() == 4012
        with pytest.raises(ClientClosed):
            await b.wait_for("chat_message")
        # Barred: its session cannot bring it back, and neither can its account.
        resume = {"session": b.session, "last_seq": b.seq}
        error, code = await refused(srv.url, encoding, hello(resume=resume))
        assert (error["code"], code) == ("forbidden", 4012)
        reply = await a.request({"type": "get_participants"})
        assert [p["id"] for p in reply["participants"]] == [a.participant_id]


async def test_kicked_account_cannot_rejoin_with_a_new_connection(srv):
    token = srv.token("u-kicked", "Kicked")
    async with srv.client("room1", "host") as a:
        async with srv.client("room1", token=token) as b:
            await a.request({"type": "kick", "participant_id": b.participant_id})
            assert await b.wait_closed() == 4012
        error, code = await refused(srv.url, "msgpack", hello(token=token))
        assert (error["code"], code) == ("forbidden", 4012)


@pytest.mark.parametrize("encoding", ENCODINGS)
async def test_resume_elsewhere_replaces_4011(srv, encoding):
    async with (
        srv.client("room1", "host", encoding=encoding) as a,
        srv.client("room1", "roamer", encoding=encoding) as b,
    ):
        resume = {"session": b.session, "last_seq": b.seq}
        async with srv.client("room1", resume=resume, encoding=encoding) as b2:
            assert await b.wait_closed() == 4011
            assert b2.participant_id == b.participant_id
            assert b2.welcome["resumed"] is True
            reply = await a.request({"type": "get_participants"})
            assert [p["id"] for p in reply["participants"]] == [a.participant_id, b.participant_id]
            assert all(p["connected"] for p in reply["participants"])
            await still_serves(b2)


@pytest.mark.parametrize("encoding", ENCODINGS)
async def test_leave_closes_1000(srv, encoding):
    async with open_raw(srv.url, encoding) as ws:
        await send(ws, encoding, hello(display_name="leaver"))
        await receive(ws, encoding, "welcome")
        await send(ws, encoding, {"type": "leave", "id": "bye"})
        ack = await receive(ws, encoding, "ack")
        assert ack["request_id"] == "bye"
        assert await close_code(ws) == 1000
    assert srv.server.rooms["room1"].room.participants == {}


@pytest.mark.parametrize("path", ["/nope", "/ws/extra", "/admin"])
async def test_unknown_path_is_rejected_404(srv, path):
    url = srv.url.removesuffix("/ws") + path
    with pytest.raises(ConnectionRejected) as info:
        async with open_raw(url, "msgpack"):
            pass
    assert info.value.status_code == 404


# --- refusals added with the input hardening ----------------------------------------------
@pytest.mark.parametrize(
    "url",
    ["javascript:alert(1)", "data:text/html,<b>x</b>", "file:///etc/passwd", "//evil.example/x"],
)
async def test_media_urls_other_than_http_or_paths_are_refused(srv, url):
    async with srv.client("room1", "host") as a:
        err = await error_of(a, {"type": "change_media", "media": {"url": url}})
        assert err.code == "invalid_message"
        assert err.details[0]["field"] == "media.url"
        assert a.playback["media"]["url"] == "https://example.org/v.mp4"
        await a.change_media("/media/library/1.webm", "Library clip")
        await still_serves(a)


async def test_blank_display_name_is_refused(srv):
    async with open_raw(srv.url, "json") as ws:
        await send(ws, "json", hello(display_name="   "))
        error = await receive(ws, "json", "error")
        assert error["code"] == "invalid_message"
        assert error["details"][0]["field"] == "display_name"
        # The connection stays open: a good hello still joins.
        await send(ws, "json", hello(display_name=" Ann "))
        welcome = await receive(ws, "json", "welcome")
        assert welcome["participant"]["name"] == "Ann"


async def test_connections_over_the_limit_are_refused_before_hello(db_path):
    async with run_server(db_path, max_connections=1) as handle:
        async with open_raw(handle.url, "msgpack"):
            # The first socket holds the only place without saying hello.
            async with open_raw(handle.url, "msgpack") as second:
                error = await receive(second, "msgpack", "error")
                assert error["code"] == "server_full"
                assert await close_code(second) == 4007


async def test_host_cannot_be_handed_to_a_dropped_participant(srv):
    async with srv.client("room1", "host") as a:
        async with srv.client("room1", "leaver") as b:
            pid = b.participant_id
            marker = a.mark()
        # b dropped without leave: still in the room within its grace.
        await a.wait_for(
            "participant_updated", lambda m: m["participant"]["id"] == pid, since=marker
        )
        err = await error_of(a, {"type": "set_role", "participant_id": pid, "role": "host"})
        assert err.code == "invalid_message"
        assert (
            a.welcome["participant"]["id"]
            == (await a.request({"type": "get_state"}))["room"]["host_id"]
        )


async def test_an_unexpected_failure_answers_internal_error_and_keeps_serving(srv, monkeypatch):
    from sync_server import connection

    async def broken(self, live, pid, msg):
        raise RuntimeError("boom")

    monkeypatch.setattr(connection.Connection, "on_get_participants", broken)
    async with srv.client("room1", "host") as a:
        err = await error_of(a, {"type": "get_participants"})
        assert err.code == "internal_error"
        assert "boom" not in err.message  # no internals leak
        await still_serves(a)
