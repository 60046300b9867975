"""What survives: chat history, room snapshots across a restart, and stored data under
a barrage of bad input.

A restart is the real thing: the first server is stopped by leaving
``run_server``'s context (its final snapshot writes the rooms; the periodic one is
set to 60 s and never runs), and a new server opens the same database file.
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
from trio_websocket import ConnectionClosed, open_websocket_url

from data import chat as chat_store
from data import rooms as room_store
from protocol.clock import position_at
from protocol.codec import SUBPROTOCOL_JSON, SUBPROTOCOL_MSGPACK, decode, encode
from protocol.messages import PROTOCOL_VERSION
from sync_server.client import ServerError
from tests.conftest import ServerHandle, run_server

ENCODINGS = ["msgpack", "json"]
MEDIA = {"url": "https://example.org/v.mp4", "title": "V", "duration_s": 600.0}

pytestmark = pytest.mark.parametrize("encoding", ENCODINGS)


@asynccontextmanager
async def running(
    db_path: Path, *, create: bool = True, **overrides: Any
) -> AsyncIterator[tuple[ServerHandle, trio.Event]]:
    """A server on *db_path* (with room ``room1`` when *create*) and an event that stops
    it while clients are still connected."""
    stop = trio.Event()

    async def serve(task_status: trio.TaskStatus[ServerHandle]) -> None:
        async with run_server(db_path, **overrides) as handle:
            if create:
                await handle.server.create_room("room1", "Room one", media=MEDIA)
            task_status.started(handle)
            await stop.wait()

    async with trio.open_nursery() as nursery:
        handle = await nursery.start(serve)
        yield handle, stop
        stop.set()


def position_now(playback: dict[str, Any], at_ms: float) -> float:
    return position_at(
        position_s=playback["position_s"],
        paused=playback["paused"],
        rate=playback["rate"],
        reference_ms=playback["server_time_ms"],
        at_ms=at_ms,
        duration_s=(playback.get("media") or {}).get("duration_s"),
    )


async def test_chat_history_on_join_and_after_restart(db_path, encoding):
    async with running(db_path, chat_history=3) as (srv, _):
        async with srv.client("room1", "alice", encoding=encoding) as a:
            ids = [await a.chat(f"m{i}") for i in range(1, 7)]
            await a.edit_chat(ids[4], "m5 (edited)")
            await a.delete_chat(ids[5])  # the newest: inside the history window
            await a.delete_chat(ids[0])  # long out of the window: changes nothing
            async with srv.client("room1", "bob", encoding=encoding) as b:
                before = b.welcome["chat"]
                # The last three messages still there, oldest first, the edit applied.
                assert [m["id"] for m in before] == ids[2:5]
                assert [m["text"] for m in before] == ["m3", "m4", "m5 (edited)"]
                assert before[2]["edited_at_ms"] is not None
                assert before[0]["edited_at_ms"] is None
                assert all(m["name"] == "alice" for m in before)
                assert b.chat_log == before
    async with running(db_path, create=False, chat_history=3) as (srv, _):
        async with srv.client("room1", "carol", encoding=encoding) as c:
            assert c.welcome["chat"] == before
            count = await srv.db.read(chat_store.count_messages, "room1")
            assert count == 4
            # New messages continue the same id sequence.
            new_id = await c.chat("after the restart")
            assert new_id > ids[-1]


async def test_chat_history_zero_sends_none(db_path, encoding):
    async with running(db_path, chat_history=0) as (srv, _):
        async with srv.client("room1", "alice", encoding=encoding) as a:
            mid = await a.chat("hello")
            await a.delete_chat(mid)
            await a.chat("again")
            async with srv.client("room1", "bob", encoding=encoding) as b:
                assert b.welcome["chat"] == []


async def test_paused_playback_settings_and_media_survive_a_restart(db_path, encoding):
    async with running(db_path) as (srv, _):
        async with srv.client("room1", "alice", encoding=encoding) as a:
            await a.change_media("https://example.org/film.mkv", "Film", 5400.0)
            await a.seek(1234.567891)
            await a.set_rate(1.5)
            await a.request(
                {
                    "type": "update_settings",
                    "settings": {"control": "everyone", "chat_enabled": False},
                }
            )
            saved = (await a.request({"type": "get_state"}))["playback"]
            seq = a.seq
        first = srv.server
    # Only the final snapshot at shutdown wrote the room (the periodic one is 60 s).
    assert first.counters["snapshots_written"] == 1
    async with running(db_path, create=False) as (srv, _):
        snap = await srv.db.read(room_store.get_room_snapshot, "room1")
        assert snap["last_seq"] >= seq
        async with srv.client("room1", "bob", encoding=encoding) as b:
            pb = b.welcome["playback"]
            assert pb["media"] == {
                "url": "https://example.org/film.mkv",
                "title": "Film",
                "duration_s": 5400.0,
            }
            assert pb["paused"] is True
            assert pb["position_s"] == 1234.567891  # exact, not re-derived
            assert pb["rate"] == 1.5
            assert pb == {**saved, "waiting": False}
            settings = b.welcome["room"]["settings"]
            assert (settings["control"], settings["chat_enabled"]) == ("everyone", False)
            assert b.welcome["room"]["name"] == "Room one"
            # Sequence numbers go on from where they were, never back.
            assert b.welcome["seq"] > seq
            # The restored settings are in force.
            with pytest.raises(ServerError, match="chat_disabled"):
                await b.chat("hi")
            await b.play()


async def test_playing_room_keeps_playing_after_a_quick_restart(db_path, encoding):
    async with running(db_path, reconnect_grace_s=5.0) as (srv, _):
        async with srv.client("room1", "alice", encoding=encoding) as a:
            await a.play(100.0)
            saved = a.playback
    async with running(db_path, create=False, reconnect_grace_s=5.0) as (srv, _):
        async with srv.client("room1", "bob", encoding=encoding) as b:
            pb = b.welcome["playback"]
            assert pb == saved
            assert pb["paused"] is False
            now = srv.server.now_ms()
            expected = 100.0 + max(0.0, now - saved["server_time_ms"]) / 1000.0
            assert position_now(pb, now) == pytest.approx(expected, abs=1e-6)
            # The position keeps moving as the server sees it.
            state = await b.request({"type": "get_state"})
            assert state["playback"]["paused"] is False


async def test_playing_room_restarted_after_a_long_gap_is_paused_where_it_was(db_path, encoding):
    async with running(db_path, reconnect_grace_s=5.0) as (srv, _):
        async with srv.client("room1", "alice", encoding=encoding) as a:
            await a.play(100.0)
            saved = a.playback
            stopped_at = srv.server.now_ms()

    # The new server's clock reads an hour later: far beyond the grace.
    def hour_later() -> float:
        return time.time() * 1000.0 + 3_600_000.0

    async with run_server(db_path, clock=hour_later, reconnect_grace_s=5.0) as srv:
        async with srv.client("room1", "bob", encoding=encoding) as b:
            pb = b.welcome["playback"]
            assert pb["paused"] is True
            # Where it was when the first server stopped (its last snapshot).
            assert position_now(saved, stopped_at) <= pb["position_s"]
            assert pb["position_s"] <= position_now(saved, stopped_at + 1000.0)
            assert pb["media"] == saved["media"]


async def test_resume_after_a_restart_replays_full_state(db_path, encoding):
    async with running(db_path) as (srv, stop):
        async with srv.client("room1", "alice", encoding=encoding) as a:
            await a.chat("before the restart")
            await a.seek(12.5)
            session, last_seq, pid = a.session, a.seq, a.participant_id
            stop.set()
            assert await a.wait_closed() == 1001  # going away
    async with running(db_path, create=False) as (srv, _):
        resume = {"session": session, "last_seq": last_seq}
        async with srv.client("room1", resume=resume, encoding=encoding) as a2:
            w = a2.welcome
            assert (w["resumed"], w["replay"], w["missed"]) == (True, "full", [])
            assert w["participant"]["id"] == pid
            assert w["participant"]["role"] == "host"
            assert w["room"]["host_id"] == pid
            assert w["playback"]["position_s"] == 12.5
            assert [m["text"] for m in w["chat"]] == ["before the restart"]
            assert w["seq"] > last_seq
            # A later drop and resume on this server replays events again.
            async with srv.client("room1", "bob", encoding=encoding) as b:
                last_seq, session = b.seq, b.session
                await b.ws.aclose()
                await a2.wait_for(
                    "participant_updated", lambda m: not m["participant"]["connected"]
                )
                async with srv.client(
                    "room1", resume={"session": session, "last_seq": last_seq}, encoding=encoding
                ) as b2:
                    assert b2.welcome["replay"] == "events"
                    assert [e["seq"] for e in b2.welcome["missed"]] == [last_seq + 1, last_seq + 2]


GARBAGE: list[bytes | str] = [
    b"\xc1",
    b"\x93\x01\x02",
    b"\xdd\xff\xff\xff\xff",  # array claiming 4 billion items
    "{]",
    "[1, 2",
    "null",
    '{"type": "chat_send", "text": "\\ud800"}',
]


async def test_barrage_of_bad_input_leaves_stored_chat_intact(db_path, encoding):
    async with running(db_path, rate_limit_burst=10_000, rate_limit_per_s=10_000.0) as (srv, _):
        await srv.server.create_room("room2", "Room two")
        async with (
            srv.client("room1", "alice", encoding=encoding) as a,
            srv.client("room2", "zed", encoding=encoding) as z,
        ):
            ids = [await a.chat(f"keep {i}") for i in range(5)]
            await a.edit_chat(ids[1], "keep 1, edited")
            stored = await srv.db.read(chat_store.list_messages, "room1")
            foreign = await z.chat("other room")

            bad: list[dict[str, Any]] = [
                {"type": "chat_edit", "message_id": ids[0]},
                {"type": "chat_edit", "message_id": -ids[0], "text": "x"},
                {"type": "chat_edit", "message_id": str(ids[0]), "text": "x"},
                {"type": "chat_edit", "message_id": ids[0], "text": ""},
                {"type": "chat_edit", "message_id": ids[0], "text": " \t\n"},
                {"type": "chat_edit", "message_id": ids[0], "text": "y" * 10_001},
                {"type": "chat_edit", "message_id": foreign, "text": "hijack"},
                {"type": "chat_delete", "message_id": foreign},
                {"type": "chat_delete", "message_id": 2**62},
                {"type": "chat_delete", "message_id": [ids[0]]},
                {"type": "chat_delete"},
                {"type": "chat_send", "text": None},
                {"type": "chat_send", "text": ["a", "b"]},
                {"type": "chat_send", "text": "   "},
                {"type": "chat_send", "text": "z" * 2_001},
                {"type": "hello", "protocol": PROTOCOL_VERSION, "room": "room1"},
                {"type": "nonsense", "text": "x"},
            ]
            for message in bad:
                with pytest.raises(ServerError):
                    await a.request(message)
            # Bob cannot touch Alice's messages.
            async with srv.client("room1", "bob", encoding=encoding) as b:
                for mid in ids:
                    with pytest.raises(ServerError, match="forbidden"):
                        await b.edit_chat(mid, "mine now")
                    with pytest.raises(ServerError, match="forbidden"):
                        await b.delete_chat(mid)
            # Undecodable frames on a joined connection, then on fresh ones.
            for frame in GARBAGE:
                mark = a.mark()
                await a.ws.send_message(frame)
                err = await a.wait_for("error", since=mark)
                assert err["code"] in ("bad_frame", "invalid_message", "unknown_type")
            subprotocol = SUBPROTOCOL_MSGPACK if encoding == "msgpack" else SUBPROTOCOL_JSON
            async with open_websocket_url(srv.url, subprotocols=[subprotocol]) as ws:
                for frame in GARBAGE:
                    await ws.send_message(frame)
                await ws.send_message(encode({"type": "chat_send", "text": "sneaky"}, encoding))
                await ws.send_message(msgpack.packb({"type": "chat_delete", "message_id": ids[0]}))
                await ws.send_message(encode({"type": "ping", "id": "last"}, encoding))
                answers = []
                with trio.fail_after(5):
                    while not answers or answers[-1].get("request_id") != "last":
                        answers.append(decode(await ws.get_message(), encoding))
                assert answers[-1]["type"] == "pong"
                assert {m["code"] for m in answers[:-1]} <= {
                    "bad_frame",
                    "invalid_message",
                    "not_joined",
                }
            # A frame over the limit closes that connection only.
            async with open_websocket_url(srv.url, subprotocols=[subprotocol]) as ws:
                await ws.send_message(b"\x00" * (srv.server.config.max_frame_bytes + 1))
                with pytest.raises(ConnectionClosed) as info:
                    with trio.fail_after(5):
                        await ws.get_message()
                assert info.value.reason.code == 1009

            # Storage is exactly as it was.
            assert await srv.db.read(chat_store.count_messages, "room1") == 5
            assert await srv.db.read(chat_store.list_messages, "room1") == stored
            assert [m["text"] for m in await srv.db.read(chat_store.list_messages, "room2")] == [
                "other room"
            ]
            # And the server still serves, the same history to a newcomer.
            await a.chat("still here")
            async with srv.client("room1", "newcomer", encoding=encoding) as n:
                assert [m["text"] for m in n.welcome["chat"]] == [
                    "keep 0",
                    "keep 1, edited",
                    "keep 2",
                    "keep 3",
                    "keep 4",
                    "still here",
                ]
