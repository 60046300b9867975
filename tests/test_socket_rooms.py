"""Room behaviour over real connections: who controls playback, host hand-over,
resuming a dropped connection, and wait-for-everyone.

Timers are configured short (grace and ready timeouts of 0.3 s) and waited for by
the event that proves they fired, bounded by ``fail_after``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import trio

from sync_server.client import ServerError, SyncClient
from tests.conftest import ServerHandle, run_server

ENCODINGS = ["msgpack", "json"]
MEDIA = {"url": "https://example.org/v.mp4", "title": "V", "duration_s": 600.0}
GRACE_S = 0.3
READY_TIMEOUT_S = 0.3

pytestmark = pytest.mark.parametrize("encoding", ENCODINGS)


@asynccontextmanager
async def server_with_room(db_path: Path, **overrides: Any) -> AsyncIterator[ServerHandle]:
    """A server (with *overrides*) that has room ``room1`` with media."""
    async with run_server(db_path, **overrides) as handle:
        await handle.server.create_room("room1", "Room one", media=MEDIA)
        yield handle


def types_since(client: SyncClient, mark: int) -> list[str]:
    """Types of the messages *client* received at or after stream position *mark*."""
    events = list(client.events)
    first = client.mark() - len(events)  # stream position of events[0]
    return [m["type"] for m in events[max(0, mark - first) :]]


async def drop(client: SyncClient) -> None:
    """End *client*'s connection without ``leave``, as a closed laptop lid would."""
    await client.ws.aclose()


async def set_settings(host: SyncClient, **settings: Any) -> None:
    await host.request({"type": "update_settings", "settings": settings})


async def set_role(host: SyncClient, target: SyncClient, role: str) -> None:
    await host.request({"type": "set_role", "participant_id": target.participant_id, "role": role})


async def assert_forbidden(client: SyncClient, message: dict[str, Any]) -> None:
    with pytest.raises(ServerError) as info:
        await client.request(message)
    assert info.value.code == "forbidden"


# --- who controls playback ----------------------------------------------------------------
async def test_control_host_cohosts_everyone(srv, encoding):
    async with (
        srv.client("room1", "host", encoding=encoding) as h,
        srv.client("room1", "co", encoding=encoding) as c,
        srv.client("room1", "viewer", encoding=encoding) as v,
    ):
        # Default: host and co-hosts. Nobody is a co-host yet.
        assert h.welcome["room"]["settings"]["control"] == "cohosts"
        await assert_forbidden(c, {"type": "play"})
        await assert_forbidden(v, {"type": "seek", "position_s": 5.0})

        await set_role(h, c, "cohost")
        await c.play(3.0)
        ev = await v.wait_for("playback")
        assert (ev["action"], ev["by"]) == ("play", c.participant_id)
        await assert_forbidden(v, {"type": "pause"})

        await set_settings(h, control="host")
        await assert_forbidden(c, {"type": "pause"})
        await h.pause()

        await set_settings(h, control="everyone")
        await v.seek(42.0)
        ev = await h.wait_for("playback", lambda m: m["action"] == "seek")
        assert (ev["by"], ev["state"]["position_s"]) == (v.participant_id, 42.0)
        await v.set_rate(1.25)
        # Settings and roles stay the host's, whatever the control setting.
        await assert_forbidden(v, {"type": "update_settings", "settings": {"control": "host"}})
        await assert_forbidden(c, {"type": "kick", "participant_id": v.participant_id})
        state = await h.request({"type": "get_state"})
        assert state["playback"]["rate"] == 1.25
        assert state["playback"]["position_s"] == 42.0


# --- host hand-over -----------------------------------------------------------------------
async def test_host_leaving_hands_over_at_once_preferring_a_cohost(srv, encoding):
    async with (
        srv.client("room1", "host", encoding=encoding) as h,
        srv.client("room1", "early-viewer", encoding=encoding) as v,
        srv.client("room1", "co", encoding=encoding) as c,
    ):
        await set_role(h, c, "cohost")
        await h.leave()
        for other in (v, c):
            left = await other.wait_for("participant_left")
            assert (left["participant_id"], left["reason"]) == (h.participant_id, "left")
            changed = await other.wait_for("host_changed")
            assert changed["host_id"] == c.participant_id
            assert changed["previous_host_id"] == h.participant_id
            assert changed["seq"] > left["seq"]
            assert other.host_id == c.participant_id
        await c.pause()  # the new host controls playback


async def test_host_dropping_hands_over_after_the_grace(db_path, encoding):
    async with server_with_room(db_path, reconnect_grace_s=GRACE_S) as srv:
        async with (
            srv.client("room1", "host", encoding=encoding) as h,
            srv.client("room1", "viewer", encoding=encoding) as v,
        ):
            await drop(h)
            gone = await v.wait_for(
                "participant_updated", lambda m: m["participant"]["connected"] is False
            )
            assert gone["participant"]["id"] == h.participant_id
            dropped_at_ms = (
                srv.server.rooms["room1"].room.participants[h.participant_id].disconnected_at_ms
            )
            # Within the grace the dropped host keeps its place and role.
            state = await v.request({"type": "get_state"})
            assert state["room"]["host_id"] == h.participant_id
            await assert_forbidden(v, {"type": "play"})

            changed = await v.wait_for("host_changed")
            assert srv.server.now_ms() - dropped_at_ms >= GRACE_S * 1000.0
            assert (changed["host_id"], changed["previous_host_id"]) == (
                v.participant_id,
                h.participant_id,
            )
            left = [m for m in v.events if m["type"] == "participant_left"]
            assert [(m["participant_id"], m["reason"]) for m in left] == [
                (h.participant_id, "timeout")
            ]
            await v.play()


async def test_host_resuming_within_the_grace_stays_host(db_path, encoding):
    async with server_with_room(db_path, reconnect_grace_s=5.0) as srv:
        async with (
            srv.client("room1", "host", encoding=encoding) as h,
            srv.client("room1", "viewer", encoding=encoding) as v,
        ):
            await drop(h)
            await v.wait_for("participant_updated", lambda m: not m["participant"]["connected"])
            resume = {"session": h.session, "last_seq": h.seq}
            async with srv.client("room1", resume=resume, encoding=encoding) as h2:
                assert h2.welcome["participant"]["role"] == "host"
                back = await v.wait_for("participant_updated")
                assert back["participant"]["id"] == h.participant_id
                assert back["participant"]["connected"] is True
                await h2.play(1.0)
                assert v.host_id == h.participant_id
                types = [m["type"] for m in v.events]
                assert "host_changed" not in types
                assert "participant_left" not in types


# --- resume ---------------------------------------------------------------------------------
async def test_resume_replays_exactly_the_missed_events(srv, encoding):
    async with (
        srv.client("room1", "host", encoding=encoding) as h,
        srv.client("room1", "roamer", encoding=encoding) as r,
    ):
        await set_role(h, r, "cohost")
        await r.wait_for("participant_updated", lambda m: m["participant"]["role"] == "cohost")
        last_seq, session = r.seq, r.session
        await drop(r)
        await h.wait_for("participant_updated", lambda m: not m["participant"]["connected"])
        mid = await h.chat("while you were away")
        await h.seek(321.0)

        resume = {"session": session, "last_seq": last_seq}
        async with srv.client("room1", resume=resume, encoding=encoding) as r2:
            w = r2.welcome
            assert w["resumed"] is True
            assert w["replay"] == "events"
            assert w["participant"]["id"] == r.participant_id
            assert w["participant"]["role"] == "cohost"
            assert w["participant"]["name"] == "roamer"
            missed = w["missed"]
            assert [e["seq"] for e in missed] == list(range(last_seq + 1, w["seq"] + 1))
            assert [e["type"] for e in missed] == [
                "participant_updated",  # its own drop
                "chat_message",
                "playback",
                "participant_updated",  # its return
            ]
            assert missed[0]["participant"]["connected"] is False
            assert missed[1]["message"]["id"] == mid
            assert (missed[2]["action"], missed[2]["state"]["position_s"]) == ("seek", 321.0)
            assert missed[3]["participant"]["connected"] is True
            assert w["playback"]["position_s"] == 321.0
            back = await h.wait_for("participant_updated", lambda m: m["participant"]["connected"])
            assert back["participant"]["id"] == r.participant_id
            assert back["seq"] == w["seq"]
            # The resumed participant acts with its old role.
            await r2.pause()
            reply = await h.request({"type": "get_participants"})
            assert len(reply["participants"]) == 2


async def test_resume_beyond_the_buffer_replays_full_state(db_path, encoding):
    async with server_with_room(db_path, resume_buffer=2) as srv:
        async with (
            srv.client("room1", "host", encoding=encoding) as h,
            srv.client("room1", "roamer", encoding=encoding) as r,
        ):
            last_seq, session = r.seq, r.session
            await drop(r)
            await h.wait_for("participant_updated", lambda m: not m["participant"]["connected"])
            for i in range(3):
                await h.chat(f"message {i}")
            await h.seek(99.0)
            resume = {"session": session, "last_seq": last_seq}
            async with srv.client("room1", resume=resume, encoding=encoding) as r2:
                w = r2.welcome
                assert (w["resumed"], w["replay"], w["missed"]) == (True, "full", [])
                assert w["participant"]["id"] == r.participant_id
                assert w["seq"] == last_seq + 6  # drop, 3 chats, seek, return
                assert w["playback"]["position_s"] == 99.0
                assert [m["text"] for m in w["chat"]] == [f"message {i}" for i in range(3)]


async def test_resume_after_grace_joins_afresh(db_path, encoding):
    async with server_with_room(db_path, reconnect_grace_s=GRACE_S) as srv:
        async with (
            srv.client("room1", "host", encoding=encoding) as h,
            srv.client("room1", "roamer", encoding=encoding) as r,
        ):
            await set_role(h, r, "cohost")
            last_seq, session = r.seq, r.session
            await drop(r)
            left = await h.wait_for("participant_left")
            assert (left["participant_id"], left["reason"]) == (r.participant_id, "timeout")
            resume = {"session": session, "last_seq": last_seq}
            async with srv.client("room1", resume=resume, encoding=encoding) as r2:
                # Its place is gone: it comes back as a new viewer under the same id.
                assert r2.welcome["resumed"] is False
                assert r2.welcome["participant"]["role"] == "viewer"
                joined = await h.wait_for("participant_joined")
                assert joined["participant"]["id"] == r2.participant_id


# --- wait for everyone ----------------------------------------------------------------------
async def test_wait_for_everyone_times_out_and_ignores_late_joiners(db_path, encoding):
    async with server_with_room(db_path, ready_timeout_s=READY_TIMEOUT_S) as srv:
        async with (
            srv.client("room1", "host", encoding=encoding) as h,
            srv.client("room1", "slowpoke", encoding=encoding) as s,
        ):
            await set_settings(h, wait_for_everyone=True)
            await s.buffer_state(False)  # ready once: now waited for
            await s.buffer_state(True)
            ack = await h.play(30.0)  # s is buffering: the room waits
            waiting = ack["playback"]
            assert (waiting["paused"], waiting["waiting"]) == (True, True)
            ev = await s.wait_for("playback")
            assert (ev["action"], ev["by"]) == ("wait", h.participant_id)
            assert ev["state"]["position_s"] == 30.0

            # A late joiner is never waited for, even while buffering.
            async with srv.client("room1", "latecomer", encoding=encoding) as late:
                assert late.playback["waiting"] is True
                await late.buffer_state(True)

                ev = await h.wait_for("playback", lambda m: m["action"] != "wait")
                # Started no earlier than the ready timeout after the hold began.
                assert ev["state"]["server_time_ms"] >= (
                    waiting["server_time_ms"] + READY_TIMEOUT_S * 1000.0
                )
                assert (ev["action"], ev["by"]) == ("ready_timeout", None)
                assert (ev["state"]["paused"], ev["state"]["waiting"]) == (False, False)
                assert ev["state"]["position_s"] == 30.0

            # Joining and buffering while the room plays does not pause it either.
            async with srv.client("room1", "latest", encoding=encoding) as latest:
                mark = h.mark()
                await latest.buffer_state(True)
                state = await latest.request({"type": "get_state"})
                assert (state["playback"]["paused"], state["playback"]["waiting"]) == (False, False)
                await h.request({"type": "get_state"})
                types = types_since(h, mark)
                assert "participant_updated" in types
                assert "playback" not in types


async def test_wait_for_everyone_resumes_when_all_are_ready(db_path, encoding):
    async with server_with_room(db_path, ready_timeout_s=10.0) as srv:
        async with (
            srv.client("room1", "host", encoding=encoding) as h,
            srv.client("room1", "buffering", encoding=encoding) as b,
        ):
            await set_settings(h, wait_for_everyone=True)
            await b.buffer_state(False)
            await h.play(5.0)
            ev = await b.wait_for("playback")
            assert ev["action"] == "play"  # nobody buffering: no wait

            # Buffering during playback holds the room ...
            await b.buffer_state(True)
            ev = await h.wait_for("playback", lambda m: m["action"] != "play")
            assert (ev["action"], ev["by"]) == ("wait", None)
            assert ev["state"]["paused"] is True
            # ... and being ready again releases it long before the ready timeout.
            with trio.fail_after(2.0):
                await b.buffer_state(False)
                ev = await h.wait_for("playback")
            assert ev["action"] == "resume"
            assert (ev["state"]["paused"], ev["state"]["waiting"]) == (False, False)


async def test_dropping_the_only_blocker_releases_the_wait(db_path, encoding):
    async with server_with_room(db_path, ready_timeout_s=10.0) as srv:
        async with srv.client("room1", "host", encoding=encoding) as h:
            async with srv.client("room1", "flaky", encoding=encoding) as f:
                await set_settings(h, wait_for_everyone=True)
                await f.buffer_state(False)
                await f.buffer_state(True)
                await h.play(0.0)
                ev = await h.wait_for("playback")
                assert ev["action"] == "wait"
                await drop(f)
            with trio.fail_after(2.0):
                ev = await h.wait_for("playback")
            assert ev["action"] == "resume"
            assert ev["state"]["paused"] is False
