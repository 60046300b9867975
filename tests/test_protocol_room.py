"""protocol.room.Room driven directly: time is passed in as now_ms, nothing is awaited."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from protocol.errors import (
    E_CHAT_DISABLED,
    E_FORBIDDEN,
    E_INVALID_MESSAGE,
    E_NO_MEDIA,
    E_NOT_FOUND,
    E_ROOM_FULL,
    ProtocolError,
)
from protocol.room import (
    CONTROL_COHOSTS,
    CONTROL_EVERYONE,
    CONTROL_HOST,
    ROLE_COHOST,
    ROLE_HOST,
    ROLE_VIEWER,
    Room,
    RoomLimits,
    RoomSettings,
)

MEDIA = {"url": "https://media.example/film.mp4", "title": "Film", "duration_s": 600.0}
GRACE_MS = 20_000.0
READY_TIMEOUT_MS = 10_000.0
# With every participant unmeasured the lead is default_rtt_ms * 1.25.
DEFAULT_LEAD_MS = 200.0 * 1.25


def make_room(
    *, settings: RoomSettings | None = None, owner: str | None = None, **limits: Any
) -> Room:
    base = {"reconnect_grace_ms": GRACE_MS, "ready_timeout_ms": READY_TIMEOUT_MS}
    base.update(limits)
    return Room(
        code="abc",
        name="Movie night",
        created_at_ms=0.0,
        settings=settings or RoomSettings(),
        limits=RoomLimits(**base),
        owner_user_id=owner,
    )


def join(room: Room, pid: str, now_ms: float, *, user_id: str | None = None) -> list[dict]:
    _, events = room.join(
        pid, name=pid.upper(), user_id=user_id, guest=user_id is None, now_ms=now_ms
    )
    return events


def room_with(
    *pids: str, media: bool = True, control: str = CONTROL_COHOSTS, wait: bool = False, **limits
) -> Room:
    """A room where pids[0] is host, the others viewers joined 1 ms apart."""
    room = make_room(settings=RoomSettings(control=control, wait_for_everyone=wait), **limits)
    for i, pid in enumerate(pids):
        join(room, pid, float(i))
    if media:
        room.change_media(pids[0], media=MEDIA, now_ms=0.0)
    return room


def fingerprint(room: Room) -> Any:
    """Everything a refused action must leave as it was."""
    return (
        room.seq,
        room.playback.to_dict(),
        room.settings.to_dict(),
        room.host_id,
        {
            pid: (p.role, p.connected, p.buffering, p.waitable)
            for pid, p in room.participants.items()
        },
        room.chat_history(),
        room.next_deadline_ms(),
    )


def assert_refused(room: Room, code: str, action: Callable[[], Any]) -> ProtocolError:
    before = fingerprint(room)
    with pytest.raises(ProtocolError) as info:
        action()
    assert info.value.code == code
    assert fingerprint(room) == before
    return info.value


def types_of(events: list[dict]) -> list[str]:
    return [e["type"] for e in events]


def playback_actions(events: list[dict]) -> list[str]:
    return [e["action"] for e in events if e["type"] == "playback"]


# --- join -----------------------------------------------------------------------------------


def test_first_joiner_becomes_host_and_later_joiners_viewers() -> None:
    room = make_room()
    first = join(room, "a", 0.0)
    assert types_of(first) == ["participant_joined", "participant_updated", "host_changed"]
    assert first[-1]["host_id"] == "a"
    assert first[-1]["previous_host_id"] is None
    second = join(room, "b", 1.0)
    assert types_of(second) == ["participant_joined"]
    assert second[0]["participant"]["role"] == ROLE_VIEWER
    assert room.host_id == "a"
    assert room.participants["a"].role == ROLE_HOST
    assert room.participants["b"].role == ROLE_VIEWER


def test_owner_joining_takes_host_and_old_host_becomes_cohost() -> None:
    room = make_room(owner="u-owner")
    join(room, "a", 0.0, user_id="u-a")
    join(room, "b", 1.0)
    events = join(room, "o", 2.0, user_id="u-owner")
    assert room.host_id == "o"
    assert room.participants["o"].role == ROLE_HOST
    assert room.participants["a"].role == ROLE_COHOST
    assert room.participants["b"].role == ROLE_VIEWER
    host_changed = [e for e in events if e["type"] == "host_changed"]
    assert host_changed == [
        {"type": "host_changed", "seq": room.seq, "host_id": "o", "previous_host_id": "a"}
    ]


def test_guest_without_user_id_never_matches_an_absent_owner() -> None:
    room = make_room(owner=None)
    join(room, "a", 0.0)
    join(room, "b", 1.0)  # user_id None == owner None must not make b host
    assert room.host_id == "a"


def test_join_refused_when_room_full_counting_disconnected_participants() -> None:
    room = make_room(max_participants=2)
    join(room, "a", 0.0)
    join(room, "b", 1.0)
    room.disconnect("b", now_ms=2.0)  # still holds its place within the grace period
    assert_refused(room, E_ROOM_FULL, lambda: join(room, "c", 3.0))
    assert "c" not in room.participants


# --- events and resume ----------------------------------------------------------------------


def run_script(room: Room) -> list[dict]:
    events: list[dict] = []
    events += join(room, "a", 0.0)
    events += join(room, "b", 1.0)
    events += room.change_media("a", media=MEDIA, now_ms=2.0)
    events += room.play("a", position_s=None, now_ms=3.0)
    events += room.seek("a", position_s=30.0, now_ms=1_000.0)
    events += room.set_rate("a", rate=1.5, now_ms=2_000.0)
    events += room.pause("a", now_ms=3_000.0)
    events += room.update_settings("a", {"chat_enabled": False}, now_ms=3_001.0)
    events += room.set_role("a", "b", ROLE_COHOST)
    events += room.leave("b", now_ms=4_000.0)
    return events


def test_events_carry_consecutive_seq() -> None:
    room = make_room()
    events = run_script(room)
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert room.seq == len(events)
    playbacks = [e for e in events if e["type"] == "playback"]
    assert all(e["state"]["seq"] == e["seq"] for e in playbacks)
    assert room.playback.seq == playbacks[-1]["seq"]


def test_events_since_returns_exactly_the_missed_events() -> None:
    room = make_room()
    events = run_script(room)
    for last_seq in range(len(events)):
        assert room.events_since(last_seq) == events[last_seq:]
    assert room.events_since(room.seq) == []


def test_events_since_is_none_when_too_old_or_ahead() -> None:
    room = make_room(resume_buffer=3)
    events = run_script(room)
    assert len(events) > 4
    newest = room.seq
    assert room.events_since(newest - 3) == events[-3:]  # the oldest kept event is next
    assert room.events_since(newest - 4) is None  # one missed event is gone
    assert room.events_since(0) is None
    assert room.events_since(newest) == []
    assert room.events_since(newest + 1) is None  # ahead, as after a restart


def test_refused_actions_emit_no_event_and_use_no_seq() -> None:
    room = room_with("a", "b", control=CONTROL_HOST)
    seq = room.seq
    with pytest.raises(ProtocolError):
        room.play("b", position_s=None, now_ms=10.0)
    assert room.seq == seq
    assert room.play("a", position_s=None, now_ms=11.0)[0]["seq"] == seq + 1


# --- permissions -----------------------------------------------------------------------------

PLAYBACK_ACTIONS: dict[str, Callable[[Room, str], list[dict]]] = {
    "play": lambda room, pid: room.play(pid, position_s=5.0, now_ms=100.0),
    "pause": lambda room, pid: room.pause(pid, now_ms=100.0),
    "seek": lambda room, pid: room.seek(pid, position_s=42.0, now_ms=100.0),
    "set_rate": lambda room, pid: room.set_rate(pid, rate=1.5, now_ms=100.0),
    "change_media": lambda room, pid: room.change_media(
        pid, media={"url": "/media/other.mp4", "title": "", "duration_s": None}, now_ms=100.0
    ),
}

ALLOWED = {
    CONTROL_HOST: {ROLE_HOST},
    CONTROL_COHOSTS: {ROLE_HOST, ROLE_COHOST},
    CONTROL_EVERYONE: {ROLE_HOST, ROLE_COHOST, ROLE_VIEWER},
}


@pytest.mark.parametrize("action", sorted(PLAYBACK_ACTIONS))
@pytest.mark.parametrize("control", [CONTROL_HOST, CONTROL_COHOSTS, CONTROL_EVERYONE])
@pytest.mark.parametrize("role", [ROLE_HOST, ROLE_COHOST, ROLE_VIEWER])
def test_playback_permissions(action: str, control: str, role: str) -> None:
    room = room_with("host", "co", "viewer", control=control)
    room.set_role("host", "co", ROLE_COHOST)
    pid = {ROLE_HOST: "host", ROLE_COHOST: "co", ROLE_VIEWER: "viewer"}[role]
    assert room.can_control(pid) is (role in ALLOWED[control])
    if role in ALLOWED[control]:
        seq = room.seq
        events = PLAYBACK_ACTIONS[action](room, pid)
        assert playback_actions(events) == [action]
        assert events[-1]["by"] == pid
        assert room.seq == seq + 1
    else:
        err = assert_refused(room, E_FORBIDDEN, lambda: PLAYBACK_ACTIONS[action](room, pid))
        assert role in err.message


def test_unknown_participant_cannot_control() -> None:
    room = room_with("a", control=CONTROL_EVERYONE)
    assert room.can_control("ghost") is False
    assert_refused(room, E_NOT_FOUND, lambda: room.play("ghost", position_s=None, now_ms=5.0))


HOST_ONLY: dict[str, Callable[[Room, str], list[dict]]] = {
    "update_settings": lambda room, pid: room.update_settings(
        pid, {"control": CONTROL_HOST}, now_ms=100.0
    ),
    "set_role": lambda room, pid: room.set_role(pid, "viewer", ROLE_COHOST),
    "kick": lambda room, pid: room.kick(pid, "viewer", now_ms=100.0),
}


@pytest.mark.parametrize("action", sorted(HOST_ONLY))
@pytest.mark.parametrize("control", [CONTROL_COHOSTS, CONTROL_EVERYONE])
def test_administration_is_host_only(action: str, control: str) -> None:
    room = room_with("host", "co", "viewer", control=control)
    room.set_role("host", "co", ROLE_COHOST)
    for pid in ("co", "viewer"):
        assert_refused(room, E_FORBIDDEN, lambda pid=pid: HOST_ONLY[action](room, pid))
    assert HOST_ONLY[action](room, "host") != []


def test_host_administration_effects() -> None:
    room = room_with("host", "viewer", "other")
    events = room.update_settings(
        "host", {"control": CONTROL_HOST, "chat_enabled": None}, now_ms=5.0
    )
    assert types_of(events) == ["settings_changed"]
    assert events[0]["changed"] == {"control": CONTROL_HOST}
    assert room.update_settings("host", {"control": CONTROL_HOST}, now_ms=6.0) == []

    room.set_role("host", "viewer", ROLE_COHOST)
    assert room.participants["viewer"].role == ROLE_COHOST
    assert room.set_role("host", "viewer", ROLE_COHOST) == []  # no change, no event

    events = room.kick("host", "other", now_ms=7.0)
    assert events[0] == {
        "type": "participant_left",
        "seq": events[0]["seq"],
        "participant_id": "other",
        "reason": "kicked",
    }
    assert "other" not in room.participants

    assert_refused(room, E_INVALID_MESSAGE, lambda: room.kick("host", "host", now_ms=8.0))
    assert_refused(room, E_INVALID_MESSAGE, lambda: room.set_role("host", "host", ROLE_VIEWER))
    assert_refused(room, E_NOT_FOUND, lambda: room.kick("host", "ghost", now_ms=8.0))


def test_set_role_host_hands_over_and_old_host_becomes_cohost() -> None:
    room = room_with("a", "b")
    events = room.set_role("a", "b", ROLE_HOST)
    assert room.host_id == "b"
    assert room.participants["a"].role == ROLE_COHOST
    assert events[-1]["type"] == "host_changed"
    assert events[-1]["previous_host_id"] == "a"


@pytest.mark.parametrize("action", ["play", "pause", "seek"])
def test_playback_without_media_is_refused(action: str) -> None:
    room = room_with("a", media=False)
    assert_refused(room, E_NO_MEDIA, lambda: PLAYBACK_ACTIONS[action](room, "a"))


# --- play, pause, seek, rate, media ----------------------------------------------------------


def test_play_is_scheduled_after_a_lead_from_the_largest_rtt() -> None:
    room = room_with("a", "b", "c")
    room.record_rtt("a", 100.0)
    room.record_rtt("b", 300.0)
    room.record_rtt("c", 20.0)
    events = room.play("a", position_s=10.0, now_ms=1_000.0)
    lead = 300.0 * 1.25
    assert room.lead_ms() == lead
    pb = room.playback
    assert (pb.paused, pb.position_s, pb.server_time_ms) == (False, 10.0, 1_000.0 + lead)
    assert events[-1]["state"]["server_time_ms"] == 1_000.0 + lead
    # Until the scheduled instant the position holds; then it advances at the rate.
    assert pb.position_at(1_000.0) == 10.0
    assert pb.position_at(1_000.0 + lead) == 10.0
    assert pb.position_at(1_000.0 + lead + 2_000.0) == pytest.approx(12.0)


def test_lead_uses_default_rtt_for_unmeasured_and_ignores_disconnected() -> None:
    room = room_with("a", "b", "c")
    room.record_rtt("a", 40.0)
    # b and c are unmeasured: the default RTT (200 ms) counts.
    assert room.lead_ms() == DEFAULT_LEAD_MS
    room.record_rtt("b", 40.0)
    room.record_rtt("c", 900.0)
    room.disconnect("c", now_ms=1.0)
    assert room.lead_ms() == 50.0  # 40 * 1.25 = 50 is also min_lead_ms


@pytest.mark.parametrize(("rtt_ms", "lead_ms"), [(1.0, 50.0), (10_000.0, 1_000.0), (400.0, 500.0)])
def test_lead_is_clamped(rtt_ms: float, lead_ms: float) -> None:
    room = room_with("a")
    room.record_rtt("a", rtt_ms)
    room.play("a", position_s=0.0, now_ms=0.0)
    assert room.playback.server_time_ms == lead_ms


def test_play_without_position_starts_where_the_room_is() -> None:
    room = room_with("a")
    room.seek("a", position_s=33.0, now_ms=10.0)
    room.play("a", position_s=None, now_ms=20.0)
    assert room.playback.position_s == 33.0


def test_pause_freezes_at_the_position_at_now() -> None:
    room = room_with("a")
    room.play("a", position_s=10.0, now_ms=0.0)
    start_ms = room.playback.server_time_ms
    events = room.pause("a", now_ms=start_ms + 3_000.0)
    pb = room.playback
    assert pb.paused is True
    assert pb.position_s == pytest.approx(13.0)
    assert pb.server_time_ms == start_ms + 3_000.0
    assert pb.position_at(start_ms + 60_000.0) == pytest.approx(13.0)
    assert events[-1]["state"]["position_s"] == pytest.approx(13.0)


def test_pause_before_a_scheduled_start_keeps_the_start_position() -> None:
    room = room_with("a")
    room.play("a", position_s=10.0, now_ms=0.0)
    assert room.playback.server_time_ms == DEFAULT_LEAD_MS
    room.pause("a", now_ms=DEFAULT_LEAD_MS / 2)  # before the scheduled start
    assert room.playback.position_s == 10.0
    assert room.playback.paused is True


def test_seek_while_playing_is_scheduled() -> None:
    room = room_with("a")
    room.play("a", position_s=0.0, now_ms=0.0)
    room.seek("a", position_s=100.0, now_ms=5_000.0)
    pb = room.playback
    assert (pb.paused, pb.position_s, pb.server_time_ms) == (
        False,
        100.0,
        5_000.0 + DEFAULT_LEAD_MS,
    )


def test_seek_while_paused_is_not_scheduled() -> None:
    room = room_with("a")
    room.seek("a", position_s=100.0, now_ms=5_000.0)
    pb = room.playback
    assert (pb.paused, pb.position_s, pb.server_time_ms) == (True, 100.0, 5_000.0)


def test_set_rate_while_playing_keeps_the_position_continuous() -> None:
    room = room_with("a")
    room.play("a", position_s=0.0, now_ms=0.0)
    start = room.playback.server_time_ms
    now = start + 10_000.0
    before = room.playback.position_at(now)
    assert before == pytest.approx(10.0)
    room.set_rate("a", rate=2.0, now_ms=now)
    pb = room.playback
    assert pb.rate == 2.0
    assert pb.position_at(now) == pytest.approx(before)
    assert pb.position_at(now + 10.0) == pytest.approx(before + 0.02)
    assert pb.position_at(now + 1_000.0) == pytest.approx(before + 2.0)
    # A pause right after the change freezes where the room really is.
    room.pause("a", now_ms=now + 10.0)
    assert room.playback.position_s == pytest.approx(before + 0.02)


def test_set_rate_before_a_scheduled_start_keeps_the_start() -> None:
    room = room_with("a")
    room.play("a", position_s=7.0, now_ms=0.0)
    room.set_rate("a", rate=0.5, now_ms=10.0)
    pb = room.playback
    assert (pb.position_s, pb.server_time_ms, pb.rate) == (7.0, DEFAULT_LEAD_MS, 0.5)
    assert pb.position_at(DEFAULT_LEAD_MS + 2_000.0) == pytest.approx(8.0)


def test_set_rate_while_paused_changes_only_the_rate() -> None:
    room = room_with("a")
    room.seek("a", position_s=20.0, now_ms=5.0)
    room.set_rate("a", rate=1.25, now_ms=100.0)
    pb = room.playback
    assert (pb.paused, pb.position_s, pb.server_time_ms, pb.rate) == (True, 20.0, 5.0, 1.25)


def test_change_media_resets_playback_and_drift() -> None:
    room = room_with("a", "b", wait=True)
    room.play("a", position_s=50.0, now_ms=0.0)
    room.report_position("b", position_s=50.0, server_time_ms=DEFAULT_LEAD_MS + 1_000.0)
    assert room.participants["b"].drift_ms is not None
    new_media = {"url": "/media/next.mp4", "title": "Next", "duration_s": 90.0}
    events = room.change_media("a", media=new_media, now_ms=5_000.0)
    pb = room.playback
    assert pb.media == new_media
    assert pb.media is not new_media  # the room keeps its own copy
    assert (pb.paused, pb.position_s, pb.server_time_ms, pb.waiting) == (True, 0.0, 5_000.0, False)
    assert room.participants["b"].drift_ms is None
    assert events[-1]["state"]["media"] == new_media


def test_positions_never_pass_the_duration() -> None:
    room = room_with("a")  # duration 600 s
    room.play("a", position_s=599.0, now_ms=0.0)
    assert room.playback.position_at(DEFAULT_LEAD_MS + 10_000.0) == 600.0
    room.play("a", position_s=700.0, now_ms=20_000.0)
    assert room.playback.position_s == 600.0
    room.seek("a", position_s=9_999.0, now_ms=30_000.0)
    assert room.playback.position_s == 600.0
    room.pause("a", now_ms=99_000.0)
    assert room.playback.position_s == 600.0


# --- presence and host hand-over -------------------------------------------------------------


def test_leaving_host_hands_over_to_a_cohost_before_an_earlier_viewer() -> None:
    room = room_with("host", "early", "co")
    room.set_role("host", "co", ROLE_COHOST)
    events = room.leave("host", now_ms=100.0)
    assert types_of(events) == ["participant_left", "participant_updated", "host_changed"]
    assert events[-1]["host_id"] == "co"
    assert events[-1]["previous_host_id"] == "host"
    assert room.host_id == "co"
    assert room.participants["co"].role == ROLE_HOST
    assert room.participants["early"].role == ROLE_VIEWER


def test_leaving_host_hands_over_to_the_earliest_connected_joiner() -> None:
    room = room_with("host", "first", "second", "third")
    room.disconnect("first", now_ms=50.0)  # disconnected participants are skipped
    room.leave("host", now_ms=100.0)
    assert room.host_id == "second"


def test_last_host_leaving_empties_the_host() -> None:
    room = room_with("host")
    events = room.leave("host", now_ms=100.0)
    assert events[-1] == {
        "type": "host_changed",
        "seq": room.seq,
        "host_id": None,
        "previous_host_id": "host",
    }
    assert room.host_id is None
    assert room.leave("host", now_ms=101.0) == []  # already gone


def test_host_is_handed_over_when_its_grace_expires() -> None:
    room = room_with("host", "b")
    events = room.disconnect("host", now_ms=1_000.0)
    assert types_of(events) == ["participant_updated"]
    assert events[0]["participant"]["connected"] is False
    assert room.host_id == "host"  # keeps host within its grace
    assert room.next_deadline_ms() == 1_000.0 + GRACE_MS
    assert room.expire(1_000.0 + GRACE_MS - 1.0) == []
    events = room.expire(1_000.0 + GRACE_MS)
    assert events[0]["type"] == "participant_left"
    assert events[0]["reason"] == "timeout"
    assert events[-1]["type"] == "host_changed"
    assert room.host_id == "b"
    assert "host" not in room.participants
    assert room.next_deadline_ms() is None


def test_reconnect_within_grace_keeps_role_and_id() -> None:
    room = room_with("host", "b")
    room.set_role("host", "b", ROLE_COHOST)
    room.disconnect("host", now_ms=1_000.0)
    room.disconnect("b", now_ms=1_000.0)
    assert room.disconnect("b", now_ms=1_001.0) == []  # already disconnected
    events = room.reconnect("host", now_ms=1_000.0 + GRACE_MS - 1.0)
    assert types_of(events) == ["participant_updated"]
    room.reconnect("b", now_ms=1_000.0 + GRACE_MS - 1.0)
    assert room.host_id == "host"
    assert room.participants["host"].role == ROLE_HOST
    assert room.participants["b"].role == ROLE_COHOST
    assert room.next_deadline_ms() is None
    assert room.expire(1_000.0 + GRACE_MS * 10) == []
    assert room.reconnect("b", now_ms=0.0) == []  # already connected


def test_reconnect_of_an_unknown_participant_is_not_found() -> None:
    room = room_with("host")
    assert_refused(room, E_NOT_FOUND, lambda: room.reconnect("ghost", now_ms=1.0))


def test_reconnect_into_a_hostless_room_takes_host() -> None:
    room = room_with("host", "b")
    room.disconnect("b", now_ms=1.0)
    room.leave("host", now_ms=2.0)  # nobody connected to hand over to
    assert room.host_id is None
    events = room.reconnect("b", now_ms=3.0)
    assert events[-1]["type"] == "host_changed"
    assert room.host_id == "b"


# --- wait for everyone ------------------------------------------------------------------------


def waiting_room() -> Room:
    """Host a and viewer b in a wait-for-everyone room; b has reported ready once."""
    room = room_with("a", "b", wait=True)
    events = room.set_buffering("b", buffering=False, now_ms=10.0)
    assert types_of(events) == ["participant_updated"]
    assert room.participants["b"].waitable is True
    return room


def test_play_waits_for_a_buffering_participant_then_resumes() -> None:
    room = waiting_room()
    room.set_buffering("b", buffering=True, now_ms=20.0)
    events = room.play("a", position_s=5.0, now_ms=1_000.0)
    assert playback_actions(events) == ["wait"]
    pb = room.playback
    assert (pb.waiting, pb.paused, pb.position_s) == (True, True, 5.0)
    assert events[-1]["state"]["waiting"] is True
    assert room.next_deadline_ms() == 1_000.0 + READY_TIMEOUT_MS
    assert room.report_position("a", position_s=5.0, server_time_ms=1_100.0) is None

    events = room.set_buffering("b", buffering=False, now_ms=1_500.0)
    assert playback_actions(events) == ["resume"]
    assert events[-1]["by"] is None
    pb = room.playback
    assert (pb.waiting, pb.paused, pb.position_s) == (False, False, 5.0)
    assert pb.server_time_ms == 1_500.0 + DEFAULT_LEAD_MS
    assert room.next_deadline_ms() is None


def test_ready_timeout_plays_on_and_stops_waiting_for_the_blocker() -> None:
    room = waiting_room()
    room.set_buffering("b", buffering=True, now_ms=20.0)
    room.play("a", position_s=5.0, now_ms=1_000.0)
    deadline = 1_000.0 + READY_TIMEOUT_MS
    assert room.expire(deadline - 1.0) == []
    assert room.playback.waiting is True
    events = room.expire(deadline)
    assert playback_actions(events) == ["ready_timeout"]
    pb = room.playback
    assert (pb.waiting, pb.paused, pb.position_s) == (False, False, 5.0)
    assert pb.server_time_ms == deadline + DEFAULT_LEAD_MS
    assert room.participants["b"].waitable is False
    # Still buffering but no longer waited for: a new play starts at once.
    room.pause("a", now_ms=deadline + 1_000.0)
    assert playback_actions(room.play("a", position_s=None, now_ms=deadline + 2_000.0)) == ["play"]


def test_a_late_joiner_that_never_reported_ready_never_blocks() -> None:
    room = room_with("a", wait=True)
    join(room, "late", 5.0)
    room.set_buffering("late", buffering=True, now_ms=6.0)
    assert room.participants["late"].waitable is False
    assert playback_actions(room.play("a", position_s=0.0, now_ms=10.0)) == ["play"]
    events = room.set_buffering("late", buffering=True, now_ms=20.0)
    assert events == []  # nothing changed


def test_buffering_during_playback_holds_the_room() -> None:
    room = waiting_room()
    room.play("a", position_s=0.0, now_ms=0.0)
    now = DEFAULT_LEAD_MS + 4_000.0
    events = room.set_buffering("b", buffering=True, now_ms=now)
    assert playback_actions(events) == ["wait"]
    pb = room.playback
    assert (pb.waiting, pb.paused) == (True, True)
    assert pb.position_s == pytest.approx(4.0)
    events = room.set_buffering("b", buffering=False, now_ms=now + 2_000.0)
    assert playback_actions(events) == ["resume"]
    assert room.playback.position_s == pytest.approx(4.0)
    assert room.playback.server_time_ms == now + 2_000.0 + DEFAULT_LEAD_MS


def test_buffering_does_not_hold_the_room_without_wait_for_everyone() -> None:
    room = room_with("a", "b", wait=False)
    room.set_buffering("b", buffering=False, now_ms=1.0)
    room.play("a", position_s=0.0, now_ms=2.0)
    events = room.set_buffering("b", buffering=True, now_ms=1_000.0)
    assert playback_actions(events) == []
    assert room.playback.paused is False


def test_pause_cancels_a_wait() -> None:
    room = waiting_room()
    room.set_buffering("b", buffering=True, now_ms=20.0)
    room.play("a", position_s=5.0, now_ms=1_000.0)
    events = room.pause("a", now_ms=2_000.0)
    assert playback_actions(events) == ["pause"]
    pb = room.playback
    assert (pb.waiting, pb.paused, pb.position_s) == (False, True, 5.0)
    assert room.next_deadline_ms() is None
    assert playback_actions(room.set_buffering("b", buffering=False, now_ms=3_000.0)) == []
    assert room.expire(1_000.0 + READY_TIMEOUT_MS) == []
    assert room.playback.paused is True


def test_disconnecting_blocker_releases_the_wait() -> None:
    room = waiting_room()
    room.set_buffering("b", buffering=True, now_ms=20.0)
    room.play("a", position_s=5.0, now_ms=1_000.0)
    events = room.disconnect("b", now_ms=1_200.0)
    assert playback_actions(events) == ["resume"]
    assert room.playback.paused is False
    assert room.participants["b"].buffering is False
    assert events[0]["participant"]["buffering"] is False


def test_a_reconnected_participant_is_not_waited_for_until_ready_again() -> None:
    room = waiting_room()
    room.disconnect("b", now_ms=100.0)
    room.reconnect("b", now_ms=200.0)
    assert room.participants["b"].waitable is False
    room.set_buffering("b", buffering=True, now_ms=300.0)
    assert playback_actions(room.play("a", position_s=0.0, now_ms=400.0)) == ["play"]
    room.pause("a", now_ms=500.0)
    room.set_buffering("b", buffering=False, now_ms=600.0)  # ready: waited for again
    room.set_buffering("b", buffering=True, now_ms=700.0)
    assert playback_actions(room.play("a", position_s=0.0, now_ms=800.0)) == ["wait"]


def test_buffering_while_paused_records_but_does_not_wait() -> None:
    room = waiting_room()
    events = room.set_buffering("b", buffering=True, now_ms=100.0)
    assert types_of(events) == ["participant_updated"]
    assert events[0]["participant"]["buffering"] is True
    assert (room.playback.waiting, room.playback.paused) == (False, True)
    assert room.next_deadline_ms() is None


def test_turning_wait_for_everyone_off_resumes_a_wait() -> None:
    room = waiting_room()
    room.set_buffering("b", buffering=True, now_ms=20.0)
    room.play("a", position_s=5.0, now_ms=1_000.0)
    events = room.update_settings("a", {"wait_for_everyone": False}, now_ms=1_300.0)
    assert types_of(events) == ["settings_changed", "playback"]
    assert playback_actions(events) == ["resume"]
    assert room.playback.server_time_ms == 1_300.0 + DEFAULT_LEAD_MS


def test_seek_during_a_wait_moves_the_pending_start() -> None:
    room = waiting_room()
    room.set_buffering("b", buffering=True, now_ms=20.0)
    room.play("a", position_s=5.0, now_ms=1_000.0)
    room.seek("a", position_s=50.0, now_ms=1_100.0)
    assert room.playback.waiting is True
    room.set_buffering("b", buffering=False, now_ms=1_200.0)
    assert room.playback.position_s == 50.0
    assert room.playback.paused is False


# --- drift and RTT ----------------------------------------------------------------------------


def test_report_position_drift_is_in_ms_and_positive_when_ahead() -> None:
    room = room_with("a", "b")
    room.play("a", position_s=10.0, now_ms=0.0)
    at = DEFAULT_LEAD_MS + 2_000.0  # the room is at 12.0 s here
    ahead = room.report_position("b", position_s=12.05, server_time_ms=at)
    assert ahead == pytest.approx(50.0)
    assert room.participants["b"].drift_ms == pytest.approx(50.0)
    behind = room.report_position("b", position_s=11.9, server_time_ms=at)
    assert behind == pytest.approx(-100.0)
    assert room.participants["b"].drift_ms == pytest.approx(-100.0)
    assert room.participants["b"].public()["drift_ms"] == pytest.approx(-100.0)


def test_report_position_without_media_is_none() -> None:
    room = room_with("a", "b", media=False)
    assert room.report_position("b", position_s=1.0, server_time_ms=0.0) is None
    assert room.participants["b"].drift_ms is None


def test_report_position_with_absurd_server_time_is_none_not_infinite() -> None:
    room = room_with("a", "b", media=False)
    room.change_media("a", media={"url": "/m.mp4", "title": "", "duration_s": None}, now_ms=0.0)
    room.set_rate("a", rate=4.0, now_ms=0.0)
    room.play("a", position_s=0.0, now_ms=0.0)
    room.report_position("b", position_s=1.0, server_time_ms=2_000.0)
    assert room.report_position("b", position_s=0.0, server_time_ms=1.7e308) is None
    assert room.participants["b"].drift_ms is None
    json.dumps(room.public_participants(), allow_nan=False)


def test_record_rtt_takes_drops_at_once_and_rises_slowly() -> None:
    room = room_with("a")
    room.record_rtt("a", 100.0)
    assert room.participants["a"].rtt_ms == 100.0
    room.record_rtt("a", 200.0)  # one slow pong: 0.8 * 100 + 0.2 * 200
    assert room.participants["a"].rtt_ms == pytest.approx(120.0)
    room.record_rtt("a", 200.0)
    assert room.participants["a"].rtt_ms == pytest.approx(136.0)
    room.record_rtt("a", 30.0)  # a faster sample is taken as is
    assert room.participants["a"].rtt_ms == 30.0
    room.record_rtt("ghost", 5.0)  # unknown participants are ignored
    assert "ghost" not in room.participants


# --- chat ------------------------------------------------------------------------------------


def message(mid: int, author: str = "a", text: str | None = None) -> dict[str, Any]:
    return {
        "id": mid,
        "participant_id": author,
        "name": author.upper(),
        "text": text or f"message {mid}",
        "sent_at_ms": float(mid),
    }


def test_check_chat() -> None:
    room = room_with("a", max_chat_chars=10)
    assert room.check_chat("a", "x" * 10) is room.participants["a"]
    assert_refused(room, E_INVALID_MESSAGE, lambda: room.check_chat("a", " \t\n "))
    err = assert_refused(room, E_INVALID_MESSAGE, lambda: room.check_chat("a", "x" * 11))
    assert "10" in err.message
    assert "11" in err.message
    assert_refused(room, E_NOT_FOUND, lambda: room.check_chat("ghost", "hi"))
    room.update_settings("a", {"chat_enabled": False}, now_ms=1.0)
    assert_refused(room, E_CHAT_DISABLED, lambda: room.check_chat("a", "hi"))


def test_chat_add_edit_delete_and_bounded_history_in_order() -> None:
    room = room_with("a", chat_history=3)
    for mid in range(1, 6):
        events = room.add_chat(message(mid))
        assert events == [{"type": "chat_message", "seq": room.seq, "message": message(mid)}]
    assert [m["id"] for m in room.chat_history()] == [3, 4, 5]

    edited = message(4, text="edited")
    events = room.edit_chat(edited)
    assert types_of(events) == ["chat_edited"]
    assert room.chat_history() == [message(3), edited, message(5)]

    events = room.delete_chat(3, by="a")
    assert events == [{"type": "chat_deleted", "seq": room.seq, "message_id": 3, "by": "a"}]
    assert [m["id"] for m in room.chat_history()] == [4, 5]
    room.add_chat(message(6))
    room.add_chat(message(7))
    assert [m["id"] for m in room.chat_history()] == [5, 6, 7]


def test_load_chat_fills_history_without_events() -> None:
    room = room_with("a", chat_history=2)
    seq = room.seq
    room.load_chat([message(1), message(2), message(3)])
    assert [m["id"] for m in room.chat_history()] == [2, 3]
    assert room.seq == seq


def test_only_the_author_edits_a_chat_message() -> None:
    room = room_with("host", "author")
    room.check_chat_edit("author", "author", "fixed typo")
    assert_refused(room, E_FORBIDDEN, lambda: room.check_chat_edit("host", "author", "mine now"))
    assert_refused(room, E_INVALID_MESSAGE, lambda: room.check_chat_edit("author", "author", " "))


def test_author_host_and_cohost_may_delete_a_chat_message() -> None:
    room = room_with("host", "author", "co", "other")
    room.set_role("host", "co", ROLE_COHOST)
    for pid in ("author", "host", "co"):
        room.check_chat_delete(pid, "author")
    assert_refused(room, E_FORBIDDEN, lambda: room.check_chat_delete("other", "author"))


# --- snapshots --------------------------------------------------------------------------------


def restore(room: Room, snapshot: dict[str, Any], now_ms: float) -> Room:
    snapshot = json.loads(json.dumps(snapshot))  # as stored: JSON all the way
    return Room.restore(
        code=room.code,
        name=room.name,
        created_at_ms=room.created_at_ms,
        settings=room.settings.to_dict(),
        state=snapshot,
        last_seq=room.seq,
        limits=room.limits,
        now_ms=now_ms,
    )


def test_snapshot_restore_round_trip() -> None:
    room = make_room(
        settings=RoomSettings(control=CONTROL_HOST, chat_enabled=False, wait_for_everyone=True),
        owner="u-owner",
    )
    join(room, "o", 0.0, user_id="u-owner")
    join(room, "co", 1.0, user_id="u-co")
    join(room, "g", 2.0)
    room.set_role("o", "co", ROLE_COHOST)
    room.change_media("o", media=MEDIA, now_ms=3.0)
    room.seek("o", position_s=42.0, now_ms=4.0)
    snap = room.snapshot(now_ms=5_000.0)

    restored = restore(room, snap, now_ms=6_000.0)
    assert restored.settings == room.settings
    assert restored.owner_user_id == "u-owner"
    assert restored.playback.to_dict() == room.playback.to_dict()
    assert restored.seq == room.seq
    assert restored.events_since(room.seq) == []
    assert restored.events_since(room.seq - 1) is None  # no events survive a restart
    assert restored.host_id == "o"
    assert {pid: (p.role, p.user_id, p.guest) for pid, p in restored.participants.items()} == {
        "o": (ROLE_HOST, "u-owner", False),
        "co": (ROLE_COHOST, "u-co", False),
        "g": (ROLE_VIEWER, None, True),
    }
    assert all(not p.connected for p in restored.participants.values())
    assert restored.next_deadline_ms() == 6_000.0 + GRACE_MS
    assert restored.dirty is False
    # Reconnecting in time keeps the role; the others leave when their grace ends.
    restored.reconnect("co", now_ms=7_000.0)
    events = restored.expire(6_000.0 + GRACE_MS)
    assert sorted(e["participant_id"] for e in events if e["type"] == "participant_left") == [
        "g",
        "o",
    ]
    assert restored.host_id == "co"


def test_playing_room_restored_within_grace_keeps_playing() -> None:
    room = room_with("a")
    room.play("a", position_s=100.0, now_ms=0.0)
    snap = room.snapshot(now_ms=10_000.0)
    now = 10_000.0 + GRACE_MS  # a gap of exactly the grace period
    restored = restore(room, snap, now_ms=now)
    assert restored.playback.paused is False
    assert restored.playback.position_at(now) == pytest.approx(room.playback.position_at(now))
    assert restored.playback.position_at(now) == pytest.approx(
        100.0 + (now - DEFAULT_LEAD_MS) / 1e3
    )


def test_playing_room_restored_after_a_long_gap_is_paused_at_the_snapshot_position() -> None:
    room = room_with("a")
    room.play("a", position_s=100.0, now_ms=0.0)
    snap_at = 10_000.0
    snap = room.snapshot(now_ms=snap_at)
    now = snap_at + GRACE_MS + 1.0
    restored = restore(room, snap, now_ms=now)
    pb = restored.playback
    assert pb.paused is True
    assert pb.position_s == pytest.approx(room.playback.position_at(snap_at))
    assert pb.position_s == pytest.approx(100.0 + (snap_at - DEFAULT_LEAD_MS) / 1e3)
    assert pb.server_time_ms == now
    assert pb.position_at(now + 60_000.0) == pb.position_s


def test_waiting_room_is_restored_paused_and_not_waiting() -> None:
    room = waiting_room()
    room.set_buffering("b", buffering=True, now_ms=20.0)
    room.play("a", position_s=5.0, now_ms=1_000.0)
    restored = restore(room, room.snapshot(now_ms=1_100.0), now_ms=1_200.0)
    pb = restored.playback
    assert (pb.paused, pb.waiting, pb.position_s) == (True, False, 5.0)
    assert restored.next_deadline_ms() == 1_200.0 + GRACE_MS  # only the grace timers


# --- actors of REST actions, idempotent play, media change ------------------------------


def test_rest_actor_of_the_owner_acts_as_host_and_others_as_viewers() -> None:
    room = make_room(owner="u-owner", settings=RoomSettings(control=CONTROL_HOST))
    join(room, "a", 0.0)
    room.change_media("a", media=MEDIA, now_ms=1.0)
    assert room.role_of("user:u-owner") == ROLE_HOST
    assert room.role_of("user:u-other") == ROLE_VIEWER
    assert room.role_of("nobody") is None
    events = room.play("user:u-owner", position_s=3.0, now_ms=10.0)
    assert events[0]["by"] == "user:u-owner"
    seq = room.seq
    with pytest.raises(ProtocolError) as err:
        room.pause("user:u-other", now_ms=20.0)
    assert err.value.code == E_FORBIDDEN
    with pytest.raises(ProtocolError) as err:
        room.pause("nobody", now_ms=20.0)
    assert err.value.code == E_NOT_FOUND
    assert room.seq == seq
    room.update_settings("a", {"control": CONTROL_EVERYONE}, now_ms=30.0)
    assert room.pause("user:u-other", now_ms=40.0)[0]["action"] == "pause"


def test_play_while_playing_without_position_changes_nothing() -> None:
    room = make_room()
    join(room, "a", 0.0)
    room.change_media("a", media=MEDIA, now_ms=1.0)
    room.play("a", position_s=None, now_ms=10.0)
    before = (room.seq, room.playback.to_dict())
    assert room.play("a", position_s=None, now_ms=5_000.0) == []
    assert (room.seq, room.playback.to_dict()) == before
    # With a position it is a real move, scheduled like any start.
    events = room.play("a", position_s=100.0, now_ms=6_000.0)
    assert events[0]["state"]["position_s"] == 100.0


def test_change_media_resets_the_rate() -> None:
    room = make_room()
    join(room, "a", 0.0)
    room.change_media("a", media=MEDIA, now_ms=1.0)
    room.set_rate("a", rate=2.0, now_ms=2.0)
    room.change_media("a", media={**MEDIA, "url": "https://media.example/b.mp4"}, now_ms=3.0)
    assert room.playback.rate == 1.0
    assert room.playback.paused is True
    assert room.playback.position_s == 0.0


def test_kick_bars_the_participant_and_its_account_across_a_snapshot() -> None:
    room = make_room()
    join(room, "host", 0.0)
    join(room, "guest", 1.0)
    join(room, "member", 2.0, user_id="u-7")
    room.kick("host", "guest", now_ms=3.0)
    room.kick("host", "member", now_ms=4.0)
    assert room.is_banned("guest", None)
    assert room.is_banned("someone-new", "u-7")
    assert not room.is_banned("host", None)
    restored = Room.restore(
        code=room.code,
        name=room.name,
        created_at_ms=0.0,
        settings=room.settings.to_dict(),
        state=json.loads(json.dumps(room.snapshot(5.0))),
        last_seq=room.seq,
        limits=room.limits,
        now_ms=6.0,
    )
    assert restored.is_banned("guest", None)
    assert restored.is_banned(None, "u-7")
