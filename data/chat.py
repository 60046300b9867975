"""Chat message queries.

Every function takes a ``sqlite_utils.Database`` first and is meant to run inside
``Database.write`` (the writing ones) or ``Database.read`` (the reading ones), which
provide the transaction and the worker thread.

A message is returned as a :class:`ChatMessage` dict. Deleting is soft: the row and its
text stay for moderation, with ``deleted_at_ms`` and ``deleted_by`` set, and the history
queries (:func:`recent_messages`, :func:`list_messages`, :func:`count_messages`) skip it.
Times are milliseconds since the Unix epoch.
"""

from __future__ import annotations

import logging
import sqlite3
from typing import Any, TypedDict, cast

import sqlite_utils

from .errors import NotFoundError

logger = logging.getLogger(__name__)

#: The largest page :func:`list_messages` returns, in messages.
MAX_LIST_LIMIT = 500

_COLUMNS = (
    "id, room_code, participant_id, user_id, display_name, text, "
    "created_at_ms, edited_at_ms, deleted_at_ms"
)
_KEYS = tuple(_COLUMNS.split(", "))


class ChatMessage(TypedDict):
    """A chat message as the query functions return it.

    Attributes:
        id: Unique over the whole database, increasing, never reused.
        room_code: The room it was sent in.
        participant_id: The sender's participant id in that room.
        user_id: The sender's account id, or None for a guest.
        display_name: The sender's name when the message was sent.
        text: The text (kept for moderation after a soft delete).
        created_at_ms: When it was sent, in milliseconds since the epoch.
        edited_at_ms: When it was last edited, in milliseconds, or None.
        deleted_at_ms: When it was deleted, in milliseconds, or None.
    """

    id: int
    room_code: str
    participant_id: str
    user_id: str | None
    display_name: str
    text: str
    created_at_ms: int
    edited_at_ms: int | None
    deleted_at_ms: int | None


def insert_message(
    db: sqlite_utils.Database,
    *,
    room_code: str,
    participant_id: str,
    user_id: str | None,
    display_name: str,
    text: str,
    created_at_ms: int,
) -> ChatMessage:
    """Store a new chat message.

    Args:
        db: The writer connection.
        room_code: An existing room's code.
        participant_id: The sender's participant id.
        user_id: The sender's account id, or None for a guest.
        display_name: The sender's display name.
        text: The message text (length limits are the caller's business).
        created_at_ms: When it was sent, in milliseconds since the epoch.

    Returns:
        The stored message with its new id.

    Raises:
        NotFoundError: if no room has *room_code* (the foreign key refused the row;
            nothing was stored).
    """
    try:
        cursor = db.execute(
            "INSERT INTO chat_messages "
            "(room_code, participant_id, user_id, display_name, text, created_at_ms) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [room_code, participant_id, user_id, display_name, text, created_at_ms],
        )
    except sqlite3.IntegrityError as exc:
        if exc.sqlite_errorcode == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
            raise NotFoundError(
                f"expected an existing room {room_code!r} for a chat message, got no such room"
            ) from exc
        raise
    message_id = cursor.lastrowid
    assert message_id is not None  # an INSERT that succeeded always sets it
    return get_message(db, message_id)


def insert_messages(db: sqlite_utils.Database, messages: list[dict[str, Any]]) -> list[ChatMessage]:
    """Store several chat messages (group commit: the caller's one transaction).

    Args:
        db: The writer connection.
        messages: Keyword arguments of :func:`insert_message`, one dict each.

    Returns:
        The stored messages with their new ids, in the order given (ids increase).

    Raises:
        NotFoundError: if any message names a room that does not exist; the caller's
            transaction is then rolled back and nothing is stored.
    """
    return [insert_message(db, **fields) for fields in messages]


def get_message(db: sqlite_utils.Database, message_id: int) -> ChatMessage:
    """Return one message, deleted or not (check ``deleted_at_ms``).

    Args:
        db: Either connection.
        message_id: The message id.

    Returns:
        The message.

    Raises:
        NotFoundError: if no message has *message_id*. Not raised for a soft-deleted
            message.
    """
    row = db.execute(f"SELECT {_COLUMNS} FROM chat_messages WHERE id = ?", [message_id]).fetchone()
    if row is None:
        raise NotFoundError(f"expected a chat message with id {message_id}, got none")
    return _message(row)


def edit_message(
    db: sqlite_utils.Database,
    message_id: int,
    *,
    text: str,
    edited_at_ms: int,
    room_code: str | None = None,
) -> ChatMessage:
    """Replace a message's text.

    Args:
        db: The writer connection.
        message_id: The message id.
        text: The new text.
        edited_at_ms: When it was edited, in milliseconds since the epoch.
        room_code: If given, the message must belong to this room, so that a request
            made in one room cannot touch another room's chat.

    Returns:
        The edited message.

    Raises:
        NotFoundError: if the message does not exist, is soft-deleted, or is not in
            *room_code*. Nothing changed then.
    """
    cursor = db.execute(
        "UPDATE chat_messages SET text = ?, edited_at_ms = ? "
        "WHERE id = ? AND deleted_at_ms IS NULL AND (? IS NULL OR room_code = ?)",
        [text, edited_at_ms, message_id, room_code, room_code],
    )
    if cursor.rowcount == 0:
        _raise_unchangeable(db, message_id, room_code)
    return get_message(db, message_id)


def delete_message(
    db: sqlite_utils.Database,
    message_id: int,
    *,
    deleted_at_ms: int,
    deleted_by: str,
    room_code: str | None = None,
) -> ChatMessage:
    """Soft-delete a message: mark it deleted, keep its row and text for moderation.

    Args:
        db: The writer connection.
        message_id: The message id.
        deleted_at_ms: When it was deleted, in milliseconds since the epoch.
        deleted_by: Who deleted it (a participant or account id; stored, not returned).
        room_code: If given, the message must belong to this room.

    Returns:
        The deleted message, text included, with ``deleted_at_ms`` set.

    Raises:
        NotFoundError: if the message does not exist, is already deleted, or is not
            in *room_code*. Nothing changed then.
    """
    cursor = db.execute(
        "UPDATE chat_messages SET deleted_at_ms = ?, deleted_by = ? "
        "WHERE id = ? AND deleted_at_ms IS NULL AND (? IS NULL OR room_code = ?)",
        [deleted_at_ms, deleted_by, message_id, room_code, room_code],
    )
    if cursor.rowcount == 0:
        _raise_unchangeable(db, message_id, room_code)
    return get_message(db, message_id)


def recent_messages(db: sqlite_utils.Database, room_code: str, limit: int) -> list[ChatMessage]:
    """Return a room's last *limit* messages that are not deleted, oldest first.

    Meant for the history a participant gets on joining.

    Args:
        db: Either connection.
        room_code: The room's code (an unknown room has no messages).
        limit: How many messages at most; 0 returns an empty list.

    Returns:
        Up to *limit* messages in ascending id order.

    Raises:
        ValueError: if *limit* is negative.
    """
    if limit < 0:
        raise ValueError(f"expected a limit of 0 or more messages, got {limit}")
    rows = db.execute(
        f"SELECT {_COLUMNS} FROM chat_messages "
        "WHERE room_code = ? AND deleted_at_ms IS NULL ORDER BY id DESC LIMIT ?",
        [room_code, limit],
    ).fetchall()
    return [_message(row) for row in reversed(rows)]


def list_messages(
    db: sqlite_utils.Database,
    room_code: str,
    *,
    before_id: int | None = None,
    limit: int = 50,
) -> list[ChatMessage]:
    """Return one page of a room's messages that are not deleted, newest first.

    Keyset pagination: pass the smallest id of a page as *before_id* to get the next
    (older) page; an empty list means there is nothing older.

    Args:
        db: Either connection.
        room_code: The room's code.
        before_id: Only messages with an id below this one; None starts from the
            newest.
        limit: Page size in messages, clamped to 1..:data:`MAX_LIST_LIMIT`.

    Returns:
        Up to *limit* messages in descending id order.
    """
    limit = min(max(limit, 1), MAX_LIST_LIMIT)
    # Two statements, not "(? IS NULL OR id < ?)": with the bound written out SQLite
    # starts the (room_code, id) index range at before_id instead of walking down from
    # the newest message, so a deep page costs what the first one does.
    if before_id is None:
        sql = (
            f"SELECT {_COLUMNS} FROM chat_messages "
            "WHERE room_code = ? AND deleted_at_ms IS NULL ORDER BY id DESC LIMIT ?"
        )
        params: list[Any] = [room_code, limit]
    else:
        sql = (
            f"SELECT {_COLUMNS} FROM chat_messages "
            "WHERE room_code = ? AND deleted_at_ms IS NULL AND id < ? ORDER BY id DESC LIMIT ?"
        )
        params = [room_code, before_id, limit]
    rows = db.execute(sql, params).fetchall()
    return [_message(row) for row in rows]


def count_messages(db: sqlite_utils.Database, room_code: str) -> int:
    """Return how many messages of a room are not deleted.

    Args:
        db: Either connection.
        room_code: The room's code (an unknown room counts 0).

    Returns:
        The number of messages.
    """
    (count,) = db.execute(
        "SELECT count(*) FROM chat_messages WHERE room_code = ? AND deleted_at_ms IS NULL",
        [room_code],
    ).fetchone()
    return int(count)


def _message(row: tuple[Any, ...]) -> ChatMessage:
    return cast(ChatMessage, dict(zip(_KEYS, row, strict=True)))


def _raise_unchangeable(db: sqlite_utils.Database, message_id: int, room_code: str | None) -> None:
    # Only reached after an UPDATE matched nothing: find out why, for the message.
    row = db.execute(
        "SELECT room_code, deleted_at_ms FROM chat_messages WHERE id = ?", [message_id]
    ).fetchone()
    if row is None:
        raise NotFoundError(f"expected a chat message with id {message_id}, got none")
    found_room, deleted_at_ms = row
    if room_code is not None and found_room != room_code:
        raise NotFoundError(
            f"expected chat message {message_id} in room {room_code!r}, got it in another room"
        )
    raise NotFoundError(
        f"expected chat message {message_id} not deleted, got one deleted at {deleted_at_ms} ms"
    )
