"""Every client message type, in both encodings, against a real server.

Each test drives the project's trio client over loopback and checks what the server
answers and what the other participants of the room receive. Absence of a message
is proven by ordering, never by waiting: the server handles one connection's frames
in order and queues a handler's messages before its ``ack``, so whatever was not
queued by the time a later reply arrives was never sent.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from protocol.clock import position_at
from protocol.messages import PROTOCOL_VERSION, SERVER_TYPES
from sync_server.client import ClientClosed, ServerError, SyncClient
from sync_server.control import LocalRoomControl
from tests.conftest import ServerHandle, run_server

ENCODINGS = ["msgpack", "json"]
MEDIA = {"url": "https://example.org/v.mp4", "title": "V", "duration_s": 600.0}

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


def room_position(client: SyncClient, at_ms: float) -> float:
    """The room position client's copy of the playback state gives at server time *at_ms*."""
    pb = client.playback
    return position_at(
        position_s=pb["position_s"],
        paused=pb["paused"],
        rate=pb["rate"],
        reference_ms=pb["server_time_ms"],
        at_ms=at_ms,
        duration_s=(pb.get("media") or {}).get("duration_s"),
    )


async def test_hello_gets_welcome(srv, encoding):
    before_ms = srv.server.now_ms()
    async with srv.client("room1", "alice", encoding=encoding) as a:
        w = a.welcome
        assert w["type"] == "welcome"
        assert w["request_id"] == 1  # the client's first request id, echoed
        assert w["protocol"] == PROTOCOL_VERSION
        assert before_ms <= w["server_time_ms"] <= srv.server.now_ms()
        assert w["participant"]["name"] == "alice"
        assert w["participant"]["role"] == "host"
        assert w["participant"]["guest"] is True
        assert w["resumed"] is False
        assert w["replay"] is None
        assert w["missed"] == []
        assert w["chat"] == []
        assert w["room"]["code"] == "room1"
        assert w["room"]["host_id"] == a.participant_id
        assert w["playback"]["media"] == MEDIA
        assert w["playback"]["paused"] is True
        assert [p["id"] for p in w["participants"]] == [a.participant_id]
        assert w["limits"]["max_frame_bytes"] == srv.server.config.max_frame_bytes
        assert w["web_url"] is None  # serve-sync alone, public_web_url unset
        assert a.media_url() == MEDIA["url"]  # absolute already
        assert isinstance(w["session"], str)
        assert w["session"]
        # The server measures RTT from the first moment: a ping follows the welcome.
        ping = await a.wait_for("ping")
        assert isinstance(ping["nonce"], int)
        assert ping["server_time_ms"] >= w["server_time_ms"]


async def test_second_hello_sees_first_participant_joined(srv, encoding):
    async with srv.client("room1", "alice", encoding=encoding) as a:
        async with srv.client("room1", "bob", encoding=encoding) as b:
            assert b.welcome["participant"]["role"] == "viewer"
            assert {p["name"] for p in b.welcome["participants"]} == {"alice", "bob"}
            ev = await a.wait_for("participant_joined")
            assert ev["participant"]["id"] == b.participant_id
            assert ev["participant"]["name"] == "bob"
            assert ev["seq"] == b.welcome["seq"]
            assert a.seq == b.seq


async def test_time_sync_reply(srv, encoding):
    async with srv.client("room1", "alice", encoding=encoding) as a:
        t0 = time.time() * 1000.0
        reply = await a.request(
            {"type": "time_sync", "client_send_ms": t0, "rtt_ms": 1.5, "offset_ms": -2.25}
        )
        assert reply["type"] == "time_sync_reply"
        assert reply["client_send_ms"] == t0
        assert reply["server_recv_ms"] <= reply["server_send_ms"] <= srv.server.now_ms()
        # The server clock is the wall clock anchored once, so on one host they agree.
        assert abs(reply["server_recv_ms"] - t0) < 1000.0
        estimate = await a.sync_time(samples=8, spacing_s=0.005)
        assert estimate.samples >= 4
        assert abs(estimate.offset_ms) < 50.0
        assert 0.0 <= estimate.rtt_ms < 200.0
        # The reported offset is kept on the participant (it is not public).
        p = srv.server.rooms["room1"].room.participants[a.participant_id]
        assert p.offset_ms is not None


async def test_client_ping_gets_pong(srv, encoding):
    async with srv.client("room1", "alice", encoding=encoding) as a:
        reply = await a.request({"type": "ping", "nonce": "n-42"})
        assert reply["type"] == "pong"
        assert reply["nonce"] == "n-42"
        assert reply["server_time_ms"] <= srv.server.now_ms()


async def test_pong_answers_server_ping_and_measures_rtt(srv, encoding):
    async with srv.client("room1", "alice", encoding=encoding) as a:
        assert a.welcome["participant"]["rtt_ms"] is None
        ping = await a.wait_for("ping")
        await a.send({"type": "pong", "nonce": ping["nonce"]})
        reply = await a.request({"type": "get_participants"})
        (me,) = reply["participants"]
        assert isinstance(me["rtt_ms"], float | int)
        assert 0.0 <= me["rtt_ms"] < 1000.0


async def test_play_pause_seek_rate_media(srv, encoding):
    async with (
        srv.client("room1", "alice", encoding=encoding) as a,
        srv.client("room1", "bob", encoding=encoding) as b,
    ):
        now = srv.server.now_ms()
        ack = await a.play(10.0)
        assert ack["type"] == "ack"
        ev = await b.wait_for("playback")
        assert ev["action"] == "play"
        assert ev["by"] == a.participant_id
        assert ev["seq"] == ack["seq"] == ev["state"]["seq"]
        assert ev["state"] == ack["playback"]
        assert ev["state"]["paused"] is False
        assert ev["state"]["position_s"] == 10.0
        # Scheduled: the start lies ahead by at least the minimum lead.
        lead_ms = ev["state"]["server_time_ms"] - now
        assert srv.server.config.min_lead_ms <= lead_ms <= srv.server.config.max_lead_ms + 50

        ack = await a.pause()
        ev = await b.wait_for("playback")
        assert (ev["action"], ev["seq"]) == ("pause", ack["seq"])
        assert ev["state"]["paused"] is True
        assert 10.0 <= ev["state"]["position_s"] < 11.0

        ack = await a.seek(123.5)
        ev = await b.wait_for("playback")
        assert (ev["action"], ev["seq"]) == ("seek", ack["seq"])
        assert ev["state"]["position_s"] == 123.5
        assert ev["state"]["paused"] is True

        ack = await a.set_rate(1.5)
        ev = await b.wait_for("playback")
        assert (ev["action"], ev["seq"]) == ("set_rate", ack["seq"])
        assert ev["state"]["rate"] == 1.5
        assert ev["state"]["position_s"] == 123.5

        ack = await a.change_media("https://example.org/w.webm", "W", 90.0)
        ev = await b.wait_for("playback")
        assert (ev["action"], ev["seq"]) == ("change_media", ack["seq"])
        assert ev["state"]["media"] == {
            "url": "https://example.org/w.webm",
            "title": "W",
            "duration_s": 90.0,
        }
        assert ev["state"]["paused"] is True
        assert ev["state"]["position_s"] == 0.0
        # Each action was one event, numbered one after the other.
        assert b.seq == a.seq == ack["seq"]
        assert b.playback == a.playback == ev["state"]


async def test_position_report_and_drift_corrections(db_path, encoding):
    async with server_with_room(
        db_path, correction_cooldown_s=0.0, drift_threshold_ms=40.0, drift_seek_ms=1000.0
    ) as srv:
        async with (
            srv.client("room1", "alice", encoding=encoding) as a,
            srv.client("room1", "bob", encoding=encoding) as b,
        ):
            # Paused: a report gives a drift but no correction.
            at = srv.server.now_ms()
            mark = b.mark()
            ack = await b.request(
                {"type": "position_report", "position_s": 0.5, "server_time_ms": at}
            )
            assert ack["drift_ms"] == pytest.approx(500.0, abs=0.1)
            await b.request({"type": "get_state"})
            assert "drift_correction" not in types_since(b, mark)

            await a.play(20.0)
            await b.wait_for("playback")
            # About 200 ms ahead: a rate nudge (slower) long enough to remove it.
            at = srv.server.now_ms()
            ack = await b.request(
                {
                    "type": "position_report",
                    "position_s": room_position(b, at) + 0.2,
                    "server_time_ms": at,
                    "paused": False,
                }
            )
            assert ack["drift_ms"] == pytest.approx(200.0, abs=0.5)
            fix = await b.wait_for("drift_correction")
            assert fix["action"] == "rate"
            assert fix["drift_ms"] == pytest.approx(200.0, abs=0.5)
            assert fix["rate"] == pytest.approx(0.95, abs=0.001)
            assert fix["duration_ms"] == pytest.approx(4000.0, rel=0.01)

            # Five seconds behind: a seek to where the room is.
            at = srv.server.now_ms()
            ack = await b.request(
                {"type": "position_report", "position_s": 15.0, "server_time_ms": at}
            )
            assert ack["drift_ms"] == pytest.approx((15.0 - room_position(b, at)) * 1000.0, abs=0.5)
            fix = await b.wait_for("drift_correction")
            assert fix["action"] == "seek"
            assert fix["drift_ms"] < -4900.0
            assert "rate" not in fix
            assert fix["position_s"] == pytest.approx(
                room_position(b, fix["server_time_ms"]), abs=0.001
            )

            # Within the threshold: nothing to correct.
            at = srv.server.now_ms()
            mark = b.mark()
            ack = await b.request(
                {
                    "type": "position_report",
                    "position_s": room_position(b, at) + 0.01,
                    "server_time_ms": at,
                }
            )
            assert abs(ack["drift_ms"]) < 40.0
            await b.request({"type": "get_state"})
            assert "drift_correction" not in types_since(b, mark)


async def test_participant_stats_carry_drift(db_path, encoding):
    async with server_with_room(db_path, stats_interval_s=0.05) as srv:
        async with (
            srv.client("room1", "alice", encoding=encoding) as a,
            srv.client("room1", "bob", encoding=encoding) as b,
        ):
            at = srv.server.now_ms()
            await b.request({"type": "position_report", "position_s": 0.25, "server_time_ms": at})
            ev = await a.wait_for(
                "participant_stats",
                lambda m: (m["stats"].get(b.participant_id) or {}).get("drift_ms") == 250.0,
            )
            assert set(ev["stats"]) == {a.participant_id, b.participant_id}
            assert ev["stats"][b.participant_id]["buffering"] is False
            assert a.participants[b.participant_id]["drift_ms"] == 250.0


async def test_buffer_state(srv, encoding):
    async with (
        srv.client("room1", "alice", encoding=encoding) as a,
        srv.client("room1", "bob", encoding=encoding) as b,
    ):
        ack = await b.buffer_state(True)
        assert ack["type"] == "ack"
        ev = await a.wait_for("participant_updated", lambda m: m["participant"]["buffering"])
        assert ev["participant"]["id"] == b.participant_id
        await b.buffer_state(False)
        ev = await a.wait_for("participant_updated")
        assert ev["participant"]["buffering"] is False
        assert a.participants[b.participant_id]["buffering"] is False


async def test_chat_send_edit_delete(srv, encoding):
    async with (
        srv.client("room1", "alice", encoding=encoding) as a,
        srv.client("room1", "bob", encoding=encoding) as b,
    ):
        text = "hello ünïcödé 🎬"
        ack = await b.request({"type": "chat_send", "text": text})
        mid = ack["message_id"]
        for c in (a, b):
            ev = await c.wait_for("chat_message")
            assert ev["seq"] == ack["seq"]
            msg = ev["message"]
            assert msg["id"] == mid
            assert msg["text"] == text
            assert msg["participant_id"] == b.participant_id
            assert msg["name"] == "bob"
            assert msg["edited_at_ms"] is None

        ack = await b.edit_chat(mid, "hello, edited")
        assert ack["message_id"] == mid
        for c in (a, b):
            ev = await c.wait_for("chat_edited")
            assert ev["message"]["id"] == mid
            assert ev["message"]["text"] == "hello, edited"
            assert ev["message"]["edited_at_ms"] >= ev["message"]["sent_at_ms"]

        # The host may delete anyone's message.
        ack = await a.delete_chat(mid)
        for c in (a, b):
            ev = await c.wait_for("chat_deleted")
            assert ev["message_id"] == mid
            assert ev["by"] == a.participant_id
            assert ev["seq"] == ack["seq"]
            assert c.chat_log == []


async def test_typing_goes_to_the_others_only(srv, encoding):
    async with (
        srv.client("room1", "alice", encoding=encoding) as a,
        srv.client("room1", "bob", encoding=encoding) as b,
    ):
        mark = b.mark()
        ack = await b.request({"type": "typing", "typing": True})
        assert ack["type"] == "ack"
        ev = await a.wait_for("typing")
        assert ev == {"type": "typing", "participant_id": b.participant_id, "typing": True}
        assert "typing" not in types_since(b, mark)
        await b.request({"type": "typing", "typing": False})
        ev = await a.wait_for("typing")
        assert ev["typing"] is False


async def test_reaction_goes_to_everyone(srv, encoding):
    async with (
        srv.client("room1", "alice", encoding=encoding) as a,
        srv.client("room1", "bob", encoding=encoding) as b,
    ):
        await a.seek(42.0)
        await b.request({"type": "reaction", "emoji": "🎉"})
        for c in (a, b):
            ev = await c.wait_for("reaction")
            assert ev["participant_id"] == b.participant_id
            assert ev["emoji"] == "🎉"
            assert ev["position_s"] == 42.0


async def test_update_settings(srv, encoding):
    async with (
        srv.client("room1", "alice", encoding=encoding) as a,
        srv.client("room1", "bob", encoding=encoding) as b,
    ):
        ack = await a.request(
            {"type": "update_settings", "settings": {"control": "everyone", "chat_enabled": False}}
        )
        assert ack["settings"]["control"] == "everyone"
        assert ack["settings"]["chat_enabled"] is False
        ev = await b.wait_for("settings_changed")
        assert ev["changed"] == {"control": "everyone", "chat_enabled": False}
        assert ev["settings"] == ack["settings"]
        assert b.settings == ack["settings"]
        # A patch that changes nothing is acknowledged without an event.
        mark = b.mark()
        await a.request({"type": "update_settings", "settings": {"control": "everyone"}})
        await b.request({"type": "get_state"})
        assert "settings_changed" not in types_since(b, mark)


async def test_set_role_and_host_hand_over(srv, encoding):
    async with (
        srv.client("room1", "alice", encoding=encoding) as a,
        srv.client("room1", "bob", encoding=encoding) as b,
    ):
        await a.request({"type": "set_role", "participant_id": b.participant_id, "role": "cohost"})
        ev = await b.wait_for("participant_updated", lambda m: m["participant"]["role"] == "cohost")
        assert ev["participant"]["id"] == b.participant_id

        await a.request({"type": "set_role", "participant_id": b.participant_id, "role": "host"})
        ev = await b.wait_for("host_changed")
        assert ev["host_id"] == b.participant_id
        assert ev["previous_host_id"] == a.participant_id
        assert b.participants[a.participant_id]["role"] == "cohost"
        assert b.participants[b.participant_id]["role"] == "host"
        state = await a.request({"type": "get_state"})
        assert state["room"]["host_id"] == b.participant_id


async def test_kick(srv, encoding):
    async with (
        srv.client("room1", "alice", encoding=encoding) as a,
        srv.client("room1", "bob", encoding=encoding) as b,
    ):
        await a.request({"type": "kick", "participant_id": b.participant_id})
        ev = await a.wait_for("participant_left")
        assert ev["participant_id"] == b.participant_id
        assert ev["reason"] == "kicked"
        assert await b.wait_closed() == 4012
        reply = await a.request({"type": "get_participants"})
        assert [p["id"] for p in reply["participants"]] == [a.participant_id]


async def test_get_state_and_participants(srv, encoding):
    async with (
        srv.client("room1", "alice", encoding=encoding) as a,
        srv.client("room1", "bob", encoding=encoding) as b,
    ):
        await a.seek(7.25)
        await b.wait_for("playback")
        state = await b.request({"type": "get_state"})
        assert state["type"] == "state"
        assert state["seq"] == b.seq
        assert state["playback"] == b.playback
        assert state["playback"]["position_s"] == 7.25
        assert state["room"]["host_id"] == a.participant_id
        assert {p["id"] for p in state["participants"]} == {a.participant_id, b.participant_id}
        assert state["server_time_ms"] <= srv.server.now_ms()

        reply = await b.request({"type": "get_participants"})
        assert reply["type"] == "participants"
        assert reply["host_id"] == a.participant_id
        roles = {p["id"]: p["role"] for p in reply["participants"]}
        assert roles == {a.participant_id: "host", b.participant_id: "viewer"}


async def test_leave(srv, encoding):
    async with (
        srv.client("room1", "alice", encoding=encoding) as a,
        srv.client("room1", "bob", encoding=encoding) as b,
    ):
        await a.leave()
        assert await a.wait_closed() == 1000
        ev = await b.wait_for("participant_left")
        assert (ev["participant_id"], ev["reason"]) == (a.participant_id, "left")
        ev = await b.wait_for("host_changed")
        assert ev["host_id"] == b.participant_id
        with pytest.raises(ClientClosed):
            await a.wait_for("chat_message")


async def test_every_server_message_type_is_produced(db_path, encoding):
    """One short session that makes the server send every server-to-client type."""
    async with server_with_room(db_path, stats_interval_s=0.05, correction_cooldown_s=0.0) as srv:
        seen: set[str] = set()
        async with (
            srv.client("room1", "alice", encoding=encoding) as a,
            srv.client("room1", "bob", encoding=encoding) as b,
        ):
            seen.add(a.welcome["type"])
            seen.add((await a.request({"type": "time_sync", "client_send_ms": 1.0}))["type"])
            seen.add((await a.request({"type": "ping"}))["type"])
            seen.add((await a.request({"type": "get_state"}))["type"])
            seen.add((await a.request({"type": "get_participants"}))["type"])
            with pytest.raises(ServerError, match="forbidden"):
                await b.pause()
            await a.play(1.0)
            at = srv.server.now_ms()
            await b.request({"type": "position_report", "position_s": 9.0, "server_time_ms": at})
            await b.wait_for("drift_correction")
            await b.wait_for("participant_stats")
            mid = await b.chat("hi")
            await b.edit_chat(mid, "hi!")
            await b.delete_chat(mid)
            await b.request({"type": "typing", "typing": True})
            await b.request({"type": "reaction", "emoji": "👍"})
            poll = await a.request(
                {"type": "poll_create", "question": "Go on?", "options": ["yes", "no"]}
            )
            await b.request({"type": "poll_vote", "poll_id": poll["poll_id"], "choices": [0]})
            await b.wait_for("poll_results")
            await a.request({"type": "poll_close", "poll_id": poll["poll_id"]})
            seen.add((await b.request({"type": "get_reaction_timeline"}))["type"])
            await b.request({"type": "queue_add", "media": {"url": "https://example.org/n.mp4"}})
            await a.request({"type": "mute", "participant_id": b.participant_id})
            await a.request({"type": "unmute", "participant_id": b.participant_id})
            await a.request({"type": "update_settings", "settings": {"control": "everyone"}})
            # A request to join pushed by the web app reaches the host.
            await LocalRoomControl(srv.server).notify_join_request(
                "room1", user_id="c" * 32, display_name="Carol", requested_at_ms=at
            )
            await a.wait_for("join_request")
            await a.request(
                {"type": "set_role", "participant_id": b.participant_id, "role": "host"}
            )
            await b.leave()
            await a.wait_for("participant_left")
            await a.wait_for("host_changed", lambda m: m["host_id"] == a.participant_id)
            for c in (a, b):
                seen.update(m["type"] for m in c.events)
        assert seen == set(SERVER_TYPES)


async def test_media_paths_resolve_against_the_public_web_url(db_path, encoding):
    async with run_server(db_path, public_web_url="https://watch.example.org/") as handle:
        await handle.server.create_room(
            "lib", "Library", media={"url": "/api/videos/ab/stream/", "title": "A", "duration_s": 5}
        )
        async with handle.client("lib", "alice", encoding=encoding) as a:
            assert a.welcome["web_url"] == "https://watch.example.org"
            assert a.media_url() == "https://watch.example.org/api/videos/ab/stream/"
    async with run_server(db_path) as handle, handle.client("lib", "bob", encoding=encoding) as b:
        # A path with no web app known: a client cannot resolve it, and says so.
        assert b.welcome["web_url"] is None
        assert b.media_url() is None
