"""Events: scheduled watch parties, their attendees, invitations, reminders and the
calendar feed tokens of their users.

Every function takes a ``sqlite_utils.Database`` first and is meant to run inside
``Database.write`` (the writing ones) or ``Database.read``. Times are milliseconds
since the Unix epoch, UTC.

Who may see an event (:func:`visible_sql`): anyone for a ``public`` one; for a
``private`` or ``friends_only`` one its organizer, its invitees and its attendees.
Staff see every event. ``attending_count`` counts the ``attending`` rows and is
recomputed in the transaction that changes one, which is also where ``max_attendees``
is checked (:func:`set_attendance`), so concurrent joins never overfill an event.
"""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypedDict

import sqlite_utils

from .errors import NotFoundError, StoreError

PRIVACIES = ("public", "private", "friends_only")
#: Answers of an RSVP; ``pending`` and ``denied`` are set by the approval flow.
RSVP_STATUSES = ("attending", "maybe", "not_attending")
ATTENDEE_STATUSES = (*RSVP_STATUSES, "pending", "denied")
REMINDER_CHANNELS = ("in_app", "email")
#: Columns :func:`update_event` may change.
EDITABLE = (
    "title",
    "description",
    "starts_at_ms",
    "ends_at_ms",
    "timezone",
    "location",
    "is_virtual",
    "category",
    "tags",
    "privacy",
    "max_attendees",
    "require_approval",
    "room_code",
)

_COLUMNS = (
    "id, organizer_id, title, description, starts_at_ms, ends_at_ms, timezone, location, "
    "is_virtual, category, tags, privacy, max_attendees, require_approval, room_code, "
    "banner_type, cancelled_at_ms, sequence, attending_count, starting_sent_at_ms, "
    "created_at_ms, updated_at_ms"
)
_KEYS = tuple(_COLUMNS.split(", "))
_SELECT = (
    f"SELECT {', '.join('e.' + k for k in _KEYS)}, u.display_name "
    "FROM events AS e JOIN users AS u ON u.id = e.organizer_id"
)


class Event(TypedDict):
    """An event as the query functions return it (``tags`` decoded, flags as bools,
    ``organizer_name`` the organizer's display name)."""

    id: str
    organizer_id: str
    title: str
    description: str
    starts_at_ms: int
    ends_at_ms: int
    timezone: str
    location: str
    is_virtual: bool
    category: str
    tags: list[str]
    privacy: str
    max_attendees: int | None
    require_approval: bool
    room_code: str | None
    banner_type: str | None
    cancelled_at_ms: int | None
    sequence: int
    attending_count: int
    starting_sent_at_ms: int | None
    created_at_ms: int
    updated_at_ms: int
    organizer_name: str


class EventFullError(StoreError):
    """An ``attending`` answer to an event whose ``max_attendees`` seats are taken."""


class DuplicateInvitationError(StoreError):
    """An invitation to someone already invited to the event.

    Attributes:
        user_ids: The accounts already invited.
    """

    def __init__(self, user_ids: Sequence[str]) -> None:
        super().__init__(f"already invited: {', '.join(user_ids)}")
        self.user_ids = list(user_ids)


def new_event_id() -> str:
    """A random event id (32 hex digits): private events' ids cannot be guessed."""
    return uuid.uuid4().hex


def _event(row: Sequence[Any]) -> Event:
    event: dict[str, Any] = dict(zip(_KEYS, row[: len(_KEYS)], strict=True))
    event["organizer_name"] = row[len(_KEYS)]
    event["is_virtual"] = bool(event["is_virtual"])
    event["require_approval"] = bool(event["require_approval"])
    event["tags"] = json.loads(event["tags"])
    return event  # type: ignore[return-value]


def visible_sql(alias: str = "e") -> str:
    """A SQL condition, with one ``:viewer`` parameter (an account id or NULL), true
    for the events of *alias* that the viewer may see (staff aside)."""
    # IN (subquery) is evaluated once per statement, not per row as EXISTS would be.
    return (
        f"({alias}.privacy = 'public' OR {alias}.organizer_id = :viewer "
        f"OR {alias}.id IN (SELECT event_id FROM event_attendees WHERE user_id = :viewer) "
        f"OR {alias}.id IN (SELECT event_id FROM event_invitations WHERE invitee_id = :viewer))"
    )


#: The longest an event may last (a CHECK of the ``events`` table), milliseconds: an
#: event not ended at *now* started after ``now - MAX_EVENT_MS``.
MAX_EVENT_MS = 7 * 86_400_000


def _not_ended(alias: str = "e") -> str:
    return f"{alias}.ends_at_ms > :now AND {alias}.starts_at_ms > :now - {MAX_EVENT_MS}"


# --- events -------------------------------------------------------------------------------
def create_event(db: sqlite_utils.Database, fields: Mapping[str, Any], *, now_ms: int) -> Event:
    """Store a new event and its organizer as its first attendee (``attending``).

    Args:
        fields: ``id`` and the columns of :data:`EDITABLE` plus ``organizer_id``
            (``tags`` a list of strings).
        now_ms: Creation time.

    Returns:
        The stored event.
    """
    row = dict(fields)
    row["tags"] = json.dumps(list(row.get("tags") or []))
    row.update(created_at_ms=now_ms, updated_at_ms=now_ms, sequence=0, attending_count=0)
    names = ", ".join(row)
    db.execute(
        f"INSERT INTO events ({names}) VALUES ({', '.join(':' + k for k in row)})",
        row,
    )
    db.execute(
        "INSERT INTO event_attendees (event_id, user_id, status, wanted, created_at_ms, "
        "updated_at_ms) VALUES (?, ?, 'attending', 'attending', ?, ?)",
        [row["id"], row["organizer_id"], now_ms, now_ms],
    )
    _set_tags(db, row["id"], fields.get("tags") or [])
    _recount(db, row["id"])
    return get_event(db, row["id"])


def _set_tags(db: sqlite_utils.Database, event_id: str, tags: Iterable[str]) -> None:
    db.execute("DELETE FROM event_tags WHERE event_id = ?", [event_id])
    db.conn.executemany(
        "INSERT OR IGNORE INTO event_tags (tag, event_id) VALUES (?, ?)",
        [(tag, event_id) for tag in tags],
    )


def find_event(db: sqlite_utils.Database, event_id: str) -> Event | None:
    """The event *event_id*, or None."""
    row = db.execute(f"{_SELECT} WHERE e.id = ?", [event_id]).fetchone()
    return None if row is None else _event(row)


def get_event(db: sqlite_utils.Database, event_id: str) -> Event:
    """The event *event_id*.

    Raises:
        NotFoundError: if there is none.
    """
    event = find_event(db, event_id)
    if event is None:
        raise NotFoundError(f"expected an event with id {event_id!r}, found none")
    return event


def update_event(
    db: sqlite_utils.Database, event_id: str, changes: Mapping[str, Any], *, now_ms: int
) -> Event:
    """Change some columns of :data:`EDITABLE`, raise ``sequence`` by one, and move the
    scheduled reminders with the start time.

    Raises:
        NotFoundError: if the event does not exist.
        ValueError: for a column outside :data:`EDITABLE`.
    """
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise ValueError(f"expected columns among {EDITABLE}, got {sorted(unknown)}")
    values = dict(changes)
    if "tags" in values:
        _set_tags(db, event_id, values["tags"])
        values["tags"] = json.dumps(list(values["tags"]))
    sets = "".join(f"{k} = :{k}, " for k in values)
    cursor = db.execute(
        f"UPDATE events SET {sets}sequence = sequence + 1, updated_at_ms = :now_ms "
        "WHERE id = :event_id",
        {**values, "now_ms": now_ms, "event_id": event_id},
    )
    if cursor.rowcount == 0:
        raise NotFoundError(f"expected an event with id {event_id!r}, found none")
    if "starts_at_ms" in values:
        db.execute(
            "UPDATE event_reminders SET due_at_ms = ? - minutes_before * 60000 "
            "WHERE event_id = ? AND status = 'scheduled'",
            [values["starts_at_ms"], event_id],
        )
        db.execute("UPDATE events SET starting_sent_at_ms = NULL WHERE id = ?", [event_id])
    return get_event(db, event_id)


def cancel_event(db: sqlite_utils.Database, event_id: str, *, now_ms: int) -> Event:
    """Mark an event cancelled (once; ``sequence`` raised) and skip its scheduled
    reminders.

    Raises:
        NotFoundError: if the event does not exist.
    """
    cursor = db.execute(
        "UPDATE events SET cancelled_at_ms = ?, sequence = sequence + 1, updated_at_ms = ? "
        "WHERE id = ? AND cancelled_at_ms IS NULL",
        [now_ms, now_ms, event_id],
    )
    if cursor.rowcount:
        db.execute(
            "UPDATE event_reminders SET status = 'skipped', outcome = 'the event was cancelled', "
            "handled_at_ms = ? WHERE event_id = ? AND status = 'scheduled'",
            [now_ms, event_id],
        )
    return get_event(db, event_id)


def delete_event(db: sqlite_utils.Database, event_id: str) -> bool:
    """Delete an event with its attendees, invitations and reminders; False if absent."""
    return db.execute("DELETE FROM events WHERE id = ?", [event_id]).rowcount > 0


def _page(
    db: sqlite_utils.Database,
    where: str,
    params: dict[str, Any],
    order: str,
    offset: int,
    limit: int,
) -> tuple[int, list[Event]]:
    count = db.execute(f"SELECT count(*) FROM events AS e WHERE {where}", params).fetchone()[0]
    rows = db.execute(
        f"{_SELECT} WHERE {where} ORDER BY {order} LIMIT :limit OFFSET :offset",
        {**params, "limit": limit, "offset": offset},
    ).fetchall()
    return count, [_event(r) for r in rows]


def list_upcoming(
    db: sqlite_utils.Database,
    *,
    viewer_id: str | None,
    staff: bool,
    now_ms: int,
    offset: int,
    limit: int,
) -> tuple[int, list[Event]]:
    """Events not ended and not cancelled that the viewer may see, soonest first:
    ``(count, page)``."""
    where = f"e.cancelled_at_ms IS NULL AND {_not_ended()}"
    if not staff:
        where += f" AND {visible_sql()}"
    return _page(
        db, where, {"now": now_ms, "viewer": viewer_id}, "e.starts_at_ms, e.id", offset, limit
    )


def list_organised(
    db: sqlite_utils.Database, user_id: str, *, offset: int, limit: int
) -> tuple[int, list[Event]]:
    """Events *user_id* organises, latest start first: ``(count, page)``."""
    return _page(
        db, "e.organizer_id = :user", {"user": user_id}, "e.starts_at_ms DESC, e.id", offset, limit
    )


def list_attending(
    db: sqlite_utils.Database, user_id: str, *, now_ms: int, offset: int, limit: int
) -> tuple[int, list[Event]]:
    """Events not ended where *user_id* answered ``attending`` or ``maybe`` (or waits
    for approval), soonest first: ``(count, page)``."""
    where = (
        f"{_not_ended()} AND e.id IN (SELECT event_id FROM event_attendees "
        "WHERE user_id = :user AND status IN ('attending', 'maybe', 'pending'))"
    )
    return _page(db, where, {"user": user_id, "now": now_ms}, "e.starts_at_ms, e.id", offset, limit)


#: Above this many full-text matches (or events with a tag), :func:`search_events`
#: scans the start range and probes the matches instead of looking each match up.
FTS_LOOKUP_LIMIT = 2_000


def fts_query(text: str) -> str:
    """*text* as an FTS5 query matching every word (each quoted, so no operators)."""
    words = text.split()
    return " ".join('"' + w.replace('"', '""') + '"' for w in words)


def search_events(
    db: sqlite_utils.Database,
    *,
    viewer_id: str | None,
    staff: bool,
    text: str | None,
    category: str | None,
    tags: Sequence[str],
    starts_after_ms: int | None,
    starts_before_ms: int | None,
    is_virtual: bool | None,
    include_past: bool,
    now_ms: int,
    offset: int,
    limit: int,
    room_code: str | None = None,
) -> tuple[int, list[Event]]:
    """Events the viewer may see matching every filter given, soonest first:
    ``(count, page)``. *text* matches words of the title, description and tags;
    *tags* must all be on the event; without *include_past* only events not ended."""
    conditions = []
    params: dict[str, Any] = {"viewer": viewer_id, "now": now_ms}
    if not staff:
        conditions.append(visible_sql())
    # Few matches: look each one up. Many (a common word or tag): walk the start index
    # and probe the set instead ("+" keeps SQLite from looking up every match).
    if text and text.split():
        params["match"] = fts_query(text)
        matches = db.execute(
            "SELECT count(*) FROM events_fts WHERE events_fts MATCH ?", [params["match"]]
        ).fetchone()[0]
        probe = "+" if matches > FTS_LOOKUP_LIMIT else ""
        conditions.append(
            f"{probe}e.rowid IN (SELECT rowid FROM events_fts WHERE events_fts MATCH :match)"
        )
    if category:
        conditions.append("e.category = :category")
        params["category"] = category
    for index, tag in enumerate(tags):
        tagged = db.execute("SELECT count(*) FROM event_tags WHERE tag = ?", [tag]).fetchone()[0]
        probe = "+" if tagged > FTS_LOOKUP_LIMIT else ""
        conditions.append(
            f"{probe}e.id IN (SELECT event_id FROM event_tags WHERE tag = :tag{index})"
        )
        params[f"tag{index}"] = tag
    if starts_after_ms is not None:
        conditions.append("e.starts_at_ms >= :after")
        params["after"] = starts_after_ms
    if starts_before_ms is not None:
        conditions.append("e.starts_at_ms < :before")
        params["before"] = starts_before_ms
    if room_code is not None:
        conditions.append("e.room_code = :room")
        params["room"] = room_code
    if is_virtual is not None:
        conditions.append("e.is_virtual = :virtual")
        params["virtual"] = int(is_virtual)
    if not include_past:
        conditions.append(_not_ended())
    where = " AND ".join(conditions) or "1"
    return _page(db, where, params, "e.starts_at_ms, e.id", offset, limit)


# --- banners ------------------------------------------------------------------------------
def set_banner(
    db: sqlite_utils.Database, event_id: str, content_type: str, data: bytes, *, now_ms: int
) -> None:
    """Store (or replace) the event's banner image."""
    db.execute(
        "INSERT INTO event_banners (event_id, content_type, data, updated_at_ms) "
        "VALUES (?, ?, ?, ?) ON CONFLICT (event_id) DO UPDATE SET "
        "content_type = excluded.content_type, data = excluded.data, "
        "updated_at_ms = excluded.updated_at_ms",
        [event_id, content_type, data, now_ms],
    )
    db.execute(
        "UPDATE events SET banner_type = ?, updated_at_ms = ? WHERE id = ?",
        [content_type, now_ms, event_id],
    )


def get_banner(db: sqlite_utils.Database, event_id: str) -> tuple[str, bytes, int] | None:
    """The event's banner: ``(content_type, data, updated_at_ms)``, or None."""
    row = db.execute(
        "SELECT content_type, data, updated_at_ms FROM event_banners WHERE event_id = ?",
        [event_id],
    ).fetchone()
    return None if row is None else (str(row[0]), bytes(row[1]), int(row[2]))


def delete_banner(db: sqlite_utils.Database, event_id: str, *, now_ms: int) -> bool:
    """Remove the event's banner; False when it had none."""
    removed = db.execute("DELETE FROM event_banners WHERE event_id = ?", [event_id]).rowcount
    db.execute(
        "UPDATE events SET banner_type = NULL, updated_at_ms = ? WHERE id = ?", [now_ms, event_id]
    )
    return removed > 0


# --- attendees ----------------------------------------------------------------------------
def _recount(db: sqlite_utils.Database, event_id: str) -> int:
    count: int = db.execute(
        "SELECT count(*) FROM event_attendees WHERE event_id = ? AND status = 'attending'",
        [event_id],
    ).fetchone()[0]
    db.execute("UPDATE events SET attending_count = ? WHERE id = ?", [count, event_id])
    return count


def get_attendance(db: sqlite_utils.Database, event_id: str, user_id: str) -> dict[str, Any] | None:
    """*user_id*'s attendee row of the event (``status``, ``wanted``, times), or None."""
    row = db.execute(
        "SELECT status, wanted, created_at_ms, updated_at_ms FROM event_attendees "
        "WHERE event_id = ? AND user_id = ?",
        [event_id, user_id],
    ).fetchone()
    if row is None:
        return None
    return dict(zip(("status", "wanted", "created_at_ms", "updated_at_ms"), row, strict=True))


def set_attendance(
    db: sqlite_utils.Database,
    event_id: str,
    user_id: str,
    status: str,
    *,
    wanted: str | None = None,
    now_ms: int,
) -> Event:
    """Set *user_id*'s answer, checking the capacity in the same transaction.

    Args:
        status: One of :data:`ATTENDEE_STATUSES`.
        wanted: For ``pending``: the answer asked for (``attending`` or ``maybe``);
            otherwise *status* when it is one of those, else kept.
        now_ms: Time of the answer.

    Returns:
        The event with its new ``attending_count``.

    Raises:
        EventFullError: for ``attending`` when the seats are taken by others; nothing
            is written.
    """
    before = get_attendance(db, event_id, user_id)
    if status == "attending" and (before is None or before["status"] != "attending"):
        row = db.execute(
            "SELECT max_attendees, attending_count FROM events WHERE id = ?", [event_id]
        ).fetchone()
        if row is None:
            raise NotFoundError(f"expected an event with id {event_id!r}, found none")
        if row[0] is not None and row[1] >= row[0]:
            raise EventFullError(f"all {row[0]} places of event {event_id} are taken")
    if wanted is None:
        if status in ("attending", "maybe"):
            wanted = status
        else:
            wanted = before["wanted"] if before else "attending"
    db.execute(
        "INSERT INTO event_attendees (event_id, user_id, status, wanted, created_at_ms, "
        "updated_at_ms) VALUES (:e, :u, :s, :w, :now, :now) "
        "ON CONFLICT (event_id, user_id) DO UPDATE SET status = :s, wanted = :w, "
        "updated_at_ms = :now",
        {"e": event_id, "u": user_id, "s": status, "w": wanted, "now": now_ms},
    )
    _recount(db, event_id)
    return get_event(db, event_id)


def remove_attendance(db: sqlite_utils.Database, event_id: str, user_id: str) -> bool:
    """Remove *user_id* from the event with their scheduled reminders; False when they
    were not an attendee."""
    removed = db.execute(
        "DELETE FROM event_attendees WHERE event_id = ? AND user_id = ?", [event_id, user_id]
    ).rowcount
    db.execute(
        "DELETE FROM event_reminders WHERE event_id = ? AND user_id = ? AND status = 'scheduled'",
        [event_id, user_id],
    )
    _recount(db, event_id)
    return removed > 0


def list_attendees(
    db: sqlite_utils.Database,
    event_id: str,
    statuses: Sequence[str],
    *,
    offset: int,
    limit: int,
) -> tuple[int, list[dict[str, Any]]]:
    """Attendee rows of the event with the given statuses, in answer order:
    ``(count, page)``; each row has ``user_id``, ``display_name``, ``status``,
    ``wanted``, ``created_at_ms``, ``updated_at_ms``."""
    marks = ", ".join("?" for _ in statuses)
    count = db.execute(
        f"SELECT count(*) FROM event_attendees WHERE event_id = ? AND status IN ({marks})",
        [event_id, *statuses],
    ).fetchone()[0]
    rows = db.execute(
        "SELECT a.user_id, u.display_name, a.status, a.wanted, a.created_at_ms, a.updated_at_ms "
        "FROM event_attendees AS a JOIN users AS u ON u.id = a.user_id "
        f"WHERE a.event_id = ? AND a.status IN ({marks}) "
        "ORDER BY a.created_at_ms, a.rowid LIMIT ? OFFSET ?",
        [event_id, *statuses, limit, offset],
    ).fetchall()
    keys = ("user_id", "display_name", "status", "wanted", "created_at_ms", "updated_at_ms")
    return count, [dict(zip(keys, r, strict=True)) for r in rows]


def get_attendee(db: sqlite_utils.Database, event_id: str, user_id: str) -> dict[str, Any] | None:
    """*user_id*'s attendee row as :func:`list_attendees` gives it, or None."""
    row = db.execute(
        "SELECT a.user_id, u.display_name, a.status, a.wanted, a.created_at_ms, a.updated_at_ms "
        "FROM event_attendees AS a JOIN users AS u ON u.id = a.user_id "
        "WHERE a.event_id = ? AND a.user_id = ?",
        [event_id, user_id],
    ).fetchone()
    keys = ("user_id", "display_name", "status", "wanted", "created_at_ms", "updated_at_ms")
    return None if row is None else dict(zip(keys, row, strict=True))


def attendee_ids(db: sqlite_utils.Database, event_id: str, statuses: Sequence[str]) -> list[str]:
    """Ids of the event's attendees with the given statuses."""
    marks = ", ".join("?" for _ in statuses)
    rows = db.execute(
        f"SELECT user_id FROM event_attendees WHERE event_id = ? AND status IN ({marks})",
        [event_id, *statuses],
    ).fetchall()
    return [r[0] for r in rows]


# --- invitations --------------------------------------------------------------------------
_INVITATION = (
    "SELECT i.id, i.event_id, i.invitee_id, u.display_name, i.inviter_id, i.status, "
    "i.created_at_ms, i.expires_at_ms, i.responded_at_ms "
    "FROM event_invitations AS i JOIN users AS u ON u.id = i.invitee_id"
)
_INVITATION_KEYS = (
    "id",
    "event_id",
    "invitee_id",
    "invitee_name",
    "inviter_id",
    "status",
    "created_at_ms",
    "expires_at_ms",
    "responded_at_ms",
)


def _invitation(row: Sequence[Any]) -> dict[str, Any]:
    return dict(zip(_INVITATION_KEYS, row, strict=True))


def existing_user_ids(db: sqlite_utils.Database, user_ids: Iterable[str]) -> set[str]:
    """Which of *user_ids* are active, registered (non-guest) accounts."""
    ids = list(dict.fromkeys(user_ids))
    if not ids:
        return set()
    marks = ", ".join("?" for _ in ids)
    rows = db.execute(
        f"SELECT id FROM users WHERE id IN ({marks}) AND is_active = 1 AND is_guest = 0", ids
    ).fetchall()
    return {r[0] for r in rows}


def create_invitations(
    db: sqlite_utils.Database,
    event_id: str,
    invitee_ids: Sequence[str],
    *,
    inviter_id: str,
    expires_at_ms: int,
    now_ms: int,
) -> list[dict[str, Any]]:
    """Invite accounts to the event, all or none.

    Raises:
        DuplicateInvitationError: if any of them is invited already (nothing written).
    """
    marks = ", ".join("?" for _ in invitee_ids)
    taken = [
        r[0]
        for r in db.execute(
            f"SELECT invitee_id FROM event_invitations WHERE event_id = ? AND invitee_id IN "
            f"({marks}) ORDER BY invitee_id",
            [event_id, *invitee_ids],
        ).fetchall()
    ]
    if taken:
        raise DuplicateInvitationError(taken)
    ids = []
    for invitee in invitee_ids:
        cursor = db.execute(
            "INSERT INTO event_invitations (event_id, invitee_id, inviter_id, status, "
            "created_at_ms, expires_at_ms) VALUES (?, ?, ?, 'pending', ?, ?)",
            [event_id, invitee, inviter_id, now_ms, expires_at_ms],
        )
        ids.append(cursor.lastrowid)
    marks = ", ".join("?" for _ in ids)
    rows = db.execute(f"{_INVITATION} WHERE i.id IN ({marks}) ORDER BY i.id", ids).fetchall()
    return [_invitation(r) for r in rows]


def list_invitations(
    db: sqlite_utils.Database,
    event_id: str,
    *,
    invitee_id: str | None,
    offset: int,
    limit: int,
) -> tuple[int, list[dict[str, Any]]]:
    """The event's invitations (only *invitee_id*'s when given), oldest first."""
    where = "i.event_id = ?"
    params: list[Any] = [event_id]
    if invitee_id is not None:
        where += " AND i.invitee_id = ?"
        params.append(invitee_id)
    count = db.execute(
        f"SELECT count(*) FROM event_invitations AS i WHERE {where}", params
    ).fetchone()[0]
    rows = db.execute(
        f"{_INVITATION} WHERE {where} ORDER BY i.id LIMIT ? OFFSET ?", [*params, limit, offset]
    ).fetchall()
    return count, [_invitation(r) for r in rows]


def get_invitation(
    db: sqlite_utils.Database, event_id: str, invitation_id: int
) -> dict[str, Any] | None:
    """The invitation *invitation_id* of the event, or None."""
    row = db.execute(
        f"{_INVITATION} WHERE i.event_id = ? AND i.id = ?", [event_id, invitation_id]
    ).fetchone()
    return None if row is None else _invitation(row)


def find_invitation_of(
    db: sqlite_utils.Database, event_id: str, user_id: str
) -> dict[str, Any] | None:
    """*user_id*'s invitation to the event, or None."""
    row = db.execute(
        f"{_INVITATION} WHERE i.event_id = ? AND i.invitee_id = ?", [event_id, user_id]
    ).fetchone()
    return None if row is None else _invitation(row)


def set_invitation_status(
    db: sqlite_utils.Database, invitation_id: int, status: str, *, now_ms: int
) -> None:
    """Record the invitee's answer (``accepted`` or ``declined``)."""
    db.execute(
        "UPDATE event_invitations SET status = ?, responded_at_ms = ? WHERE id = ?",
        [status, now_ms, invitation_id],
    )


# --- reminders ----------------------------------------------------------------------------
_REMINDER_KEYS = (
    "id",
    "event_id",
    "user_id",
    "minutes_before",
    "channel",
    "due_at_ms",
    "status",
    "outcome",
    "notification_id",
    "handled_at_ms",
    "created_at_ms",
)
_REMINDER = f"SELECT {', '.join(_REMINDER_KEYS)} FROM event_reminders"


class DuplicateReminderError(StoreError):
    """A reminder with the same minutes and channel exists for this attendee."""


def add_reminder(
    db: sqlite_utils.Database,
    event_id: str,
    user_id: str,
    *,
    minutes_before: int,
    channel: str,
    starts_at_ms: int,
    now_ms: int,
) -> dict[str, Any]:
    """Schedule a reminder *minutes_before* the start.

    Raises:
        DuplicateReminderError: for a second one with the same minutes and channel.
    """
    exists = db.execute(
        "SELECT 1 FROM event_reminders WHERE event_id = ? AND user_id = ? AND "
        "minutes_before = ? AND channel = ?",
        [event_id, user_id, minutes_before, channel],
    ).fetchone()
    if exists:
        raise DuplicateReminderError(
            f"a {channel} reminder {minutes_before} minutes before exists already"
        )
    cursor = db.execute(
        "INSERT INTO event_reminders (event_id, user_id, minutes_before, channel, due_at_ms, "
        "status, created_at_ms) VALUES (?, ?, ?, ?, ?, 'scheduled', ?)",
        [
            event_id,
            user_id,
            minutes_before,
            channel,
            starts_at_ms - minutes_before * 60_000,
            now_ms,
        ],
    )
    row = db.execute(f"{_REMINDER} WHERE id = ?", [cursor.lastrowid]).fetchone()
    return dict(zip(_REMINDER_KEYS, row, strict=True))


def list_reminders(db: sqlite_utils.Database, event_id: str, user_id: str) -> list[dict[str, Any]]:
    """*user_id*'s reminders of the event, soonest due first."""
    rows = db.execute(
        f"{_REMINDER} WHERE event_id = ? AND user_id = ? ORDER BY due_at_ms, id",
        [event_id, user_id],
    ).fetchall()
    return [dict(zip(_REMINDER_KEYS, r, strict=True)) for r in rows]


def delete_reminder(
    db: sqlite_utils.Database, event_id: str, user_id: str, reminder_id: int
) -> bool:
    """Delete one of *user_id*'s reminders; False if there is no such reminder."""
    return (
        db.execute(
            "DELETE FROM event_reminders WHERE id = ? AND event_id = ? AND user_id = ?",
            [reminder_id, event_id, user_id],
        ).rowcount
        > 0
    )


def due_reminders(db: sqlite_utils.Database, *, now_ms: int, limit: int) -> list[dict[str, Any]]:
    """Scheduled reminders due at *now_ms*, oldest due first, with their event's
    ``title``, ``starts_at_ms``, ``ends_at_ms``, ``timezone``, ``cancelled_at_ms``,
    ``room_code`` and the user's attendee ``attendee_status`` (None when gone)."""
    rows = db.execute(
        f"SELECT {', '.join('r.' + k for k in _REMINDER_KEYS)}, e.title, e.starts_at_ms, "
        "e.ends_at_ms, e.timezone, e.cancelled_at_ms, e.room_code, a.status "
        "FROM event_reminders AS r JOIN events AS e ON e.id = r.event_id "
        "LEFT JOIN event_attendees AS a ON a.event_id = r.event_id AND a.user_id = r.user_id "
        "WHERE r.status = 'scheduled' AND r.due_at_ms <= ? ORDER BY r.due_at_ms, r.id LIMIT ?",
        [now_ms, limit],
    ).fetchall()
    keys = (
        *_REMINDER_KEYS,
        "title",
        "starts_at_ms",
        "ends_at_ms",
        "timezone",
        "cancelled_at_ms",
        "room_code",
        "attendee_status",
    )
    return [dict(zip(keys, r, strict=True)) for r in rows]


def record_reminder(
    db: sqlite_utils.Database,
    reminder_id: int,
    status: str,
    *,
    outcome: str | None,
    notification_id: int | None,
    now_ms: int,
) -> bool:
    """Record what became of a scheduled reminder (``sent``, ``failed`` or
    ``skipped``); False (nothing changed) when it was no longer scheduled."""
    return (
        db.execute(
            "UPDATE event_reminders SET status = ?, outcome = ?, notification_id = ?, "
            "handled_at_ms = ? WHERE id = ? AND status = 'scheduled'",
            [status, outcome, notification_id, now_ms, reminder_id],
        ).rowcount
        > 0
    )


def next_due_at_ms(db: sqlite_utils.Database) -> int | None:
    """When the next scheduled reminder or unsent "starting" notice is due, or None."""
    reminder = db.execute(
        "SELECT min(due_at_ms) FROM event_reminders WHERE status = 'scheduled'"
    ).fetchone()[0]
    start = db.execute(
        "SELECT min(starts_at_ms) FROM events WHERE starting_sent_at_ms IS NULL "
        "AND cancelled_at_ms IS NULL AND room_code IS NOT NULL"
    ).fetchone()[0]
    times = [t for t in (reminder, start) if t is not None]
    return min(times) if times else None


def starting_events(db: sqlite_utils.Database, *, now_ms: int, limit: int) -> list[Event]:
    """Events with a room that have started, not ended, and whose "starting" notice is
    unsent (cancelled ones excluded)."""
    rows = db.execute(
        f"{_SELECT} WHERE e.starting_sent_at_ms IS NULL AND e.cancelled_at_ms IS NULL "
        "AND e.room_code IS NOT NULL AND e.starts_at_ms <= ? ORDER BY e.starts_at_ms LIMIT ?",
        [now_ms, limit],
    ).fetchall()
    return [_event(r) for r in rows]


def mark_starting_sent(db: sqlite_utils.Database, event_id: str, *, now_ms: int) -> None:
    """Record that the event's "starting" notice was handed on."""
    db.execute("UPDATE events SET starting_sent_at_ms = ? WHERE id = ?", [now_ms, event_id])


# --- calendar feed tokens -----------------------------------------------------------------
def feed_token(db: sqlite_utils.Database, user_id: str, *, now_ms: int, reset: bool) -> str:
    """*user_id*'s calendar feed token, made on first use; a new one with *reset*
    (the old one stops working at once)."""
    if not reset:
        row = db.execute(
            "SELECT token FROM event_feed_tokens WHERE user_id = ?", [user_id]
        ).fetchone()
        if row is not None:
            return str(row[0])
    token = secrets.token_urlsafe(32)
    db.execute(
        "INSERT INTO event_feed_tokens (user_id, token, created_at_ms) VALUES (?, ?, ?) "
        "ON CONFLICT (user_id) DO UPDATE SET token = excluded.token, "
        "created_at_ms = excluded.created_at_ms",
        [user_id, token, now_ms],
    )
    return token


def feed_owner(db: sqlite_utils.Database, token: str) -> str | None:
    """The account whose feed token is *token*, or None."""
    row = db.execute(
        "SELECT t.user_id FROM event_feed_tokens AS t JOIN users AS u ON u.id = t.user_id "
        "WHERE t.token = ? AND u.is_active = 1",
        [token],
    ).fetchone()
    return None if row is None else str(row[0])


def feed_events(
    db: sqlite_utils.Database, user_id: str, *, since_ms: int, limit: int
) -> list[Event]:
    """Events *user_id* organises or answered ``attending``/``maybe`` to, ending after
    *since_ms* (cancelled ones included, so calendars learn of the cancellation)."""
    rows = db.execute(
        f"{_SELECT} WHERE e.ends_at_ms > :since AND (e.organizer_id = :user OR e.id IN "
        "(SELECT event_id FROM event_attendees WHERE user_id = :user "
        "AND status IN ('attending', 'maybe'))) ORDER BY e.starts_at_ms LIMIT :limit",
        {"since": since_ms, "user": user_id, "limit": limit},
    ).fetchall()
    return [_event(r) for r in rows]
