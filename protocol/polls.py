"""Polls of a room: open, vote, change one's vote, close, with coalesced live results.

Pure code, like :mod:`protocol.room` (which owns one :class:`PollBook` per room): time
comes in as ``now_ms`` (server clock, milliseconds), nothing here does I/O.

Live results are **coalesced**: a vote never sends anything by itself. It marks its
poll's results due at ``max(now, last_sent + results_interval_ms)``; the room's timer
sends one ``poll_results`` per due poll (:meth:`PollBook.due_results`), so a poll sends
at most one results message per interval however many people vote, and a vote after a
quiet spell is shown at once.

Voters are counted once per person: an account by its id (``user:<id>``, so two tabs
of one account hold one vote), a guest by its participant id.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from protocol.errors import E_INVALID_MESSAGE, E_NOT_FOUND, E_POLL_CLOSED, ProtocolError

#: Options of a poll, at least and at most.
MIN_OPTIONS = 2
MAX_OPTIONS = 10
#: Longest question and option, characters.
MAX_QUESTION_CHARS = 300
MAX_OPTION_CHARS = 100
#: Shortest and longest optional duration of a poll, seconds.
MIN_DURATION_S = 1.0
MAX_DURATION_S = 7 * 24 * 3600.0
#: Open polls a room may have at once.
MAX_OPEN_POLLS = 10
#: Closed polls a room keeps in its state for late joiners (all are stored).
RECENT_CLOSED = 5
#: Least time between two ``poll_results`` of one poll, milliseconds.
RESULTS_INTERVAL_MS = 250.0

#: ``close_reason`` values: closed by someone, or by its duration running out.
CLOSED_BY_PERSON = "closed"
CLOSED_EXPIRED = "expired"


@dataclass(slots=True)
class Vote:
    """One person's current choices in a poll (option indexes, ascending)."""

    choices: tuple[int, ...]
    participant_id: str | None
    user_id: str | None
    name: str

    def public(self) -> dict[str, Any]:
        return {"participant_id": self.participant_id, "user_id": self.user_id, "name": self.name}


@dataclass(slots=True)
class Poll:
    """A poll and its votes.

    Attributes:
        id: Poll id (the stored row's id, unique on the server).
        question: The question, 1 to ``MAX_QUESTION_CHARS`` characters.
        options: 2 to 10 option texts.
        multiple: Whether a vote may choose several options.
        anonymous: Whether results hide who chose what (counts only).
        created_by: Participant id of its creator, or ``None`` (created over REST).
        creator_key: Voter key of the creator (``user:<id>`` or a participant id).
        created_by_name: Display name of the creator.
        created_at_ms: Server time of creation, milliseconds.
        closes_at_ms: When it closes by itself, milliseconds, or ``None``.
        votes: Current votes by voter key.
        closed_at_ms: When it closed, milliseconds, or ``None`` while open.
        close_reason: ``closed`` or ``expired`` once closed.
        closed_by: Actor that closed it (``None`` when it expired).
    """

    id: int
    question: str
    options: list[str]
    multiple: bool
    anonymous: bool
    created_by: str | None
    creator_key: str
    created_by_name: str
    created_at_ms: float
    closes_at_ms: float | None = None
    votes: dict[str, Vote] = field(default_factory=dict)
    closed_at_ms: float | None = None
    close_reason: str | None = None
    closed_by: str | None = None
    results_due_ms: float | None = None
    results_sent_ms: float = -math.inf

    @property
    def is_open(self) -> bool:
        return self.closed_at_ms is None

    def counts(self) -> list[int]:
        counts = [0] * len(self.options)
        for vote in self.votes.values():
            for i in vote.choices:
                counts[i] += 1
        return counts

    def results(self) -> dict[str, Any]:
        """``{"counts": [n per option], "voter_count": n, "voters": [[voter, ...] per
        option] or None}``; ``voters`` is ``None`` for an anonymous poll, otherwise
        each voter is ``{"participant_id", "user_id", "name"}``."""
        voters: list[list[dict[str, Any]]] | None = None
        if not self.anonymous:
            voters = [[] for _ in self.options]
            for vote in self.votes.values():
                public = vote.public()
                for i in vote.choices:
                    voters[i].append(public)
        return {"counts": self.counts(), "voter_count": len(self.votes), "voters": voters}

    def public(self) -> dict[str, Any]:
        """The poll as clients see it, results included."""
        return {
            "id": self.id,
            "question": self.question,
            "options": list(self.options),
            "multiple": self.multiple,
            "anonymous": self.anonymous,
            "created_by": self.created_by,
            "created_by_name": self.created_by_name,
            "created_at_ms": self.created_at_ms,
            "closes_at_ms": self.closes_at_ms,
            "closed": not self.is_open,
            "closed_at_ms": self.closed_at_ms,
            "close_reason": self.close_reason,
            "closed_by": self.closed_by,
            "results": self.results(),
        }

    def snapshot(self) -> dict[str, Any]:
        out = self.public()
        out.pop("results")
        out["creator_key"] = self.creator_key
        out["votes"] = {
            key: {"choices": list(v.choices), **v.public()} for key, v in self.votes.items()
        }
        return out

    @classmethod
    def restore(cls, data: dict[str, Any]) -> Poll:
        poll = cls(
            id=int(data["id"]),
            question=str(data["question"]),
            options=[str(o) for o in data["options"]],
            multiple=bool(data["multiple"]),
            anonymous=bool(data["anonymous"]),
            created_by=data.get("created_by"),
            creator_key=str(data.get("creator_key") or ""),
            created_by_name=str(data.get("created_by_name") or ""),
            created_at_ms=float(data["created_at_ms"]),
            closes_at_ms=data.get("closes_at_ms"),
            closed_at_ms=data.get("closed_at_ms"),
            close_reason=data.get("close_reason"),
            closed_by=data.get("closed_by"),
        )
        for key, v in (data.get("votes") or {}).items():
            poll.votes[key] = Vote(
                choices=tuple(int(c) for c in v["choices"]),
                participant_id=v.get("participant_id"),
                user_id=v.get("user_id"),
                name=str(v.get("name") or ""),
            )
        return poll


def check_poll_spec(question: str, options: list[str], duration_s: float | None) -> None:
    """Check a new poll's fields (the message model checks them too; REST and the
    control socket reach here without it).

    Raises:
        ProtocolError: ``invalid_message`` for a blank or long question or option, a
            wrong number of options, duplicate options, or a duration out of range.
    """
    if not question.strip() or len(question) > MAX_QUESTION_CHARS:
        raise ProtocolError(
            E_INVALID_MESSAGE, f"question: 1 to {MAX_QUESTION_CHARS} characters, not blank"
        )
    if not MIN_OPTIONS <= len(options) <= MAX_OPTIONS:
        raise ProtocolError(
            E_INVALID_MESSAGE,
            f"options: {MIN_OPTIONS} to {MAX_OPTIONS} options, got {len(options)}",
        )
    for text in options:
        if not text.strip() or len(text) > MAX_OPTION_CHARS:
            raise ProtocolError(
                E_INVALID_MESSAGE, f"options: each 1 to {MAX_OPTION_CHARS} characters, not blank"
            )
    if len({o.strip().casefold() for o in options}) != len(options):
        raise ProtocolError(E_INVALID_MESSAGE, "options: must differ from one another")
    if duration_s is not None and not (
        math.isfinite(duration_s) and MIN_DURATION_S <= duration_s <= MAX_DURATION_S
    ):
        raise ProtocolError(
            E_INVALID_MESSAGE,
            f"duration_s: {MIN_DURATION_S:g} to {MAX_DURATION_S:g} seconds, got {duration_s}",
        )


class PollBook:
    """The polls of one room: the open ones and the last few closed.

    Args:
        results_interval_ms: Least time between two results messages of one poll.
    """

    def __init__(self, results_interval_ms: float = RESULTS_INTERVAL_MS) -> None:
        self.results_interval_ms = results_interval_ms
        self.open: dict[int, Poll] = {}
        self.recent: deque[Poll] = deque(maxlen=RECENT_CLOSED)

    def get_open(self, poll_id: int) -> Poll:
        """The open poll *poll_id*.

        Raises:
            ProtocolError: ``poll_closed`` for a recently closed poll; ``not_found``
                for one this room does not have open.
        """
        poll = self.open.get(poll_id)
        if poll is not None:
            return poll
        if any(p.id == poll_id for p in self.recent):
            raise ProtocolError(E_POLL_CLOSED, f"poll {poll_id} is closed")
        raise ProtocolError(E_NOT_FOUND, f"no open poll {poll_id} in this room")

    def check_room_for_one_more(self) -> None:
        """Raises ProtocolError ``invalid_message`` at ``MAX_OPEN_POLLS`` open polls."""
        if len(self.open) >= MAX_OPEN_POLLS:
            raise ProtocolError(
                E_INVALID_MESSAGE,
                f"a room has at most {MAX_OPEN_POLLS} open polls; close one first",
            )

    def add(self, poll: Poll) -> None:
        self.open[poll.id] = poll

    def vote(self, poll_id: int, key: str, vote: Vote, now_ms: float) -> bool:
        """Record (or replace) *key*'s vote; an empty ``choices`` withdraws it.

        Returns:
            Whether the poll's results became due (the caller wakes the room timer).

        Raises:
            ProtocolError: ``not_found``; ``poll_closed``; ``invalid_message`` for an
                option that does not exist, a repeated option, or several options in
                a single-choice poll.
        """
        poll = self.get_open(poll_id)
        choices = vote.choices
        if len(set(choices)) != len(choices):
            raise ProtocolError(E_INVALID_MESSAGE, "choices: each option at most once")
        bad = [c for c in choices if not 0 <= c < len(poll.options)]
        if bad:
            raise ProtocolError(
                E_INVALID_MESSAGE,
                f"choices: options are 0 to {len(poll.options) - 1}, got {bad[0]}",
            )
        if not poll.multiple and len(choices) > 1:
            raise ProtocolError(E_INVALID_MESSAGE, "choices: this poll takes one option")
        vote.choices = tuple(sorted(choices))
        if vote.choices:
            poll.votes[key] = vote
        elif poll.votes.pop(key, None) is None:
            return False
        if poll.results_due_ms is not None:
            return False
        poll.results_due_ms = max(now_ms, poll.results_sent_ms + self.results_interval_ms)
        return True

    def close(self, poll_id: int, *, now_ms: float, reason: str, by: str | None) -> Poll:
        """Close an open poll; its results are final.

        Raises:
            ProtocolError: ``not_found``; ``poll_closed``.
        """
        poll = self.get_open(poll_id)
        del self.open[poll_id]
        poll.closed_at_ms = now_ms
        poll.close_reason = reason
        poll.closed_by = by
        poll.results_due_ms = None
        self.recent.append(poll)
        return poll

    def next_deadline_ms(self) -> float | None:
        """The next server time with results due or a poll to close, or ``None``."""
        times = [p.results_due_ms for p in self.open.values() if p.results_due_ms is not None]
        times.extend(p.closes_at_ms for p in self.open.values() if p.closes_at_ms is not None)
        return min(times, default=None)

    def expire(self, now_ms: float) -> list[Poll]:
        """Close every poll whose duration ran out by *now_ms*; return them."""
        due = [
            p.id
            for p in self.open.values()
            if p.closes_at_ms is not None and now_ms >= p.closes_at_ms
        ]
        return [self.close(i, now_ms=now_ms, reason=CLOSED_EXPIRED, by=None) for i in due]

    def due_results(self, now_ms: float) -> list[Poll]:
        """The polls whose results are due at *now_ms*, marked as sent now."""
        due = [
            p
            for p in self.open.values()
            if p.results_due_ms is not None and now_ms >= p.results_due_ms
        ]
        for poll in due:
            poll.results_due_ms = None
            poll.results_sent_ms = now_ms
        return due

    def public(self) -> list[dict[str, Any]]:
        """Open polls and the recently closed, oldest first, with results."""
        polls = sorted([*self.open.values(), *self.recent], key=lambda p: p.id)
        return [p.public() for p in polls]

    def votes_of(self, key: str) -> list[dict[str, Any]]:
        """``[{"poll_id", "choices"}]``: *key*'s votes in the open polls."""
        return [
            {"poll_id": p.id, "choices": list(p.votes[key].choices)}
            for p in self.open.values()
            if key in p.votes
        ]

    def snapshot(self) -> list[dict[str, Any]]:
        return [p.snapshot() for p in self.open.values()]

    def restore(self, data: list[dict[str, Any]]) -> None:
        for item in data:
            poll = Poll.restore(item)
            if poll.is_open:
                self.open[poll.id] = poll


__all__ = [
    "CLOSED_BY_PERSON",
    "CLOSED_EXPIRED",
    "MAX_DURATION_S",
    "MAX_OPEN_POLLS",
    "MAX_OPTIONS",
    "MAX_OPTION_CHARS",
    "MAX_QUESTION_CHARS",
    "MIN_DURATION_S",
    "MIN_OPTIONS",
    "RESULTS_INTERVAL_MS",
    "Poll",
    "PollBook",
    "Vote",
    "check_poll_spec",
]
