"""The shared-queue rules of a room (:class:`protocol.room.Room` inherits them).

Pure code: time comes in as ``now_ms`` (milliseconds). What plays is the room's
playback media; the queue holds what comes after it (:mod:`protocol.queue`). The room's
clock decides when an item ended (:meth:`RoomQueue.queue_end_ms`, used by the room's
timer): no client says so. Every change is a sequenced ``queue_changed`` event, so a
resuming or late client sees the same queue.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from protocol import events as ev
from protocol.errors import (
    E_ALREADY_VOTED,
    E_FORBIDDEN,
    E_INVALID_MESSAGE,
    E_NO_MEDIA,
    E_NOT_FOUND,
    E_STALE_QUEUE,
    ProtocolError,
)
from protocol.queue import MAX_QUEUE_ITEMS, Queue, QueueItem
from protocol.roles import ROLE_COHOST, ROLE_HOST

if TYPE_CHECKING:
    from protocol.playback import PlaybackState
    from protocol.room import Participant, RoomSettings


class RoomQueue:
    """Queue methods of a room; the attributes are :class:`protocol.room.Room`'s."""

    code: str
    participants: dict[str, Participant]
    settings: RoomSettings
    playback: PlaybackState
    queue: Queue

    if TYPE_CHECKING:  # Room's own methods, used here

        def role_of(self, actor: str) -> str | None: ...
        def voter_key(self, actor: str) -> str: ...
        def require_control(self, pid: str, action: str) -> None: ...
        def connected_count(self) -> int: ...
        def lead_ms(self) -> float: ...
        def check_voice(self, pid: str, now_ms: float, what: str) -> None: ...
        def _emit(self, cls: Any, **fields: Any) -> Any: ...
        def _playback_event(self, action: str, by: str | None) -> Any: ...
        def _load_media(self, media: dict[str, Any], now_ms: float) -> None: ...

    # --- views ------------------------------------------------------------------------
    def skip_needed(self) -> int:
        """Skip votes that skip what plays: ``voteskip_ratio`` of the connected
        participants, rounded up, at least 1."""
        return max(1, math.ceil(self.settings.voteskip_ratio * self.connected_count() - 1e-9))

    def queue_public(self) -> dict[str, Any]:
        return self.queue.public(self.skip_needed())

    def queue_end_ms(self) -> float | None:
        """When what plays ends by the room's clock (server time, milliseconds), if
        something is queued after it and it plays with a known duration; else None."""
        pb = self.playback
        duration = pb.duration_s()
        if not self.queue.items or duration is None or pb.paused or pb.waiting or pb.rate <= 0:
            return None
        return pb.server_time_ms + max(0.0, duration - pb.position_s) / pb.rate * 1000.0

    def _changed(self, action: str, by: str | None, item_id: int | None) -> ev.QueueChanged:
        event: ev.QueueChanged = self._emit(
            ev.QueueChanged, action=action, by=by, item_id=item_id, queue=self.queue_public()
        )
        return event

    def _actor(self, actor: str) -> str:
        role = self.role_of(actor)
        if role is None:
            raise ProtocolError(E_NOT_FOUND, f"no participant {actor!r} in room {self.code}")
        return role

    # --- changes ----------------------------------------------------------------------
    def queue_add(
        self, actor: str, media: dict[str, Any], *, name: str | None, now_ms: float
    ) -> list[ev.RoomEvent]:
        """Queue *media* at the end (anyone in the room). With nothing loaded it is
        loaded at once (paused), as ``change_media`` would.

        Raises:
            ProtocolError: ``invalid_message`` at ``MAX_QUEUE_ITEMS``; ``not_found``.
        """
        self._actor(actor)
        if len(self.queue.items) >= MAX_QUEUE_ITEMS:
            raise ProtocolError(
                E_INVALID_MESSAGE, f"the queue holds at most {MAX_QUEUE_ITEMS} items; it is full"
            )
        p = self.participants.get(actor)
        item = QueueItem(
            id=self.queue.next_id,
            media=dict(media),
            added_by=actor,
            added_by_key=self.voter_key(actor),
            added_by_name=p.name if p else (name or ""),
            added_at_ms=now_ms,
        )
        self.queue.next_id += 1
        self.queue.items.append(item)
        self.queue.version += 1
        events: list[ev.RoomEvent] = [self._changed("add", actor, item.id)]
        if self.playback.media is None:
            events.extend(self._advance(now_ms, action="advance", by=actor, play=False))
        return events

    def queue_remove(self, actor: str, item_id: int) -> list[ev.RoomEvent]:
        """Remove a queued item: one's own, or any for the host and co-hosts.

        Raises:
            ProtocolError: ``not_found``; ``forbidden``.
        """
        role = self._actor(actor)
        i = self.queue.index_of(item_id)
        if i is None:
            raise ProtocolError(E_NOT_FOUND, f"no item {item_id} in the queue")
        item = self.queue.items[i]
        if role not in (ROLE_HOST, ROLE_COHOST) and item.added_by_key != self.voter_key(actor):
            raise ProtocolError(
                E_FORBIDDEN, "only who added it, the host or a co-host may remove a queue item"
            )
        del self.queue.items[i]
        self.queue.version += 1
        return [self._changed("remove", actor, item_id)]

    def queue_move(
        self, actor: str, item_id: int, to_index: int, version: int
    ) -> list[ev.RoomEvent]:
        """Move a queued item to *to_index* (0: next), as of queue *version* (those
        who may control playback).

        Raises:
            ProtocolError: ``stale_queue`` (``details.version``: the current one) when
                *version* is not the queue's; ``forbidden``; ``not_found``;
                ``invalid_message`` for an index past the end.
        """
        self.require_control(actor, "reordering the queue")
        if version != self.queue.version:
            raise ProtocolError(
                E_STALE_QUEUE,
                f"the queue is at version {self.queue.version}, not {version}: "
                "reorder what it is now",
                {"version": self.queue.version},
            )
        i = self.queue.index_of(item_id)
        if i is None:
            raise ProtocolError(E_NOT_FOUND, f"no item {item_id} in the queue")
        if not 0 <= to_index < len(self.queue.items):
            raise ProtocolError(
                E_INVALID_MESSAGE,
                f"to_index: 0 to {len(self.queue.items) - 1}, got {to_index}",
            )
        item = self.queue.items.pop(i)
        self.queue.items.insert(to_index, item)
        self.queue.version += 1
        return [self._changed("move", actor, item_id)]

    def queue_skip(self, actor: str, *, now_ms: float) -> list[ev.RoomEvent]:
        """Play the next queued item now (those who may control playback).

        Raises:
            ProtocolError: ``forbidden``; ``invalid_message`` when nothing is queued.
        """
        self.require_control(actor, "skipping")
        return self._advance(now_ms, action="skip", by=actor, play=True)

    def vote_skip(self, actor: str, *, now_ms: float) -> list[ev.RoomEvent]:
        """Vote to skip what plays; at ``skip_needed`` votes the next item plays.

        Raises:
            ProtocolError: ``muted``; ``no_media``; ``already_voted`` for a second vote of the
                same person on the same item; ``invalid_message`` when nothing is
                queued; ``not_found``.
        """
        self._actor(actor)
        self.check_voice(actor, now_ms, "votes")
        if self.playback.media is None:
            raise ProtocolError(E_NO_MEDIA, f"room {self.code} plays nothing to skip")
        if not self.queue.items:
            raise ProtocolError(E_INVALID_MESSAGE, "nothing is queued to skip to")
        key = self.voter_key(actor)
        if key in self.queue.skip_votes:
            raise ProtocolError(E_ALREADY_VOTED, "you already voted to skip this item")
        self.queue.skip_votes.add(key)
        if len(self.queue.skip_votes) >= self.skip_needed():
            return self._advance(now_ms, action="vote_skip", by=None, play=True)
        return [self._changed("vote_skip", actor, None)]

    def expire_queue(self, now_ms: float) -> list[ev.RoomEvent]:
        """Play the next item when what plays ended by the room's clock."""
        end = self.queue_end_ms()
        if end is None or now_ms < end:
            return []
        return self._advance(now_ms, action="advance", by=None, play=True)

    def _advance(
        self, now_ms: float, *, action: str, by: str | None, play: bool
    ) -> list[ev.RoomEvent]:
        if not self.queue.items:
            raise ProtocolError(E_INVALID_MESSAGE, "nothing is queued to play next")
        item = self.queue.items.pop(0)
        self.queue.version += 1
        self.queue.skip_votes.clear()
        self._load_media(item.media, now_ms)
        if play:
            self.playback.paused = False
            self.playback.server_time_ms = now_ms + self.lead_ms()
        changed = self._changed(action, by, item.id)
        return [changed, self._playback_event(action, by)]


__all__ = ["RoomQueue"]
