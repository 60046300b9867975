"""The poll rules without sockets: coalesced results, expiry, permissions, snapshots.

Time is an argument (milliseconds), so the coalescing of a vote storm is shown exactly:
however many votes arrive, a poll's results are due at most once per interval.
"""

from __future__ import annotations

import json

import pytest

from protocol.errors import E_FORBIDDEN, E_INVALID_MESSAGE, E_POLL_CLOSED, ProtocolError
from protocol.polls import MAX_OPEN_POLLS, RESULTS_INTERVAL_MS
from protocol.room import Room


def room_with(n: int) -> Room:
    room = Room(code="polls", name="Polls", created_at_ms=0.0)
    for i in range(n):
        room.join(f"p{i}", name=f"P{i}", user_id=None, guest=True, now_ms=0.0)
    return room


def open_poll(room: Room, actor: str = "p0", poll_id: int = 1, **kw: object) -> None:
    fields: dict[str, object] = {
        "question": "Q?",
        "options": ["a", "b"],
        "multiple": False,
        "anonymous": False,
        "duration_s": None,
        "name": None,
        "now_ms": 0.0,
    }
    fields.update(kw)
    room.open_poll(actor, poll_id=poll_id, **fields)  # type: ignore[arg-type]


def test_a_storm_of_votes_makes_one_results_message_per_interval() -> None:
    room = room_with(500)
    open_poll(room)
    wakes = [room.vote_poll(f"p{i}", 1, [i % 2], name=None, now_ms=10.0) for i in range(500)]
    assert wakes.count(True) == 1  # only the first vote wakes the timer
    assert room.next_deadline_ms() == 10.0
    (results,) = room.due_poll_results(10.0)
    assert results["results"]["counts"] == [250, 250]
    assert results["results"]["voter_count"] == 500
    # Votes right after: due one interval after the last results, not before.
    assert room.vote_poll("p1", 1, [0], name=None, now_ms=20.0) is True
    assert room.next_deadline_ms() == 10.0 + RESULTS_INTERVAL_MS
    assert room.due_poll_results(100.0) == []
    (results,) = room.due_poll_results(10.0 + RESULTS_INTERVAL_MS)
    assert results["results"]["counts"] == [251, 249]
    assert room.due_poll_results(1_000.0) == []  # nothing new: nothing sent


def test_an_expired_poll_closes_on_the_room_clock_with_final_results() -> None:
    room = room_with(2)
    open_poll(room, duration_s=30.0, now_ms=1_000.0)
    room.vote_poll("p1", 1, [1], name=None, now_ms=2_000.0)
    assert room.next_deadline_ms() == 2_000.0
    room.due_poll_results(2_000.0)
    assert room.next_deadline_ms() == 31_000.0
    assert room.expire(30_999.0) == []
    (closed,) = room.expire(31_000.0)
    assert closed["poll"]["close_reason"] == "expired"
    assert closed["poll"]["results"]["counts"] == [0, 1]
    assert room.next_deadline_ms() is None
    with pytest.raises(ProtocolError) as info:
        room.vote_poll("p1", 1, [0], name=None, now_ms=31_001.0)
    assert info.value.code == E_POLL_CLOSED


def test_who_may_open_and_close() -> None:
    room = room_with(3)
    room.set_role("p0", "p1", "cohost")
    with pytest.raises(ProtocolError) as info:
        open_poll(room, actor="p2")
    assert info.value.code == E_FORBIDDEN
    open_poll(room, actor="p1")  # a co-host, under the default "cohosts"
    room.update_settings("p0", {"polls": "host"}, now_ms=1.0)
    with pytest.raises(ProtocolError):
        open_poll(room, actor="p1", poll_id=2)
    room.update_settings("p0", {"polls": "everyone"}, now_ms=1.0)
    open_poll(room, actor="p2", poll_id=3)
    with pytest.raises(ProtocolError) as info:
        room.close_poll("p2", 1, now_ms=2.0)  # not its poll
    assert info.value.code == E_FORBIDDEN
    room.close_poll("p2", 3, now_ms=2.0)  # its own
    room.close_poll("p0", 1, now_ms=2.0)  # the host: any


def test_open_polls_are_limited() -> None:
    room = room_with(1)
    for i in range(MAX_OPEN_POLLS):
        open_poll(room, poll_id=i + 1)
    with pytest.raises(ProtocolError) as info:
        open_poll(room, poll_id=99)
    assert info.value.code == E_INVALID_MESSAGE


def test_an_account_votes_once_from_two_participants() -> None:
    room = Room(code="polls", name="Polls", created_at_ms=0.0)
    room.join("tab1", name="Ann", user_id="u1", guest=False, now_ms=0.0)
    room.join("tab2", name="Ann", user_id="u1", guest=False, now_ms=0.0)
    open_poll(room, actor="tab1")
    room.vote_poll("tab1", 1, [0], name=None, now_ms=1.0)
    room.vote_poll("tab2", 1, [1], name=None, now_ms=1.0)
    (results,) = room.due_poll_results(1.0)
    assert results["results"]["counts"] == [0, 1]
    # Over REST the same account acts as user:u1: still the same vote.
    room.vote_poll("user:u1", 1, [0], name="Ann", now_ms=2.0)
    assert room.polls.open[1].counts() == [1, 0]


def test_open_polls_and_votes_survive_a_snapshot() -> None:
    room = room_with(2)
    open_poll(room, duration_s=60.0)
    room.vote_poll("p1", 1, [1], name=None, now_ms=5.0)
    restored = Room.restore(
        code=room.code,
        name=room.name,
        created_at_ms=0.0,
        settings=room.settings.to_dict(),
        state=json.loads(json.dumps(room.snapshot(6.0))),
        last_seq=room.seq,
        limits=room.limits,
        now_ms=7.0,
    )
    assert restored.polls.open[1].counts() == [0, 1]
    assert restored.polls.votes_of("p1") == [{"poll_id": 1, "choices": [1]}]
    assert restored.polls.next_deadline_ms() == 60_000.0
