"""The moderation rules of a room (:class:`protocol.room.Room` inherits them): the
permission table, mutes and bans with an optional expiry, slow mode.

Pure code: time comes in as ``now_ms`` (milliseconds). Sanctions are held by person
(:meth:`person_keys`: the participant id, and ``user:<id>`` for an account), so they
outlast reconnects; they are in the room snapshot, so they outlast restarts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from protocol import events as ev
from protocol.errors import (
    E_FORBIDDEN,
    E_INVALID_MESSAGE,
    E_MUTED,
    E_NOT_FOUND,
    E_RATE_LIMITED,
    ProtocolError,
)
from protocol.moderation import RANK, Sanctions, allows
from protocol.roles import ROLE_MODERATOR, USER_ACTOR_PREFIX

if TYPE_CHECKING:
    from protocol.room import Participant, RoomSettings

#: Slow-mode clocks kept per room before the oldest are forgotten.
_MAX_CHAT_CLOCKS = 4_096


class RoomModeration:
    """Moderation methods of a room; the attributes are :class:`protocol.room.Room`'s."""

    code: str
    participants: dict[str, Participant]
    settings: RoomSettings
    sanctions: Sanctions

    if TYPE_CHECKING:  # Room's own methods, used here

        def role_of(self, actor: str) -> str | None: ...
        def voter_key(self, actor: str) -> str: ...
        def _emit(self, cls: Any, **fields: Any) -> Any: ...
        def leave(self, pid: str, *, now_ms: float, reason: str = "left") -> list[Any]: ...

    # --- permissions ------------------------------------------------------------------
    def may(self, actor: str, action: str) -> bool:
        """Whether *actor*'s role reaches the room's ``permissions[action]``."""
        return allows(self.role_of(actor), self.settings.permissions[action])

    def require_permission(self, actor: str, action: str) -> str:
        """The actor's role, if the room's permission table lets it do *action*.

        Raises:
            ProtocolError: ``forbidden``; ``not_found`` for an unknown actor.
        """
        role = self.role_of(actor)
        if role is None:
            raise ProtocolError(E_NOT_FOUND, f"no participant {actor!r} in room {self.code}")
        least = self.settings.permissions[action]
        if not allows(role, least):
            raise ProtocolError(
                E_FORBIDDEN,
                f"{action} needs the role {least} or above in this room; you are {role}",
            )
        return role

    def person_keys(self, pid: str | None, user_id: str | None) -> list[str]:
        """The keys a person's sanctions are held under."""
        keys = [] if pid is None else [pid]
        if user_id is not None:
            keys.append(USER_ACTOR_PREFIX + user_id)
        return keys

    def _target(self, actor: str, target: str, action: str) -> Participant:
        role = self.require_permission(actor, action)
        t = self.participants.get(target)
        if t is None:
            raise ProtocolError(E_NOT_FOUND, f"no participant {target!r} in room {self.code}")
        if target == actor:
            raise ProtocolError(E_INVALID_MESSAGE, f"you cannot {action} yourself")
        if RANK.get(t.role, 99) <= RANK.get(role, 99):
            raise ProtocolError(
                E_FORBIDDEN, f"you cannot {action} a {t.role}: only roles below yours"
            )
        return t

    # --- mutes ------------------------------------------------------------------------
    def is_muted(self, pid: str, now_ms: float) -> bool:
        p = self.participants.get(pid)
        user_id = p.user_id if p else None
        if pid.startswith(USER_ACTOR_PREFIX):
            return self.sanctions.muted(pid, now_ms)
        return any(self.sanctions.muted(k, now_ms) for k in self.person_keys(pid, user_id))

    def check_voice(self, pid: str, now_ms: float, what: str) -> None:
        """Raise ``muted`` when *pid* may not chat, react or vote now."""
        if self.is_muted(pid, now_ms):
            raise ProtocolError(E_MUTED, f"you are muted in room {self.code}: no {what}")

    def check_slow_mode(self, pid: str, now_ms: float) -> None:
        """Raise ``rate_limited`` (with ``retry_after_ms``) for a chat message sooner
        than ``slow_mode_s`` after the person's last one; moderators and above are
        exempt. Records the message's instant when it passes."""
        slow_s = self.settings.slow_mode_s
        if slow_s <= 0 or allows(self.role_of(pid), ROLE_MODERATOR):
            return
        key = self.voter_key(pid)
        clocks = self.sanctions.last_chat_ms
        last = clocks.get(key)
        if last is not None and now_ms - last < slow_s * 1000.0:
            wait = slow_s * 1000.0 - (now_ms - last)
            raise ProtocolError(
                E_RATE_LIMITED,
                f"slow mode: one message every {slow_s:g} s",
                {"retry_after_ms": round(wait)},
            )
        clocks.pop(key, None)
        if len(clocks) >= _MAX_CHAT_CLOCKS:
            del clocks[next(iter(clocks))]
        clocks[key] = now_ms

    def mute(
        self, actor: str, target: str, *, duration_s: float | None, now_ms: float
    ) -> list[ev.RoomEvent]:
        """Mute *target* (no chat, reactions or votes) until lifted or for *duration_s*.

        Raises:
            ProtocolError: ``forbidden`` (the table, or a target not below the actor);
                ``not_found``; ``invalid_message`` for oneself.
        """
        t = self._target(actor, target, "mute")
        until = None if duration_s is None else now_ms + duration_s * 1000.0
        for key in self.person_keys(t.id, t.user_id):
            self.sanctions.mutes[key] = until
        return [self._moderation("mute", actor, t.id, t.user_id, until)]

    def unmute(self, actor: str, target: str) -> list[ev.RoomEvent]:
        """Lift *target*'s mute (a participant id, or ``user:<id>``).

        Raises:
            ProtocolError: ``forbidden``; ``not_found`` when it is not muted.
        """
        self.require_permission(actor, "mute")
        p = self.participants.get(target)
        keys = self.person_keys(target, p.user_id if p else None)
        if not any(k in self.sanctions.mutes for k in keys):
            raise ProtocolError(E_NOT_FOUND, f"{target!r} is not muted")
        for key in keys:
            self.sanctions.mutes.pop(key, None)
        return [self._moderation("unmute", actor, target, p.user_id if p else None, None)]

    # --- bans -------------------------------------------------------------------------
    def ban(
        self, actor: str, target: str, *, duration_s: float | None, now_ms: float
    ) -> list[ev.RoomEvent]:
        """Remove *target* and bar its account and session until lifted or for
        *duration_s* (its connection is closed with 4012 by the caller).

        Raises:
            ProtocolError: as :meth:`mute`.
        """
        t = self._target(actor, target, "ban")
        until = None if duration_s is None else now_ms + duration_s * 1000.0
        for key in self.person_keys(t.id, t.user_id):
            self.sanctions.bans[key] = until
        event = self._moderation("ban", actor, t.id, t.user_id, until)
        return [event, *self.leave(t.id, now_ms=now_ms, reason="banned")]

    def unban(self, actor: str, key: str) -> list[ev.RoomEvent]:
        """Lift a ban held under *key* (a participant id or ``user:<id>``).

        Raises:
            ProtocolError: ``forbidden``; ``not_found`` when nothing is banned so.
        """
        self.require_permission(actor, "ban")
        if self.sanctions.bans.pop(key, "absent") == "absent":
            raise ProtocolError(E_NOT_FOUND, f"nothing is banned as {key!r}")
        user_id = key[len(USER_ACTOR_PREFIX) :] if key.startswith(USER_ACTOR_PREFIX) else None
        pid = None if user_id else key
        return [self._moderation("unban", actor, pid, user_id, None)]

    def is_sanction_banned(self, pid: str | None, user_id: str | None, now_ms: float) -> bool:
        return any(self.sanctions.banned(k, now_ms) for k in self.person_keys(pid, user_id))

    def _moderation(
        self,
        action: str,
        actor: str,
        pid: str | None,
        user_id: str | None,
        until_ms: float | None,
    ) -> ev.Moderation:
        event: ev.Moderation = self._emit(
            ev.Moderation,
            action=action,
            by=actor,
            participant_id=pid,
            user_id=user_id,
            until_ms=until_ms,
        )
        return event


__all__ = ["RoomModeration"]
