"""The shared queue of a room: what plays next, with a version, and skip votes.

Pure data: :mod:`protocol.room_queue` applies the rules (who may, when an item ended
by the room's clock). The queue holds the items *after* the one playing (the room's
playback media). Every change to the items bumps ``version``; a reorder names the
version it was made against, and a stale one is refused, never misapplied.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: Items a queue may hold.
MAX_QUEUE_ITEMS = 100
#: Default share of connected participants whose skip votes skip the current item.
DEFAULT_VOTESKIP_RATIO = 0.5


@dataclass(slots=True)
class QueueItem:
    """One queued media.

    Attributes:
        id: Item id, unique in the room (1, 2, ...).
        media: ``{"url", "title", "duration_s"[, "video_id"]}``.
        added_by: Participant id (or ``user:<id>`` over REST) that added it.
        added_by_key: Its person (voter key), who may remove it.
        added_by_name: Display name.
        added_at_ms: Server time, milliseconds.
    """

    id: int
    media: dict[str, Any]
    added_by: str
    added_by_key: str
    added_by_name: str
    added_at_ms: float

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "media": dict(self.media),
            "added_by": self.added_by,
            "added_by_name": self.added_by_name,
            "added_at_ms": self.added_at_ms,
        }

    def snapshot(self) -> dict[str, Any]:
        return {**self.public(), "added_by_key": self.added_by_key}

    @classmethod
    def restore(cls, data: dict[str, Any]) -> QueueItem:
        return cls(
            id=int(data["id"]),
            media=dict(data["media"]),
            added_by=str(data["added_by"]),
            added_by_key=str(data.get("added_by_key") or data["added_by"]),
            added_by_name=str(data.get("added_by_name") or ""),
            added_at_ms=float(data["added_at_ms"]),
        )


@dataclass(slots=True)
class Queue:
    """Items after the current media, a version, and the current item's skip votes."""

    items: list[QueueItem] = field(default_factory=list)
    version: int = 0
    next_id: int = 1
    skip_votes: set[str] = field(default_factory=set)

    def index_of(self, item_id: int) -> int | None:
        for i, item in enumerate(self.items):
            if item.id == item_id:
                return i
        return None

    def public(self, skip_needed: int) -> dict[str, Any]:
        """The queue as clients see it: ``version``, ``items``, ``skip_votes`` (how
        many voted to skip what plays) and ``skip_needed`` (how many it takes)."""
        return {
            "version": self.version,
            "items": [item.public() for item in self.items],
            "skip_votes": len(self.skip_votes),
            "skip_needed": skip_needed,
        }

    def snapshot(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "next_id": self.next_id,
            "items": [item.snapshot() for item in self.items],
            "skip_votes": sorted(self.skip_votes),
        }

    @classmethod
    def restore(cls, data: dict[str, Any] | None) -> Queue:
        if not data:
            return cls()
        return cls(
            items=[QueueItem.restore(i) for i in data.get("items", [])],
            version=int(data.get("version", 0)),
            next_id=int(data.get("next_id", 1)),
            skip_votes=set(data.get("skip_votes", [])),
        )


__all__ = ["DEFAULT_VOTESKIP_RATIO", "MAX_QUEUE_ITEMS", "Queue", "QueueItem"]
