"""Polls of a live room: what the sync socket and the control interface (REST) share.

The rules are :mod:`protocol.room_polls` (pure); this module adds the storage around
them: a poll's row is written before it opens (the row id is the poll id), and its
final results when it closes, by a person or by its duration (the room's timer).
A vote is never a write and never a broadcast: the room's timer sends coalesced
``poll_results`` (:meth:`sync_server.live_room.LiveRoom.run_timers`).
"""

from __future__ import annotations

import functools
import logging
from typing import TYPE_CHECKING, Any

from data import polls as poll_store
from protocol import events as ev
from protocol.errors import ProtocolError
from protocol.room import USER_ACTOR_PREFIX

if TYPE_CHECKING:
    from sync_server.live_room import LiveRoom

logger = logging.getLogger(__name__)


def _user_of(live: LiveRoom, actor: str) -> str | None:
    p = live.room.participants.get(actor)
    if p is not None:
        return p.user_id
    return actor[len(USER_ACTOR_PREFIX) :] if actor.startswith(USER_ACTOR_PREFIX) else None


async def create_poll(
    live: LiveRoom,
    actor: str,
    *,
    question: str,
    options: list[str],
    multiple: bool,
    anonymous: bool,
    duration_s: float | None,
    name: str | None = None,
) -> ev.PollOpened:
    """Store and open a poll as *actor*; broadcast and return its ``poll_opened``.

    Args:
        actor: A participant id, or ``user:<id>`` over REST.
        duration_s: Seconds until it closes by itself, or ``None``.
        name: Display name of a REST actor (a participant's own name is used otherwise).

    Raises:
        ProtocolError: ``forbidden``, ``not_found``, ``invalid_message`` (see
            :meth:`protocol.room.Room.check_poll_create`); nothing is stored then.
    """
    room, server = live.room, live.server
    room.check_poll_create(actor, question=question, options=options, duration_s=duration_s)
    p = room.participants.get(actor)
    now = server.now_ms()
    poll_id = await server.db.write(
        lambda db: poll_store.create_poll(
            db,
            room_code=room.code,
            question=question.strip(),
            options=[o.strip() for o in options],
            multiple=multiple,
            anonymous=anonymous,
            created_by_participant=p.id if p else None,
            created_by_user_id=_user_of(live, actor),
            created_by_name=p.name if p else (name or ""),
            created_at_ms=int(now),
            closes_at_ms=None if duration_s is None else int(now + duration_s * 1000.0),
        )
    )
    try:
        events = room.open_poll(
            actor,
            poll_id=poll_id,
            question=question,
            options=options,
            multiple=multiple,
            anonymous=anonymous,
            duration_s=duration_s,
            name=name,
            now_ms=server.now_ms(),
        )
    except ProtocolError:
        # Refused while the row was written (a role changed): no trace of it.
        await server.db.write(poll_store.delete_poll, poll_id)
        raise
    live.broadcast(events)
    opened = events[-1]
    assert isinstance(opened, ev.PollOpened)
    return opened


def vote_poll(
    live: LiveRoom, actor: str, poll_id: int, choices: list[int], *, name: str | None = None
) -> None:
    """Record *actor*'s vote; wake the room's timer when results became due.

    Raises:
        ProtocolError: ``not_found``, ``poll_closed``, ``invalid_message``.
    """
    if live.room.vote_poll(actor, poll_id, choices, name=name, now_ms=live.server.now_ms()):
        live.poke()


async def close_poll(live: LiveRoom, actor: str, poll_id: int) -> ev.PollClosed:
    """Close a poll as *actor*; broadcast ``poll_closed`` and store the final results.

    Raises:
        ProtocolError: ``not_found``, ``poll_closed``, ``forbidden``.
    """
    events = live.room.close_poll(actor, poll_id, now_ms=live.server.now_ms())
    live.broadcast(events)
    await store_closed_polls(live, events)
    closed = events[-1]
    assert isinstance(closed, ev.PollClosed)
    return closed


async def store_closed_polls(live: LiveRoom, events: list[ev.RoomEvent]) -> None:
    """Store the final results carried by the ``poll_closed`` events among *events*."""
    for event in events:
        if not isinstance(event, ev.PollClosed):
            continue
        poll: dict[str, Any] = event["poll"]
        results = poll["results"]
        await live.server.db.write(
            functools.partial(
                poll_store.finish_poll,
                poll_id=int(poll["id"]),
                closed_at_ms=int(poll["closed_at_ms"]),
                close_reason=poll["close_reason"],
                closed_by=poll["closed_by"],
                counts=results["counts"],
                voter_count=results["voter_count"],
                voters=results["voters"],
            )
        )


__all__ = ["close_poll", "create_poll", "store_closed_polls", "vote_poll"]
