"""Reactions of a live room: storing them in batches and reading the timeline back.

The rules (rate limit per person, the server-computed position) are
:mod:`protocol.room_reactions`; a reaction is shown at once and stored by the room's
timer at most a second later, in one transaction with the others of that second.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from data import reactions as reaction_store
from protocol.reactions import MAX_TIMELINE_ENTRIES

if TYPE_CHECKING:
    from sync_server.live_room import LiveRoom


async def store_reactions(server: Any, rows: list[dict[str, Any]]) -> int:
    """Store a batch of reaction rows and their timeline counts; returns how many."""
    stored: int = await server.db.write(reaction_store.add_reactions, rows)
    return stored


async def timeline_of(live: LiveRoom) -> tuple[str | None, list[list[Any]]]:
    """The current media's key and its timeline ``[[second, emoji, count], ...]``
    (sorted by second, then emoji), stored counts plus those not stored yet."""
    key, pending = live.room.timeline_pending()
    if key is None:
        return None, []
    stored = await live.server.db.read(
        lambda db: reaction_store.timeline(db, key, limit=MAX_TIMELINE_ENTRIES)
    )
    counts: dict[tuple[int, str], int] = {(s, e): c for s, e, c in stored}
    for k, c in pending.items():
        counts[k] = counts.get(k, 0) + c
    return key, [[s, e, c] for (s, e), c in sorted(counts.items())][:MAX_TIMELINE_ENTRIES]


__all__ = ["store_reactions", "timeline_of"]
