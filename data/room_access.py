"""Room entry rules and memberships (as in StreamIt: public or private rooms,
entered openly, with a password, or after the host's approval).

A room without a ``room_access`` row (one created on the sync socket, or the demo
room) is public and open. Every function takes a ``sqlite_utils.Database`` first and
is meant to run inside ``Database.write`` or ``Database.read``. Times are
milliseconds since the Unix epoch.

The sync server calls :func:`may_enter` before it admits someone to a room.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any, TypedDict

import sqlite_utils

from .errors import NotFoundError

logger = logging.getLogger(__name__)

VISIBILITIES = ("public", "private")
ENTRY_MODES = ("open", "password", "approval")
MEMBER_STATUSES = ("pending", "approved", "denied")


class RoomAccess(TypedDict):
    """A room's entry rules.

    Attributes:
        room_code: The room.
        visibility: ``public`` (listed) or ``private`` (only members see it).
        entry_mode: ``open``, ``password`` or ``approval``.
        password_hash: The argon2 hash of the room password (entry mode ``password``),
            else None.
        owner_user_id: The account that created the room, or None.
    """

    room_code: str
    visibility: str
    entry_mode: str
    password_hash: str | None
    owner_user_id: str | None


class Membership(TypedDict):
    """Someone's standing in a room.

    Attributes:
        room_code: The room.
        user_id: The account.
        status: ``pending`` (waiting for approval), ``approved`` or ``denied``.
        requested_at_ms: When it was asked for (or granted, for open rooms).
        decided_at_ms: When it was approved or denied, or None while pending.
    """

    room_code: str
    user_id: str
    status: str
    requested_at_ms: int
    decided_at_ms: int | None


class MemberEntry(Membership):
    """A :class:`Membership` with the member's ``display_name``."""

    display_name: str


_ACCESS_COLUMNS = "room_code, visibility, entry_mode, password_hash, owner_user_id"
_ACCESS_KEYS = tuple(_ACCESS_COLUMNS.split(", "))
_MEMBER_COLUMNS = "room_code, user_id, status, requested_at_ms, decided_at_ms"
_MEMBER_KEYS = tuple(_MEMBER_COLUMNS.split(", "))


def create_room_access(
    db: sqlite_utils.Database,
    *,
    room_code: str,
    visibility: str,
    entry_mode: str,
    password_hash: str | None,
    owner_user_id: str | None,
    now_ms: int,
) -> RoomAccess:
    """Store a room's entry rules and, with an owner, the owner's approved membership.

    Args:
        db: The writer connection.
        room_code: A stored room (``rooms.code``).
        visibility: ``public`` or ``private``.
        entry_mode: ``open``, ``password`` or ``approval``.
        password_hash: The argon2 hash of the room password; required exactly when
            *entry_mode* is ``password``.
        owner_user_id: The creating account, or None.
        now_ms: Creation time.

    Returns:
        The stored rules.

    Raises:
        ValueError: for an unknown visibility or entry mode, or a password hash given
            or missing against the entry mode. Nothing was written then.
        sqlite3.IntegrityError: if the room is not stored, already has rules, or the
            owner account does not exist.
    """
    if visibility not in VISIBILITIES:
        raise ValueError(f"expected a visibility in {VISIBILITIES}, got {visibility!r}")
    if entry_mode not in ENTRY_MODES:
        raise ValueError(f"expected an entry mode in {ENTRY_MODES}, got {entry_mode!r}")
    if (entry_mode == "password") != (password_hash is not None):
        raise ValueError(
            f"expected a password hash exactly for entry mode 'password', got entry mode "
            f"{entry_mode!r} {'with' if password_hash else 'without'} one"
        )
    with db.atomic():
        db.execute(
            f"INSERT INTO room_access ({_ACCESS_COLUMNS}) VALUES (?, ?, ?, ?, ?)",
            [room_code, visibility, entry_mode, password_hash, owner_user_id],
        )
        if owner_user_id is not None:
            set_membership(db, room_code, owner_user_id, "approved", now_ms)
    return RoomAccess(
        room_code=room_code,
        visibility=visibility,
        entry_mode=entry_mode,
        password_hash=password_hash,
        owner_user_id=owner_user_id,
    )


def get_room_access(db: sqlite_utils.Database, room_code: str) -> RoomAccess | None:
    """Return a room's entry rules, or None for a room without any (public, open)."""
    row = db.execute(
        f"SELECT {_ACCESS_COLUMNS} FROM room_access WHERE room_code = ?", [room_code]
    ).fetchone()
    return None if row is None else _access(row)


def room_access_map(db: sqlite_utils.Database, room_codes: Iterable[str]) -> dict[str, RoomAccess]:
    """Return the entry rules of those of *room_codes* that have any, by room code."""
    codes = list(dict.fromkeys(room_codes))
    found: dict[str, RoomAccess] = {}
    # Batches stay under SQLite's default limit of 999 bound parameters.
    for start in range(0, len(codes), 500):
        batch = codes[start : start + 500]
        marks = ", ".join("?" * len(batch))
        rows = db.execute(
            f"SELECT {_ACCESS_COLUMNS} FROM room_access WHERE room_code IN ({marks})", batch
        ).fetchall()
        found.update((row[0], _access(row)) for row in rows)
    return found


def get_membership(db: sqlite_utils.Database, room_code: str, user_id: str) -> Membership | None:
    """Return *user_id*'s membership of a room, or None when it has none."""
    row = db.execute(
        f"SELECT {_MEMBER_COLUMNS} FROM room_members WHERE room_code = ? AND user_id = ?",
        [room_code, user_id],
    ).fetchone()
    return None if row is None else _member(row)


def may_enter(db: sqlite_utils.Database, room_code: str, user_id: str | None) -> bool:
    """Return whether someone may enter a room under its entry rules.

    True when the room has no rules, or its entry mode is ``open``, or *user_id* owns
    it or has an approved membership. A guest without an account (*user_id* None)
    enters open rooms only. The room password is checked once, when joining through
    the web app, which then records an approved membership.

    Args:
        db: Either connection.
        room_code: The room (an unknown room has no rules: True).
        user_id: The account, or None for someone without one.
    """
    access = get_room_access(db, room_code)
    if access is None or access["entry_mode"] == "open":
        return True
    if user_id is None:
        return False
    if access["owner_user_id"] == user_id:
        return True
    membership = get_membership(db, room_code, user_id)
    return membership is not None and membership["status"] == "approved"


def set_membership(
    db: sqlite_utils.Database, room_code: str, user_id: str, status: str, now_ms: int
) -> Membership:
    """Create or overwrite *user_id*'s membership of a room with *status*.

    ``pending`` records *now_ms* as the request time and clears the decision time;
    ``approved`` and ``denied`` record *now_ms* as the decision time (and as the
    request time of a new row).

    Raises:
        ValueError: for an unknown *status*.
        sqlite3.IntegrityError: if the room or the account does not exist.
    """
    if status not in MEMBER_STATUSES:
        raise ValueError(f"expected a status in {MEMBER_STATUSES}, got {status!r}")
    decided = None if status == "pending" else now_ms
    db.execute(
        f"INSERT INTO room_members ({_MEMBER_COLUMNS}) VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT (room_code, user_id) DO UPDATE SET status = excluded.status, "
        "decided_at_ms = excluded.decided_at_ms, "
        "requested_at_ms = CASE WHEN excluded.status = 'pending' "
        "THEN excluded.requested_at_ms ELSE room_members.requested_at_ms END",
        [room_code, user_id, status, now_ms, decided],
    )
    membership = get_membership(db, room_code, user_id)
    assert membership is not None
    return membership


def decide_membership(
    db: sqlite_utils.Database, room_code: str, user_id: str, status: str, now_ms: int
) -> Membership:
    """Approve or deny a pending request to join a room.

    Args:
        db: The writer connection.
        room_code: The room.
        user_id: The account that asked.
        status: ``approved`` or ``denied``.
        now_ms: Decision time.

    Raises:
        ValueError: for a *status* other than ``approved`` or ``denied``.
        NotFoundError: if *user_id* has no pending request for the room. Nothing
            changed then.
    """
    if status not in ("approved", "denied"):
        raise ValueError(f"expected status 'approved' or 'denied', got {status!r}")
    cursor = db.execute(
        "UPDATE room_members SET status = ?, decided_at_ms = ? "
        "WHERE room_code = ? AND user_id = ? AND status = 'pending'",
        [status, now_ms, room_code, user_id],
    )
    if cursor.rowcount == 0:
        raise NotFoundError(
            f"expected a pending request from account {user_id!r} to join room "
            f"{room_code!r}, got none"
        )
    membership = get_membership(db, room_code, user_id)
    assert membership is not None
    logger.info("room %s: %s account %s", room_code, status, user_id)
    return membership


def remove_membership(db: sqlite_utils.Database, room_code: str, user_id: str) -> bool:
    """Delete *user_id*'s membership of a room; return whether there was one."""
    cursor = db.execute(
        "DELETE FROM room_members WHERE room_code = ? AND user_id = ?", [room_code, user_id]
    )
    return cursor.rowcount > 0


def list_memberships(
    db: sqlite_utils.Database, room_code: str, status: str, *, offset: int, limit: int
) -> tuple[int, list[MemberEntry]]:
    """Return one page of a room's memberships with *status*, oldest request first,
    each with the member's display name.

    Returns:
        ``(count of all such memberships, the page)``.

    Raises:
        ValueError: for an unknown *status* or a negative *offset* or *limit*.
    """
    if status not in MEMBER_STATUSES:
        raise ValueError(f"expected a status in {MEMBER_STATUSES}, got {status!r}")
    if offset < 0 or limit < 0:
        raise ValueError(f"expected offset and limit of 0 or more, got {offset} and {limit}")
    (count,) = db.execute(
        "SELECT count(*) FROM room_members WHERE room_code = ? AND status = ?",
        [room_code, status],
    ).fetchone()
    columns = ", ".join(f"m.{name}" for name in _MEMBER_KEYS)
    rows = db.execute(
        f"SELECT {columns}, u.display_name FROM room_members AS m "
        "JOIN users AS u ON u.id = m.user_id WHERE m.room_code = ? AND m.status = ? "
        "ORDER BY m.requested_at_ms, m.user_id LIMIT ? OFFSET ?",
        [room_code, status, limit, offset],
    ).fetchall()
    entries = [MemberEntry(**_member(row[:-1]), display_name=row[-1]) for row in rows]
    return int(count), entries


def _access(row: tuple[Any, ...]) -> RoomAccess:
    return RoomAccess(**dict(zip(_ACCESS_KEYS, row, strict=True)))  # type: ignore[typeddict-item]


def _member(row: tuple[Any, ...]) -> Membership:
    return Membership(**dict(zip(_MEMBER_KEYS, row, strict=True)))  # type: ignore[typeddict-item]
