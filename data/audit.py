"""The audit log of rooms: every moderation and control action, who, what, whom, when.

Functions take a ``sqlite_utils.Database`` first and run inside ``Database.write`` or
``Database.read``. Times are milliseconds since the Unix epoch.
"""

from __future__ import annotations

import json
from typing import Any, TypedDict

import sqlite_utils

#: The largest page :func:`list_entries` returns.
MAX_LIST_LIMIT = 100

_COLUMNS = "id, room_code, actor, actor_user_id, actor_name, action, target, details, created_at_ms"
_KEYS = tuple(_COLUMNS.split(", "))


class AuditEntry(TypedDict):
    """One audited action (fields as the columns; ``details`` decoded)."""

    id: int
    room_code: str
    actor: str
    actor_user_id: str | None
    actor_name: str
    action: str
    target: str | None
    details: dict[str, Any]
    created_at_ms: int


def add_entry(
    db: sqlite_utils.Database,
    *,
    room_code: str,
    actor: str,
    actor_user_id: str | None,
    actor_name: str,
    action: str,
    target: str | None,
    details: dict[str, Any],
    created_at_ms: int,
) -> int | None:
    """Record an action; returns its id, or None when the room is not stored."""
    if db.execute("SELECT 1 FROM rooms WHERE code = ?", [room_code]).fetchone() is None:
        return None
    cursor = db.execute(
        f"INSERT INTO audit_log ({_COLUMNS[4:]}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            room_code,
            actor,
            actor_user_id,
            actor_name,
            action,
            target,
            json.dumps(details, separators=(",", ":")),
            created_at_ms,
        ],
    )
    return int(cursor.lastrowid or 0)


def list_entries(
    db: sqlite_utils.Database, room_code: str, *, offset: int, limit: int
) -> tuple[int, list[AuditEntry]]:
    """A page of room *room_code*'s audit log, newest first: ``(count, entries)``."""
    limit = max(1, min(limit, MAX_LIST_LIMIT))
    count = int(
        db.execute("SELECT COUNT(*) FROM audit_log WHERE room_code = ?", [room_code]).fetchone()[0]
    )
    rows = db.execute(
        f"SELECT {_COLUMNS} FROM audit_log WHERE room_code = ? ORDER BY id DESC LIMIT ? OFFSET ?",
        [room_code, limit, max(0, offset)],
    ).fetchall()
    entries = []
    for row in rows:
        d = dict(zip(_KEYS, row, strict=True))
        d["details"] = json.loads(d["details"])
        entries.append(d)
    return count, entries  # type: ignore[return-value]


__all__ = ["MAX_LIST_LIMIT", "AuditEntry", "add_entry", "list_entries"]
