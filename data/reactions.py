"""Reaction queries: the reactions of a room, and per-second counts per media.

Every function takes a ``sqlite_utils.Database`` first and runs inside
``Database.write`` or ``Database.read``. Rows arrive in batches from a room's timer
(:func:`add_reactions`), which also adds them to ``reaction_timeline`` in the same
transaction. Times are milliseconds since the Unix epoch, positions seconds.
"""

from __future__ import annotations

from typing import Any, TypedDict

import sqlite_utils

#: The largest page :func:`list_reactions` returns.
MAX_LIST_LIMIT = 100

_COLUMNS = (
    "id, room_code, media_key, participant_id, user_id, display_name, emoji, position_s, "
    "second, created_at_ms"
)
_KEYS = tuple(_COLUMNS.split(", "))


class StoredReaction(TypedDict):
    """A reaction as :func:`list_reactions` returns it (fields as the columns)."""

    id: int
    room_code: str
    media_key: str
    participant_id: str
    user_id: str | None
    display_name: str
    emoji: str
    position_s: float
    second: int
    created_at_ms: int


def add_reactions(db: sqlite_utils.Database, rows: list[dict[str, Any]]) -> int:
    """Store reactions (``room_code``, ``media_key``, ``participant_id``, ``user_id``,
    ``display_name``, ``emoji``, ``position_s``, ``second``, ``created_at_ms``) and add
    them to the per-second timeline; rows of a room that is no longer stored are
    skipped. Returns how many were stored."""
    stored = 0
    rooms: dict[str, bool] = {}
    for row in rows:
        code = row["room_code"]
        if code not in rooms:
            rooms[code] = (
                db.execute("SELECT 1 FROM rooms WHERE code = ?", [code]).fetchone() is not None
            )
        if not rooms[code]:
            continue
        db.execute(
            f"INSERT INTO reactions ({_COLUMNS[4:]}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [row[k] for k in _KEYS[1:]],
        )
        db.execute(
            "INSERT INTO reaction_timeline (media_key, second, emoji, count) VALUES (?, ?, ?, 1) "
            "ON CONFLICT (media_key, second, emoji) DO UPDATE SET count = count + 1",
            [row["media_key"], row["second"], row["emoji"]],
        )
        stored += 1
    return stored


def list_reactions(
    db: sqlite_utils.Database, room_code: str, *, offset: int, limit: int
) -> tuple[int, list[StoredReaction]]:
    """A page of room *room_code*'s reactions, newest first: ``(count, reactions)``."""
    limit = max(1, min(limit, MAX_LIST_LIMIT))
    count = int(
        db.execute("SELECT COUNT(*) FROM reactions WHERE room_code = ?", [room_code]).fetchone()[0]
    )
    rows = db.execute(
        f"SELECT {_COLUMNS} FROM reactions WHERE room_code = ? ORDER BY id DESC LIMIT ? OFFSET ?",
        [room_code, limit, max(0, offset)],
    ).fetchall()
    return count, [dict(zip(_KEYS, r, strict=True)) for r in rows]  # type: ignore[misc]


def timeline(
    db: sqlite_utils.Database, media_key: str, *, limit: int
) -> list[tuple[int, str, int]]:
    """Counts of media *media_key*: ``(second, emoji, count)`` by second, at most *limit*."""
    rows = db.execute(
        "SELECT second, emoji, count FROM reaction_timeline WHERE media_key = ? "
        "ORDER BY second, emoji LIMIT ?",
        [media_key, limit],
    ).fetchall()
    return [(int(s), str(e), int(c)) for s, e, c in rows]


__all__ = ["MAX_LIST_LIMIT", "StoredReaction", "add_reactions", "list_reactions", "timeline"]
