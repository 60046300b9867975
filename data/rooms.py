"""Room snapshot queries.

A snapshot is what survives a restart of a room: its settings and a JSON copy of its
live state (``protocol`` owns their shape; this module stores any JSON object). The sync
server writes snapshots in batches with :func:`upsert_room_snapshots` and reads them back
at start-up with :func:`load_room_snapshots`.

Every function takes a ``sqlite_utils.Database`` first and is meant to run inside
``Database.write`` or ``Database.read``. Times are milliseconds since the Unix epoch.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from typing import Any, TypedDict

import sqlite_utils

from .errors import NotFoundError, StoreError

logger = logging.getLogger(__name__)

_COLUMNS = "code, name, settings, state, last_seq, created_at_ms, updated_at_ms"

# Deliberately not INSERT OR REPLACE: REPLACE deletes the old row first, and that
# delete would cascade to the room's chat messages.
_UPSERT_SQL = """
INSERT INTO rooms (code, name, settings, state, last_seq, created_at_ms, updated_at_ms)
VALUES (:code, :name, :settings, :state, :last_seq, :created_at_ms, :updated_at_ms)
ON CONFLICT (code) DO UPDATE SET
    name = excluded.name,
    settings = excluded.settings,
    state = excluded.state,
    last_seq = excluded.last_seq,
    updated_at_ms = excluded.updated_at_ms
"""


class RoomSnapshot(TypedDict):
    """A room as stored.

    Attributes:
        code: The room code (primary key).
        name: The room's display name.
        settings: The room settings, a JSON object.
        state: The live room state at snapshot time, a JSON object.
        last_seq: The sequence number of the last event applied to *state*.
        created_at_ms: When the room was first stored, in milliseconds since the epoch.
        updated_at_ms: When this snapshot was taken, in milliseconds since the epoch.
    """

    code: str
    name: str
    settings: dict[str, Any]
    state: dict[str, Any]
    last_seq: int
    created_at_ms: int
    updated_at_ms: int


def upsert_room_snapshots(
    db: sqlite_utils.Database, snapshots: Iterable[Mapping[str, Any]]
) -> None:
    """Insert new rooms and update existing ones, all or nothing.

    An existing room keeps its ``created_at_ms`` (the value in the snapshot is only
    used on first insert) and its chat messages.

    Args:
        db: The writer connection.
        snapshots: Mappings with the keys of :class:`RoomSnapshot` (other keys are
            ignored); ``settings`` and ``state`` must be JSON-serialisable dicts.

    Raises:
        ValueError: if a snapshot lacks a key, has a value of the wrong type, or holds
            something JSON cannot encode (including NaN and infinities). Every snapshot
            is checked before anything is written, so nothing was written then.
    """
    rows = [_encode(snapshot) for snapshot in snapshots]
    if not rows:
        return
    # Inside Database.write this is a savepoint; called on its own it is the
    # transaction, so the batch is all or nothing either way.
    with db.atomic():
        db.conn.executemany(_UPSERT_SQL, rows)
    logger.debug("upserted %d room snapshots", len(rows))


def load_room_snapshots(db: sqlite_utils.Database) -> list[RoomSnapshot]:
    """Return every stored room, ordered by code.

    Args:
        db: Either connection.

    Returns:
        The snapshots, with ``settings`` and ``state`` decoded.

    Raises:
        StoreError: if a stored ``settings`` or ``state`` is not a JSON object.
    """
    rows = db.execute(f"SELECT {_COLUMNS} FROM rooms ORDER BY code").fetchall()
    return [_decode(row) for row in rows]


def get_room_snapshot(db: sqlite_utils.Database, code: str) -> RoomSnapshot:
    """Return one stored room.

    Args:
        db: Either connection.
        code: The room code.

    Returns:
        The snapshot, with ``settings`` and ``state`` decoded.

    Raises:
        NotFoundError: if no room has *code*.
        StoreError: if its stored ``settings`` or ``state`` is not a JSON object.
    """
    row = db.execute(f"SELECT {_COLUMNS} FROM rooms WHERE code = ?", [code]).fetchone()
    if row is None:
        raise NotFoundError(f"expected a stored room with code {code!r}, got none")
    return _decode(row)


def delete_room(db: sqlite_utils.Database, code: str) -> bool:
    """Delete a room and, through the foreign key cascade, all its chat messages.

    Args:
        db: The writer connection (it has ``foreign_keys=ON``, which the cascade needs).
        code: The room code.

    Returns:
        True if the room existed, False if there was nothing to delete.
    """
    cursor = db.execute("DELETE FROM rooms WHERE code = ?", [code])
    return cursor.rowcount > 0


def room_exists(db: sqlite_utils.Database, code: str) -> bool:
    """Return whether a room with *code* is stored.

    Args:
        db: Either connection.
        code: The room code.
    """
    return db.execute("SELECT 1 FROM rooms WHERE code = ?", [code]).fetchone() is not None


_FIELD_TYPES: dict[str, type] = {
    "code": str,
    "name": str,
    "settings": dict,
    "state": dict,
    "last_seq": int,
    "created_at_ms": int,
    "updated_at_ms": int,
}


def _encode(snapshot: Mapping[str, Any]) -> dict[str, Any]:
    code = snapshot.get("code", "?")
    missing = [key for key in _FIELD_TYPES if key not in snapshot]
    if missing:
        raise ValueError(
            f"expected room snapshot keys {list(_FIELD_TYPES)}, got {sorted(snapshot)} "
            f"(missing {missing}) for room {code!r}"
        )
    for key, expected in _FIELD_TYPES.items():
        value = snapshot[key]
        # bool is an int subclass, and True is no sequence number.
        if not isinstance(value, expected) or isinstance(value, bool):
            raise ValueError(
                f"expected {expected.__name__} for room snapshot key {key!r} of room "
                f"{code!r}, got {type(value).__name__}"
            )
    row = {key: snapshot[key] for key in _FIELD_TYPES}
    for key in ("settings", "state"):
        try:
            row[key] = json.dumps(row[key], separators=(",", ":"), allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise ValueError(
                f"expected JSON-serialisable {key} for room {code!r}, got: {exc}"
            ) from exc
    return row


def _decode(row: tuple[Any, ...]) -> RoomSnapshot:
    code, name, settings_json, state_json, last_seq, created_at_ms, updated_at_ms = row
    return RoomSnapshot(
        code=code,
        name=name,
        settings=_load_object(settings_json, code, "settings"),
        state=_load_object(state_json, code, "state"),
        last_seq=last_seq,
        created_at_ms=created_at_ms,
        updated_at_ms=updated_at_ms,
    )


def _load_object(text: str, code: str, column: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except (TypeError, ValueError) as exc:
        raise StoreError(
            f"expected a JSON object in rooms.{column} of room {code!r}, got invalid JSON: {exc}"
        ) from exc
    if not isinstance(value, dict):
        raise StoreError(
            f"expected a JSON object in rooms.{column} of room {code!r}, got {type(value).__name__}"
        )
    return value
