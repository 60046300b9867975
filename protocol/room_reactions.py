"""The reaction rules of a room (:class:`protocol.room.Room` inherits them).

Pure code: time comes in as ``now_ms`` (milliseconds). The storage side is
:mod:`protocol.reactions` (the per-person rate limit and the rows waiting to be stored).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from protocol import events as ev
from protocol import reactions as rx
from protocol.errors import E_NOT_FOUND, ProtocolError

if TYPE_CHECKING:
    from protocol.playback import PlaybackState
    from protocol.room import Participant


class RoomReactions:
    """Reaction methods of a room; the attributes are :class:`protocol.room.Room`'s."""

    code: str
    participants: dict[str, Participant]
    playback: PlaybackState
    reactions: rx.ReactionLog

    if TYPE_CHECKING:  # Room's own methods, used here

        def voter_key(self, actor: str) -> str: ...
        def check_voice(self, pid: str, now_ms: float, what: str) -> None: ...

    def react(self, pid: str, emoji: str, *, now_ms: float) -> tuple[ev.Reaction, bool]:
        """A reaction by *pid* at the room's media position now.

        The position is the server's (:meth:`PlaybackState.position_at` at *now_ms*);
        with media loaded the reaction is also queued for the per-second timeline of
        that media.

        Returns:
            The ``reaction`` message to send to everyone, and whether a store became
            due (wake the room's timer).

        Raises:
            ProtocolError: ``muted``; ``rate_limited`` beyond ``reaction_rate_per_s`` per person
                (an account counts once over all its connections); ``not_found``
                for an unknown participant.
        """
        p = self.participants.get(pid)
        if p is None:
            raise ProtocolError(E_NOT_FOUND, f"no participant {pid!r} in room {self.code}")
        self.check_voice(pid, now_ms, "reactions")
        self.reactions.admit(self.voter_key(pid), now_ms)
        position = self.playback.position_at(now_ms)
        message = ev.Reaction(participant_id=pid, emoji=emoji, position_s=position)
        key = rx.media_key(self.playback.media)
        if key is None:
            return message, False
        due = self.reactions.add(
            {
                "room_code": self.code,
                "media_key": key,
                "participant_id": pid,
                "user_id": p.user_id,
                "display_name": p.name,
                "emoji": emoji,
                "position_s": position,
                "second": rx.second_of(position),
                "created_at_ms": int(now_ms),
            },
            now_ms,
        )
        return message, due

    def timeline_pending(self) -> tuple[str | None, dict[tuple[int, str], int]]:
        """The current media's key and its unsaved counts by (second, emoji)."""
        key = rx.media_key(self.playback.media)
        return key, ({} if key is None else self.reactions.pending_counts(key))


__all__ = ["RoomReactions"]
