"""Poll queries: a row when a poll opens, its final results when it closes.

Every function takes a ``sqlite_utils.Database`` first and runs inside
``Database.write`` (the writing ones) or ``Database.read`` (the reading ones). Votes of
an open poll are not stored here (they live in the room and its snapshot); the row of
a closed poll holds its final results. Times are milliseconds since the Unix epoch.
"""

from __future__ import annotations

import json
from typing import Any, TypedDict

import sqlite_utils

from .errors import NotFoundError

#: The largest page :func:`list_polls` returns.
MAX_LIST_LIMIT = 100

_COLUMNS = (
    "id, room_code, question, options, multiple, anonymous, created_by_participant, "
    "created_by_user_id, created_by_name, created_at_ms, closes_at_ms, closed_at_ms, "
    "close_reason, closed_by, counts, voter_count, voters"
)
_KEYS = tuple(_COLUMNS.split(", "))


class StoredPoll(TypedDict):
    """A poll as the query functions return it.

    Attributes:
        id: The poll id (also its id on the sync socket).
        room_code: Its room.
        question: The question.
        options: The option texts.
        multiple: Whether a vote may choose several options.
        anonymous: Whether results hide who chose what.
        created_by_participant: Participant id of its creator, or None (over REST).
        created_by_user_id: Account of its creator, or None for a guest.
        created_by_name: Display name of its creator.
        created_at_ms: When it opened, milliseconds.
        closes_at_ms: When it was set to close by itself, milliseconds, or None.
        closed_at_ms: When it closed, milliseconds, or None while open.
        close_reason: ``closed`` or ``expired``, or None while open.
        closed_by: The actor that closed it, or None.
        counts: Final votes per option, or None while open.
        voter_count: People who voted (final), 0 while open.
        voters: Per option, ``[{"participant_id", "user_id", "name"}]``; None while
            open or for an anonymous poll.
    """

    id: int
    room_code: str
    question: str
    options: list[str]
    multiple: bool
    anonymous: bool
    created_by_participant: str | None
    created_by_user_id: str | None
    created_by_name: str
    created_at_ms: int
    closes_at_ms: int | None
    closed_at_ms: int | None
    close_reason: str | None
    closed_by: str | None
    counts: list[int] | None
    voter_count: int
    voters: list[list[dict[str, Any]]] | None


def _poll(row: tuple[Any, ...]) -> StoredPoll:
    d = dict(zip(_KEYS, row, strict=True))
    d["options"] = json.loads(d["options"])
    d["multiple"] = bool(d["multiple"])
    d["anonymous"] = bool(d["anonymous"])
    d["counts"] = None if d["counts"] is None else json.loads(d["counts"])
    d["voters"] = None if d["voters"] is None else json.loads(d["voters"])
    return d  # type: ignore[return-value]


def create_poll(
    db: sqlite_utils.Database,
    *,
    room_code: str,
    question: str,
    options: list[str],
    multiple: bool,
    anonymous: bool,
    created_by_participant: str | None,
    created_by_user_id: str | None,
    created_by_name: str,
    created_at_ms: int,
    closes_at_ms: int | None,
) -> int:
    """Store a new open poll; returns its id.

    Raises:
        NotFoundError: when room *room_code* is not stored.
    """
    if db.execute("SELECT 1 FROM rooms WHERE code = ?", [room_code]).fetchone() is None:
        raise NotFoundError(f"expected a stored room {room_code!r}, found none")
    cursor = db.execute(
        "INSERT INTO polls (room_code, question, options, multiple, anonymous, "
        "created_by_participant, created_by_user_id, created_by_name, created_at_ms, "
        "closes_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            room_code,
            question,
            json.dumps(options),
            int(multiple),
            int(anonymous),
            created_by_participant,
            created_by_user_id,
            created_by_name,
            created_at_ms,
            closes_at_ms,
        ],
    )
    return int(cursor.lastrowid or 0)


def delete_poll(db: sqlite_utils.Database, poll_id: int) -> None:
    """Remove a poll row that never opened (its room refused it after the write)."""
    db.execute("DELETE FROM polls WHERE id = ? AND closed_at_ms IS NULL", [poll_id])


def finish_poll(
    db: sqlite_utils.Database,
    poll_id: int,
    *,
    closed_at_ms: int,
    close_reason: str,
    closed_by: str | None,
    counts: list[int],
    voter_count: int,
    voters: list[list[dict[str, Any]]] | None,
) -> bool:
    """Store a closed poll's final results; False when the row is missing or already
    closed (nothing is changed then)."""
    cursor = db.execute(
        "UPDATE polls SET closed_at_ms = ?, close_reason = ?, closed_by = ?, counts = ?, "
        "voter_count = ?, voters = ? WHERE id = ? AND closed_at_ms IS NULL",
        [
            closed_at_ms,
            close_reason,
            closed_by,
            json.dumps(counts),
            voter_count,
            None if voters is None else json.dumps(voters),
            poll_id,
        ],
    )
    return cursor.rowcount == 1


def get_poll(db: sqlite_utils.Database, poll_id: int) -> StoredPoll:
    """The poll *poll_id*.

    Raises:
        NotFoundError: when there is no such poll.
    """
    row = db.execute(f"SELECT {_COLUMNS} FROM polls WHERE id = ?", [poll_id]).fetchone()
    if row is None:
        raise NotFoundError(f"expected a poll {poll_id}, found none")
    return _poll(row)


def list_polls(
    db: sqlite_utils.Database, room_code: str, *, offset: int, limit: int
) -> tuple[int, list[StoredPoll]]:
    """A page of room *room_code*'s polls, newest first: ``(count, polls)``.

    Args:
        offset: Polls to skip (0 or more).
        limit: Most polls returned, 1 to ``MAX_LIST_LIMIT``.
    """
    limit = max(1, min(limit, MAX_LIST_LIMIT))
    count = int(
        db.execute("SELECT COUNT(*) FROM polls WHERE room_code = ?", [room_code]).fetchone()[0]
    )
    rows = db.execute(
        f"SELECT {_COLUMNS} FROM polls WHERE room_code = ? ORDER BY id DESC LIMIT ? OFFSET ?",
        [room_code, limit, max(0, offset)],
    ).fetchall()
    return count, [_poll(r) for r in rows]


__all__ = [
    "MAX_LIST_LIMIT",
    "StoredPoll",
    "create_poll",
    "delete_poll",
    "finish_poll",
    "get_poll",
    "list_polls",
]
