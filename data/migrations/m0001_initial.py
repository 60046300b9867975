"""Migration 0001 (released: never edit this file; change the schema in a new one)."""

from __future__ import annotations

import sqlite_utils


def migrate(db: sqlite_utils.Database) -> None:
    """Create ``rooms``, ``chat_messages`` and ``server_secrets``.

    Plain SQL rather than ``table.create`` because ``AUTOINCREMENT`` and
    ``ON DELETE CASCADE`` have no sqlite-utils spelling. ``AUTOINCREMENT`` keeps
    message ids from being reused after the newest message of a room is deleted
    with its room, so a client's ``before_id`` cursor never points at a stranger's
    message.
    """
    db.execute(
        """
        CREATE TABLE rooms (
            code TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            settings TEXT NOT NULL,
            state TEXT NOT NULL,
            last_seq INTEGER NOT NULL DEFAULT 0,
            created_at_ms INTEGER NOT NULL,
            updated_at_ms INTEGER NOT NULL
        )
        """
    )
    db.execute(
        """
        CREATE TABLE chat_messages (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            room_code TEXT NOT NULL REFERENCES rooms(code) ON DELETE CASCADE,
            participant_id TEXT NOT NULL,
            user_id TEXT,
            display_name TEXT NOT NULL,
            text TEXT NOT NULL,
            created_at_ms INTEGER NOT NULL,
            edited_at_ms INTEGER,
            deleted_at_ms INTEGER,
            deleted_by TEXT
        )
        """
    )
    # Serves the per-room history queries (newest first, keyset on id) and the
    # cascade from rooms, which would otherwise scan the whole table per room.
    db.execute("CREATE INDEX idx_chat_messages_room_code_id ON chat_messages (room_code, id)")
    db.execute(
        """
        CREATE TABLE server_secrets (
            name TEXT PRIMARY KEY,
            value TEXT NOT NULL,
            created_at_ms INTEGER NOT NULL
        )
        """
    )
