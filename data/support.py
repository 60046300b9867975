"""The support desk's tables: tickets with their messages and attachments, the FAQ,
and the feedback board (the support system of Watch Party: SupportTicket,
SupportTicketMessage, FAQCategory, FAQ, UserFeedback, FeedbackVote).

Every function takes a ``sqlite_utils.Database`` first and is meant to run inside
``Database.write`` or ``Database.read``; the rules (who may see or change what, which
status may follow which) are the web app's (``admin_app/support/service.py``), which
composes these functions inside one write transaction where a change reads first.
Times are milliseconds since the Unix epoch. Vote counts are recomputed from their
vote tables in the transaction that changes them, so they are exact however many
votes arrive at once (writes are serialized).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlite_utils

from .errors import NotFoundError, StoreError

#: Values the schema accepts (CHECK constraints of migration 0004).
TICKET_CATEGORIES = ("general", "account", "playback", "rooms", "videos", "billing", "bug", "other")
TICKET_PRIORITIES = ("low", "medium", "high", "urgent")
TICKET_STATUSES = ("open", "in_progress", "waiting_on_user", "resolved", "closed")
FEEDBACK_KINDS = ("bug", "feature", "general")
FEEDBACK_STATUSES = ("new", "planned", "in_progress", "done", "declined")

_TICKET_SELECT = """
SELECT t.id, t.requester_id, r.display_name, r.email, r.is_guest, t.contact_email,
       t.subject, t.description, t.category, t.priority, t.status, t.assignee_id,
       a.display_name, t.reopen_count, t.created_at_ms, t.updated_at_ms,
       t.first_response_at_ms, t.resolved_at_ms, t.closed_at_ms,
       (SELECT count(*) FROM support_messages AS m
         WHERE m.ticket_id = t.id AND m.is_internal = 0) AS reply_count
FROM support_tickets AS t
JOIN users AS r ON r.id = t.requester_id
LEFT JOIN users AS a ON a.id = t.assignee_id
"""
_TICKET_KEYS = (
    "id",
    "requester_id",
    "requester_name",
    "requester_email",
    "requester_is_guest",
    "contact_email",
    "subject",
    "description",
    "category",
    "priority",
    "status",
    "assignee_id",
    "assignee_name",
    "reopen_count",
    "created_at_ms",
    "updated_at_ms",
    "first_response_at_ms",
    "resolved_at_ms",
    "closed_at_ms",
    "reply_count",
)

Row = dict[str, Any]


def like_pattern(text: str) -> str:
    """A ``LIKE ... ESCAPE '\\'`` pattern matching *text* anywhere, literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


# --- tickets ---------------------------------------------------------------------------------


def create_ticket(
    db: sqlite_utils.Database,
    *,
    requester_id: str,
    contact_email: str | None,
    subject: str,
    description: str,
    category: str,
    priority: str,
    now_ms: int,
) -> Row:
    """Open a ticket (status ``open``) and return it as :func:`find_ticket` does."""
    cursor = db.execute(
        "INSERT INTO support_tickets (requester_id, contact_email, subject, description, "
        "category, priority, status, created_at_ms, updated_at_ms) "
        "VALUES (?, ?, ?, ?, ?, ?, 'open', ?, ?)",
        [requester_id, contact_email, subject, description, category, priority, now_ms, now_ms],
    )
    ticket = find_ticket(db, int(cursor.lastrowid or 0))
    assert ticket is not None
    return ticket


def find_ticket(db: sqlite_utils.Database, ticket_id: int) -> Row | None:
    """One ticket with its requester's and assignee's names, or None.

    Keys: those of ``_TICKET_KEYS`` (``reply_count`` counts messages that are not
    internal notes).
    """
    row = db.execute(f"{_TICKET_SELECT} WHERE t.id = ?", [ticket_id]).fetchone()
    return None if row is None else _ticket(row)


def list_tickets(
    db: sqlite_utils.Database,
    *,
    requester_id: str | None,
    status: str | None = None,
    priority: str | None = None,
    category: str | None = None,
    assignee_id: str | None = None,
    unassigned: bool = False,
    search: str | None = None,
    offset: int,
    limit: int,
) -> tuple[int, list[Row]]:
    """Tickets newest first, filtered; returns ``(count of all matching, one page)``.

    Args:
        requester_id: Only this requester's tickets; None for everyone's (staff).
        status, priority, category: Exact filters, None for any.
        assignee_id: Only tickets assigned to this account.
        unassigned: Only tickets without an assignee.
        search: Text in the subject or description (case-insensitive for ASCII).
        offset, limit: The page.
    """
    where: list[str] = []
    params: list[Any] = []
    for column, value in (
        ("t.requester_id", requester_id),
        ("t.status", status),
        ("t.priority", priority),
        ("t.category", category),
        ("t.assignee_id", assignee_id),
    ):
        if value is not None:
            where.append(f"{column} = ?")
            params.append(value)
    if unassigned:
        where.append("t.assignee_id IS NULL")
    if search:
        where.append("(t.subject LIKE ? ESCAPE '\\' OR t.description LIKE ? ESCAPE '\\')")
        params += [like_pattern(search)] * 2
    clause = f" WHERE {' AND '.join(where)}" if where else ""
    count = db.execute(f"SELECT count(*) FROM support_tickets AS t{clause}", params).fetchone()[0]
    rows = db.execute(
        f"{_TICKET_SELECT}{clause} ORDER BY t.id DESC LIMIT ? OFFSET ?", [*params, limit, offset]
    ).fetchall()
    return int(count), [_ticket(row) for row in rows]


def update_ticket(db: sqlite_utils.Database, ticket_id: int, changes: dict[str, Any]) -> Row:
    """Set columns of a ticket (names checked against the table) and return it.

    Raises:
        NotFoundError: for an unknown ticket.
        ValueError: for a column that may not be set this way.
    """
    allowed = {
        "status",
        "priority",
        "assignee_id",
        "reopen_count",
        "updated_at_ms",
        "first_response_at_ms",
        "resolved_at_ms",
        "closed_at_ms",
    }
    unknown = set(changes) - allowed
    if unknown:
        raise ValueError(f"expected ticket columns among {sorted(allowed)}, got {sorted(unknown)}")
    if changes:
        assignments = ", ".join(f"{name} = ?" for name in changes)
        db.execute(
            f"UPDATE support_tickets SET {assignments} WHERE id = ?", [*changes.values(), ticket_id]
        )
    ticket = find_ticket(db, ticket_id)
    if ticket is None:
        raise NotFoundError(f"expected a ticket with id {ticket_id}, got none")
    return ticket


def add_message(
    db: sqlite_utils.Database,
    *,
    ticket_id: int,
    author_id: str,
    author_name: str,
    from_staff: bool,
    is_internal: bool,
    body: str,
    now_ms: int,
) -> Row:
    """Append a message (a reply, or a staff-only internal note) to a ticket's thread."""
    cursor = db.execute(
        "INSERT INTO support_messages (ticket_id, author_id, author_name, from_staff, "
        "is_internal, body, created_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?)",
        [ticket_id, author_id, author_name, int(from_staff), int(is_internal), body, now_ms],
    )
    row = db.execute(f"{_MESSAGE_SELECT} WHERE id = ?", [cursor.lastrowid]).fetchone()
    return _message(row)


_MESSAGE_SELECT = (
    "SELECT id, ticket_id, author_id, author_name, from_staff, is_internal, body, "
    "created_at_ms FROM support_messages"
)


def list_messages(
    db: sqlite_utils.Database, ticket_id: int, *, include_internal: bool
) -> list[Row]:
    """A ticket's thread, oldest first; internal notes only when *include_internal*."""
    extra = "" if include_internal else " AND is_internal = 0"
    rows = db.execute(
        f"{_MESSAGE_SELECT} WHERE ticket_id = ?{extra} ORDER BY id", [ticket_id]
    ).fetchall()
    return [_message(row) for row in rows]


def add_attachment(
    db: sqlite_utils.Database,
    *,
    ticket_id: int,
    uploader_id: str,
    is_internal: bool,
    file_name: str,
    content_type: str,
    content: bytes,
    now_ms: int,
) -> Row:
    """Store an attachment of a ticket; returns it without its content."""
    cursor = db.execute(
        "INSERT INTO support_attachments (ticket_id, uploader_id, is_internal, file_name, "
        "content_type, size_bytes, content, created_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            ticket_id,
            uploader_id,
            int(is_internal),
            file_name,
            content_type,
            len(content),
            content,
            now_ms,
        ],
    )
    found = find_attachment(db, int(cursor.lastrowid or 0), with_content=False)
    assert found is not None
    return found


_ATTACHMENT_KEYS = (
    "id",
    "ticket_id",
    "uploader_id",
    "is_internal",
    "file_name",
    "content_type",
    "size_bytes",
    "created_at_ms",
)


def count_attachments(db: sqlite_utils.Database, ticket_id: int) -> int:
    """How many attachments a ticket has (internal ones included)."""
    row = db.execute(
        "SELECT count(*) FROM support_attachments WHERE ticket_id = ?", [ticket_id]
    ).fetchone()
    return int(row[0])


def list_attachments(
    db: sqlite_utils.Database, ticket_id: int, *, include_internal: bool
) -> list[Row]:
    """A ticket's attachments without their content, oldest first."""
    extra = "" if include_internal else " AND is_internal = 0"
    rows = db.execute(
        f"SELECT {', '.join(_ATTACHMENT_KEYS)} FROM support_attachments "
        f"WHERE ticket_id = ?{extra} ORDER BY id",
        [ticket_id],
    ).fetchall()
    return [_attachment(row) for row in rows]


def find_attachment(
    db: sqlite_utils.Database, attachment_id: int, *, with_content: bool = True
) -> Row | None:
    """One attachment (with its ``content`` bytes when asked), or None."""
    columns = ", ".join(_ATTACHMENT_KEYS) + (", content" if with_content else "")
    row = db.execute(
        f"SELECT {columns} FROM support_attachments WHERE id = ?", [attachment_id]
    ).fetchone()
    if row is None:
        return None
    found = _attachment(row)
    if with_content:
        found["content"] = bytes(row[len(_ATTACHMENT_KEYS)])
    return found


def staff_ids(db: sqlite_utils.Database) -> list[str]:
    """Every active staff or admin account."""
    rows = db.execute(
        "SELECT id FROM users WHERE role IN ('staff', 'admin') AND is_active = 1 ORDER BY id"
    ).fetchall()
    return [row[0] for row in rows]


def _ticket(row: Iterable[Any]) -> Row:
    ticket = dict(zip(_TICKET_KEYS, row, strict=True))
    ticket["requester_is_guest"] = bool(ticket["requester_is_guest"])
    return ticket


def _message(row: Iterable[Any]) -> Row:
    keys = (
        "id",
        "ticket_id",
        "author_id",
        "author_name",
        "from_staff",
        "is_internal",
        "body",
        "created_at_ms",
    )
    message = dict(zip(keys, row, strict=True))
    message["from_staff"] = bool(message["from_staff"])
    message["is_internal"] = bool(message["is_internal"])
    return message


def _attachment(row: Any) -> Row:
    found = dict(zip(_ATTACHMENT_KEYS, row[: len(_ATTACHMENT_KEYS)], strict=True))
    found["is_internal"] = bool(found["is_internal"])
    return found


# --- FAQ -------------------------------------------------------------------------------------

_CATEGORY_SELECT = (
    "SELECT c.id, c.name, c.description, c.position, c.created_at_ms, "
    "(SELECT count(*) FROM faq_entries AS e WHERE e.category_id = c.id AND e.is_published = 1) "
    "FROM faq_categories AS c"
)
_CATEGORY_KEYS = ("id", "name", "description", "position", "created_at_ms", "entry_count")


class NameTakenError(StoreError):
    """A FAQ category of that name exists already."""


class InUseError(StoreError):
    """A FAQ category still holds entries and cannot be deleted."""


def create_category(
    db: sqlite_utils.Database, *, name: str, description: str, position: int, now_ms: int
) -> Row:
    """Add a FAQ category.

    Raises:
        NameTakenError: when a category has that name (ignoring ASCII case).
    """
    if db.execute("SELECT 1 FROM faq_categories WHERE name = ?", [name]).fetchone():
        raise NameTakenError(f"expected a new category name, got {name!r}, which exists")
    cursor = db.execute(
        "INSERT INTO faq_categories (name, description, position, created_at_ms) "
        "VALUES (?, ?, ?, ?)",
        [name, description, position, now_ms],
    )
    found = find_category(db, int(cursor.lastrowid or 0))
    assert found is not None
    return found


def find_category(db: sqlite_utils.Database, category_id: int) -> Row | None:
    row = db.execute(f"{_CATEGORY_SELECT} WHERE c.id = ?", [category_id]).fetchone()
    return None if row is None else dict(zip(_CATEGORY_KEYS, row, strict=True))


def list_categories(db: sqlite_utils.Database) -> list[Row]:
    """Every FAQ category in display order (``position``, then id)."""
    rows = db.execute(f"{_CATEGORY_SELECT} ORDER BY c.position, c.id").fetchall()
    return [dict(zip(_CATEGORY_KEYS, row, strict=True)) for row in rows]


def update_category(db: sqlite_utils.Database, category_id: int, changes: dict[str, Any]) -> Row:
    """Change a category's ``name``, ``description`` or ``position``.

    Raises:
        NotFoundError: for an unknown category.
        NameTakenError: when another category has the new name.
    """
    if find_category(db, category_id) is None:
        raise NotFoundError(f"expected a FAQ category with id {category_id}, got none")
    if (
        "name" in changes
        and db.execute(
            "SELECT 1 FROM faq_categories WHERE name = ? AND id != ?",
            [changes["name"], category_id],
        ).fetchone()
    ):
        raise NameTakenError(f"expected a new category name, got {changes['name']!r}")
    changes = {k: v for k, v in changes.items() if k in ("name", "description", "position")}
    if changes:
        assignments = ", ".join(f"{name} = ?" for name in changes)
        db.execute(
            f"UPDATE faq_categories SET {assignments} WHERE id = ?",
            [*changes.values(), category_id],
        )
    found = find_category(db, category_id)
    assert found is not None
    return found


def delete_category(db: sqlite_utils.Database, category_id: int) -> bool:
    """Delete an empty category; False when there was none.

    Raises:
        InUseError: when entries (published or not) are still in it.
    """
    row = db.execute("SELECT count(*) FROM faq_entries WHERE category_id = ?", [category_id])
    if row.fetchone()[0]:
        raise InUseError(f"FAQ category {category_id} still holds entries: move or delete them")
    return db.execute("DELETE FROM faq_categories WHERE id = ?", [category_id]).rowcount > 0


_ENTRY_KEYS = (
    "id",
    "category_id",
    "category_name",
    "question",
    "answer_md",
    "answer_html",
    "is_published",
    "position",
    "view_count",
    "helpful_count",
    "not_helpful_count",
    "created_at_ms",
    "updated_at_ms",
)
_ENTRY_SELECT = (
    "SELECT e.id, e.category_id, c.name, e.question, e.answer_md, e.answer_html, "
    "e.is_published, e.position, e.view_count, e.helpful_count, e.not_helpful_count, "
    "e.created_at_ms, e.updated_at_ms FROM faq_entries AS e "
    "JOIN faq_categories AS c ON c.id = e.category_id"
)


def create_entry(
    db: sqlite_utils.Database,
    *,
    category_id: int,
    question: str,
    answer_md: str,
    answer_html: str,
    is_published: bool,
    position: int,
    now_ms: int,
) -> Row:
    """Add a FAQ entry (*answer_html* is the sanitised rendering of *answer_md*).

    Raises:
        NotFoundError: for an unknown category.
    """
    if find_category(db, category_id) is None:
        raise NotFoundError(f"expected a FAQ category with id {category_id}, got none")
    cursor = db.execute(
        "INSERT INTO faq_entries (category_id, question, answer_md, answer_html, is_published, "
        "position, created_at_ms, updated_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            category_id,
            question,
            answer_md,
            answer_html,
            int(is_published),
            position,
            now_ms,
            now_ms,
        ],
    )
    found = find_entry(db, int(cursor.lastrowid or 0))
    assert found is not None
    return found


def find_entry(db: sqlite_utils.Database, entry_id: int) -> Row | None:
    row = db.execute(f"{_ENTRY_SELECT} WHERE e.id = ?", [entry_id]).fetchone()
    return None if row is None else _entry(row)


def list_entries(
    db: sqlite_utils.Database,
    *,
    published_only: bool,
    category_id: int | None = None,
    search: str | None = None,
    offset: int,
    limit: int,
) -> tuple[int, list[Row]]:
    """FAQ entries in display order (category, then entry ``position``, then id).

    Args:
        published_only: Leave drafts out.
        category_id: Only this category's.
        search: Text in the question or the Markdown answer.
        offset, limit: The page.
    """
    where: list[str] = []
    params: list[Any] = []
    if published_only:
        where.append("e.is_published = 1")
    if category_id is not None:
        where.append("e.category_id = ?")
        params.append(category_id)
    if search:
        where.append("(e.question LIKE ? ESCAPE '\\' OR e.answer_md LIKE ? ESCAPE '\\')")
        params += [like_pattern(search)] * 2
    clause = f" WHERE {' AND '.join(where)}" if where else ""
    count = db.execute(f"SELECT count(*) FROM faq_entries AS e{clause}", params).fetchone()[0]
    rows = db.execute(
        f"{_ENTRY_SELECT}{clause} ORDER BY c.position, c.id, e.position, e.id LIMIT ? OFFSET ?",
        [*params, limit, offset],
    ).fetchall()
    return int(count), [_entry(row) for row in rows]


def update_entry(db: sqlite_utils.Database, entry_id: int, changes: dict[str, Any]) -> Row:
    """Change an entry's fields (``category_id``, ``question``, ``answer_md`` with
    ``answer_html``, ``is_published``, ``position``, ``updated_at_ms``).

    Raises:
        NotFoundError: for an unknown entry or category.
    """
    if find_entry(db, entry_id) is None:
        raise NotFoundError(f"expected a FAQ entry with id {entry_id}, got none")
    if "category_id" in changes and find_category(db, changes["category_id"]) is None:
        raise NotFoundError(f"expected a FAQ category with id {changes['category_id']}, got none")
    allowed = (
        "category_id",
        "question",
        "answer_md",
        "answer_html",
        "is_published",
        "position",
        "updated_at_ms",
    )
    changes = {k: v for k, v in changes.items() if k in allowed}
    if changes:
        assignments = ", ".join(f"{name} = ?" for name in changes)
        db.execute(
            f"UPDATE faq_entries SET {assignments} WHERE id = ?", [*changes.values(), entry_id]
        )
    found = find_entry(db, entry_id)
    assert found is not None
    return found


def delete_entry(db: sqlite_utils.Database, entry_id: int) -> bool:
    """Delete an entry and its votes; False when there was none."""
    return db.execute("DELETE FROM faq_entries WHERE id = ?", [entry_id]).rowcount > 0


def count_view(db: sqlite_utils.Database, entry_id: int) -> None:
    """Add one to an entry's view count."""
    db.execute("UPDATE faq_entries SET view_count = view_count + 1 WHERE id = ?", [entry_id])


def vote_entry(
    db: sqlite_utils.Database, entry_id: int, user_id: str, helpful: bool | None, now_ms: int
) -> Row:
    """Set (or with *helpful* None, take back) one account's "was this helpful" vote,
    then recount. Returns the entry.

    Raises:
        NotFoundError: for an unknown entry.
    """
    if find_entry(db, entry_id) is None:
        raise NotFoundError(f"expected a FAQ entry with id {entry_id}, got none")
    if helpful is None:
        db.execute("DELETE FROM faq_votes WHERE faq_id = ? AND user_id = ?", [entry_id, user_id])
    else:
        db.execute(
            "INSERT INTO faq_votes (faq_id, user_id, is_helpful, created_at_ms) "
            "VALUES (?, ?, ?, ?) ON CONFLICT (faq_id, user_id) "
            "DO UPDATE SET is_helpful = excluded.is_helpful",
            [entry_id, user_id, int(helpful), now_ms],
        )
    db.execute(
        "UPDATE faq_entries SET "
        "helpful_count = (SELECT count(*) FROM faq_votes WHERE faq_id = ? AND is_helpful = 1), "
        "not_helpful_count = (SELECT count(*) FROM faq_votes WHERE faq_id = ? AND is_helpful = 0) "
        "WHERE id = ?",
        [entry_id, entry_id, entry_id],
    )
    found = find_entry(db, entry_id)
    assert found is not None
    return found


def entry_votes_of(
    db: sqlite_utils.Database, entry_ids: list[int], user_id: str
) -> dict[int, bool]:
    """The votes of *user_id* on the entries *entry_ids*: ``{entry id: is_helpful}``."""
    if not entry_ids:
        return {}
    marks = ", ".join("?" * len(entry_ids))
    rows = db.execute(
        f"SELECT faq_id, is_helpful FROM faq_votes WHERE user_id = ? AND faq_id IN ({marks})",
        [user_id, *entry_ids],
    ).fetchall()
    return {int(row[0]): bool(row[1]) for row in rows}


def _entry(row: Iterable[Any]) -> Row:
    entry = dict(zip(_ENTRY_KEYS, row, strict=True))
    entry["is_published"] = bool(entry["is_published"])
    return entry


# --- feedback --------------------------------------------------------------------------------

_FEEDBACK_KEYS = (
    "id",
    "user_id",
    "user_name",
    "kind",
    "title",
    "description",
    "status",
    "staff_response",
    "vote_count",
    "created_at_ms",
    "updated_at_ms",
)
_FEEDBACK_SELECT = (
    "SELECT f.id, f.user_id, u.display_name, f.kind, f.title, f.description, f.status, "
    "f.staff_response, f.vote_count, f.created_at_ms, f.updated_at_ms "
    "FROM support_feedback AS f JOIN users AS u ON u.id = f.user_id"
)

#: Orders :func:`list_feedback` accepts.
FEEDBACK_ORDERS = {
    "-votes": "f.vote_count DESC, f.id DESC",
    "votes": "f.vote_count ASC, f.id ASC",
    "-created": "f.id DESC",
    "created": "f.id ASC",
}


def create_feedback(
    db: sqlite_utils.Database,
    *,
    user_id: str,
    kind: str,
    title: str,
    description: str,
    now_ms: int,
) -> Row:
    """Post feedback (status ``new``, no votes)."""
    cursor = db.execute(
        "INSERT INTO support_feedback (user_id, kind, title, description, status, "
        "created_at_ms, updated_at_ms) VALUES (?, ?, ?, ?, 'new', ?, ?)",
        [user_id, kind, title, description, now_ms, now_ms],
    )
    found = find_feedback(db, int(cursor.lastrowid or 0))
    assert found is not None
    return found


def find_feedback(db: sqlite_utils.Database, feedback_id: int) -> Row | None:
    row = db.execute(f"{_FEEDBACK_SELECT} WHERE f.id = ?", [feedback_id]).fetchone()
    return None if row is None else dict(zip(_FEEDBACK_KEYS, row, strict=True))


def list_feedback(
    db: sqlite_utils.Database,
    *,
    kind: str | None = None,
    status: str | None = None,
    search: str | None = None,
    ordering: str = "-votes",
    offset: int,
    limit: int,
) -> tuple[int, list[Row]]:
    """Feedback, most votes first by default (see :data:`FEEDBACK_ORDERS`)."""
    where: list[str] = []
    params: list[Any] = []
    for column, value in (("f.kind", kind), ("f.status", status)):
        if value is not None:
            where.append(f"{column} = ?")
            params.append(value)
    if search:
        where.append("(f.title LIKE ? ESCAPE '\\' OR f.description LIKE ? ESCAPE '\\')")
        params += [like_pattern(search)] * 2
    clause = f" WHERE {' AND '.join(where)}" if where else ""
    count = db.execute(f"SELECT count(*) FROM support_feedback AS f{clause}", params).fetchone()[0]
    rows = db.execute(
        f"{_FEEDBACK_SELECT}{clause} ORDER BY {FEEDBACK_ORDERS[ordering]} LIMIT ? OFFSET ?",
        [*params, limit, offset],
    ).fetchall()
    return int(count), [dict(zip(_FEEDBACK_KEYS, row, strict=True)) for row in rows]


def update_feedback(db: sqlite_utils.Database, feedback_id: int, changes: dict[str, Any]) -> Row:
    """Set ``status``, ``staff_response`` and ``updated_at_ms`` of feedback.

    Raises:
        NotFoundError: for unknown feedback.
    """
    changes = {
        k: v for k, v in changes.items() if k in ("status", "staff_response", "updated_at_ms")
    }
    if changes:
        assignments = ", ".join(f"{name} = ?" for name in changes)
        db.execute(
            f"UPDATE support_feedback SET {assignments} WHERE id = ?",
            [*changes.values(), feedback_id],
        )
    found = find_feedback(db, feedback_id)
    if found is None:
        raise NotFoundError(f"expected feedback with id {feedback_id}, got none")
    return found


def toggle_feedback_vote(
    db: sqlite_utils.Database, feedback_id: int, user_id: str, now_ms: int
) -> tuple[bool, int]:
    """Vote for feedback, or take the vote back; returns ``(voted now, vote count)``.

    Raises:
        NotFoundError: for unknown feedback.
    """
    if find_feedback(db, feedback_id) is None:
        raise NotFoundError(f"expected feedback with id {feedback_id}, got none")
    removed = db.execute(
        "DELETE FROM feedback_votes WHERE feedback_id = ? AND user_id = ?", [feedback_id, user_id]
    ).rowcount
    if not removed:
        db.execute(
            "INSERT INTO feedback_votes (feedback_id, user_id, created_at_ms) VALUES (?, ?, ?)",
            [feedback_id, user_id, now_ms],
        )
    db.execute(
        "UPDATE support_feedback SET vote_count = "
        "(SELECT count(*) FROM feedback_votes WHERE feedback_id = ?) WHERE id = ?",
        [feedback_id, feedback_id],
    )
    count = db.execute(
        "SELECT vote_count FROM support_feedback WHERE id = ?", [feedback_id]
    ).fetchone()[0]
    return not removed, int(count)


def feedback_voted_by(db: sqlite_utils.Database, feedback_ids: list[int], user_id: str) -> set[int]:
    """Which of *feedback_ids* *user_id* voted for."""
    if not feedback_ids:
        return set()
    marks = ", ".join("?" * len(feedback_ids))
    rows = db.execute(
        f"SELECT feedback_id FROM feedback_votes WHERE user_id = ? AND feedback_id IN ({marks})",
        [user_id, *feedback_ids],
    ).fetchall()
    return {int(row[0]) for row in rows}
