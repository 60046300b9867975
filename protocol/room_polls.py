"""The poll rules of a room (:class:`protocol.room.Room` inherits them).

Pure code like the rest of the room: time comes in as ``now_ms`` (milliseconds).
The poll book itself (votes, coalesced results) is :mod:`protocol.polls`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from protocol import events as ev
from protocol import polls as pl
from protocol.errors import E_FORBIDDEN, E_NOT_FOUND, ProtocolError
from protocol.roles import (
    CONTROL_COHOSTS,
    CONTROL_EVERYONE,
    CONTROL_HOST,
    ROLE_COHOST,
    ROLE_HOST,
    USER_ACTOR_PREFIX,
)

if TYPE_CHECKING:
    from protocol.room import Participant, RoomSettings


class RoomPolls:
    """Poll methods of a room; the attributes are :class:`protocol.room.Room`'s."""

    code: str
    participants: dict[str, Participant]
    settings: RoomSettings
    polls: pl.PollBook
    dirty: bool

    if TYPE_CHECKING:  # Room's own methods, used here

        def role_of(self, actor: str) -> str | None: ...
        def _emit(self, cls: Any, **fields: Any) -> Any: ...
        def check_voice(self, pid: str, now_ms: float, what: str) -> None: ...

    # --- polls ------------------------------------------------------------------------------
    def voter_key(self, actor: str) -> str:
        """Who a vote counts for: ``user:<id>`` for an account (one vote however many
        tabs), the participant id for a guest, the actor itself over REST."""
        p = self.participants.get(actor)
        if p is not None and p.user_id is not None:
            return USER_ACTOR_PREFIX + p.user_id
        return actor

    def _require_role_setting(self, actor: str, setting: str, action: str) -> str:
        role = self.role_of(actor)
        if role is None:
            raise ProtocolError(E_NOT_FOUND, f"no participant {actor!r} in room {self.code}")
        allowed = (
            role == ROLE_HOST
            or setting == CONTROL_EVERYONE
            or (setting == CONTROL_COHOSTS and role == ROLE_COHOST)
        )
        if not allowed:
            who = {CONTROL_HOST: "the host", CONTROL_COHOSTS: "the host and co-hosts"}[setting]
            raise ProtocolError(
                E_FORBIDDEN, f"{action} is allowed to {who} in this room; you are {role}"
            )
        return role

    def check_poll_create(
        self, actor: str, *, question: str, options: list[str], duration_s: float | None
    ) -> None:
        """Check that *actor* may open this poll now (before its row is stored).

        Raises:
            ProtocolError: ``forbidden`` under the room's ``polls`` setting;
                ``not_found`` for an unknown actor; ``invalid_message`` for bad
                fields or at ``MAX_OPEN_POLLS`` open polls.
        """
        self._require_role_setting(actor, self.settings.polls, "opening a poll")
        pl.check_poll_spec(question, options, duration_s)
        self.polls.check_room_for_one_more()

    def open_poll(
        self,
        actor: str,
        *,
        poll_id: int,
        question: str,
        options: list[str],
        multiple: bool,
        anonymous: bool,
        duration_s: float | None,
        name: str | None,
        now_ms: float,
    ) -> list[ev.RoomEvent]:
        """Open a poll whose row was stored as *poll_id*; returns ``poll_opened``.

        Raises:
            ProtocolError: as :meth:`check_poll_create` (checked again: the role may
                have changed while the row was written).
        """
        self.check_poll_create(actor, question=question, options=options, duration_s=duration_s)
        p = self.participants.get(actor)
        poll = pl.Poll(
            id=poll_id,
            question=question.strip(),
            options=[o.strip() for o in options],
            multiple=multiple,
            anonymous=anonymous,
            created_by=p.id if p else None,
            creator_key=self.voter_key(actor),
            created_by_name=p.name if p else (name or ""),
            created_at_ms=now_ms,
            closes_at_ms=None if duration_s is None else now_ms + duration_s * 1000.0,
        )
        self.polls.add(poll)
        return [self._emit(ev.PollOpened, poll=poll.public())]

    def vote_poll(
        self, actor: str, poll_id: int, choices: list[int], *, name: str | None, now_ms: float
    ) -> bool:
        """Record *actor*'s vote (replacing an earlier one; no choices withdraws it).

        Sends nothing: results are coalesced (:meth:`due_poll_results`).

        Returns:
            Whether results became due (wake the room's timer).

        Raises:
            ProtocolError: ``not_found`` (poll or actor); ``muted``; ``poll_closed``;
                ``invalid_message`` for bad choices.
        """
        if self.role_of(actor) is None:
            raise ProtocolError(E_NOT_FOUND, f"no participant {actor!r} in room {self.code}")
        self.check_voice(actor, now_ms, "votes")
        p = self.participants.get(actor)
        vote = pl.Vote(
            choices=tuple(choices),
            participant_id=p.id if p else None,
            user_id=p.user_id
            if p
            else (actor[len(USER_ACTOR_PREFIX) :] if actor.startswith(USER_ACTOR_PREFIX) else None),
            name=p.name if p else (name or ""),
        )
        due = self.polls.vote(poll_id, self.voter_key(actor), vote, now_ms)
        self.dirty = True
        return due

    def close_poll(self, actor: str, poll_id: int, *, now_ms: float) -> list[ev.RoomEvent]:
        """Close a poll (its creator, the host or a co-host); returns ``poll_closed``
        with the final results.

        Raises:
            ProtocolError: ``not_found``; ``poll_closed``; ``forbidden``.
        """
        role = self.role_of(actor)
        if role is None:
            raise ProtocolError(E_NOT_FOUND, f"no participant {actor!r} in room {self.code}")
        poll = self.polls.get_open(poll_id)
        if role not in (ROLE_HOST, ROLE_COHOST) and poll.creator_key != self.voter_key(actor):
            raise ProtocolError(
                E_FORBIDDEN, "only its creator, the host or a co-host may close a poll"
            )
        self.polls.close(poll_id, now_ms=now_ms, reason=pl.CLOSED_BY_PERSON, by=actor)
        return [self._emit(ev.PollClosed, poll=poll.public())]

    def due_poll_results(self, now_ms: float) -> list[ev.PollResults]:
        """``poll_results`` of every poll whose coalesced results are due."""
        return [
            ev.PollResults(poll_id=p.id, results=p.results(), server_time_ms=now_ms)
            for p in self.polls.due_results(now_ms)
        ]


__all__ = ["RoomPolls"]
