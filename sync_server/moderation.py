"""Moderation in a live room and the audit log: what the sync socket and the control
interface (REST) share.

The rules are :mod:`protocol.room_moderation` (pure). A ban closes the banned
person's connections with 4012 (as a kick does). Every moderation and control action is
recorded in the audit log (:func:`record`): who, what, whom, when.
"""

from __future__ import annotations

import functools
import logging
from typing import TYPE_CHECKING, Any

from data import audit as audit_store
from protocol import events as ev
from protocol import messages as m
from protocol.errors import CLOSE_KICKED
from protocol.room import USER_ACTOR_PREFIX

if TYPE_CHECKING:
    from sync_server.live_room import LiveRoom

logger = logging.getLogger(__name__)


def apply(live: LiveRoom, actor: str, msg: Any) -> tuple[list[ev.RoomEvent], str | None]:
    """Apply a validated ``mute``, ``unmute``, ``ban`` or ``unban`` as *actor*.

    Returns:
        The events to broadcast, and the target (for the audit log).

    Raises:
        ProtocolError: ``forbidden``, ``not_found``, ``invalid_message``.
    """
    room, now = live.room, live.server.now_ms()
    match msg:
        case m.Mute():
            events = room.mute(actor, msg.participant_id, duration_s=msg.duration_s, now_ms=now)
            return events, msg.participant_id
        case m.Unmute():
            return room.unmute(actor, msg.participant_id), msg.participant_id
        case m.Ban():
            target = room.participants.get(msg.participant_id)
            events = room.ban(actor, msg.participant_id, duration_s=msg.duration_s, now_ms=now)
            # Every connection of the person goes: the account may have several.
            gone = {msg.participant_id}
            if target is not None and target.user_id is not None:
                gone.update(
                    pid for pid, p in room.participants.items() if p.user_id == target.user_id
                )
            for pid in gone:
                conn = live.members.pop(pid, None)
                if conn is not None:
                    conn.live = None
                    conn.fail(CLOSE_KICKED, "banned from the room")
                if pid != msg.participant_id and pid in room.participants:
                    events.extend(room.leave(pid, now_ms=now, reason="banned"))
            return events, msg.participant_id
        case m.Unban():
            return room.unban(actor, msg.key), msg.key
    raise AssertionError(f"not a moderation message: {msg!r}")


async def record(
    live: LiveRoom,
    actor: str,
    action: str,
    *,
    target: str | None = None,
    details: dict[str, Any] | None = None,
    name: str | None = None,
) -> None:
    """Add an audit-log entry for *action* by *actor* in *live* (logged, never raised:
    the action already happened)."""
    p = live.room.participants.get(actor)
    user_id = p.user_id if p else None
    if p is None and actor.startswith(USER_ACTOR_PREFIX):
        user_id = actor[len(USER_ACTOR_PREFIX) :]
    try:
        await live.server.db.write(
            functools.partial(
                audit_store.add_entry,
                room_code=live.code,
                actor=actor,
                actor_user_id=user_id,
                actor_name=p.name if p else (name or ""),
                action=action,
                target=target,
                details=details or {},
                created_at_ms=int(live.server.now_ms()),
            )
        )
    except Exception:
        logger.exception("room %s: audit entry %s by %s not stored", live.code, action, actor)


__all__ = ["apply", "record"]
