"""Migration 0005 (released: never edit this file; change the schema in a new one)."""

from __future__ import annotations

import sqlite_utils


def migrate(db: sqlite_utils.Database) -> None:
    """Create ``polls``, ``reactions``, ``reaction_timeline`` and ``audit_log``.

    ``polls``: every poll of a room, with its final results once closed.

    A row is written when the poll opens (its id is the poll's id on the socket) and
    completed when it closes: ``closed_at_ms``, ``close_reason`` (``closed`` or
    ``expired``), ``counts`` (JSON list, votes per option), ``voter_count`` and, for a
    poll that is not anonymous, ``voters`` (JSON: per option, the voters'
    ``participant_id``, ``user_id`` and ``name``). Votes of an open poll live in the
    room (and its snapshot), not here: a vote is never a write. Rows go with their
    room.

    ``reactions``: every reaction made with media loaded, with the media position the
    server computed (``position_s``) and its ``second`` bucket; rows go with their room.
    ``reaction_timeline``: counts per media (``media_key``: ``video:<id>`` or
    ``url:<url>``), second and emoji, summed over every room that played it; it
    outlives rooms (it belongs to the video).

    ``audit_log``: every moderation and control action in a room: who (``actor``, a
    participant id or ``user:<id>``, with its account and name), what (``action``),
    whom (``target``), when, and its ``details`` (JSON).
    """
    db.execute(
        """
        CREATE TABLE polls (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            room_code TEXT NOT NULL REFERENCES rooms(code) ON DELETE CASCADE,
            question TEXT NOT NULL,
            options TEXT NOT NULL,
            multiple INTEGER NOT NULL CHECK (multiple IN (0, 1)),
            anonymous INTEGER NOT NULL CHECK (anonymous IN (0, 1)),
            created_by_participant TEXT,
            created_by_user_id TEXT,
            created_by_name TEXT NOT NULL DEFAULT '',
            created_at_ms INTEGER NOT NULL,
            closes_at_ms INTEGER,
            closed_at_ms INTEGER,
            close_reason TEXT CHECK (close_reason IN ('closed', 'expired')),
            closed_by TEXT,
            counts TEXT,
            voter_count INTEGER NOT NULL DEFAULT 0,
            voters TEXT
        )
        """
    )
    db.execute("CREATE INDEX idx_polls_room ON polls (room_code, id)")
    db.execute(
        """
        CREATE TABLE reactions (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            room_code TEXT NOT NULL REFERENCES rooms(code) ON DELETE CASCADE,
            media_key TEXT NOT NULL,
            participant_id TEXT NOT NULL,
            user_id TEXT,
            display_name TEXT NOT NULL,
            emoji TEXT NOT NULL,
            position_s REAL NOT NULL CHECK (position_s >= 0),
            second INTEGER NOT NULL CHECK (second >= 0),
            created_at_ms INTEGER NOT NULL
        )
        """
    )
    db.execute("CREATE INDEX idx_reactions_room ON reactions (room_code, id)")
    db.execute(
        """
        CREATE TABLE reaction_timeline (
            media_key TEXT NOT NULL,
            second INTEGER NOT NULL CHECK (second >= 0),
            emoji TEXT NOT NULL,
            count INTEGER NOT NULL CHECK (count > 0),
            PRIMARY KEY (media_key, second, emoji)
        ) WITHOUT ROWID
        """
    )
    db.execute(
        """
        CREATE TABLE audit_log (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            room_code TEXT NOT NULL REFERENCES rooms(code) ON DELETE CASCADE,
            actor TEXT NOT NULL,
            actor_user_id TEXT,
            actor_name TEXT NOT NULL DEFAULT '',
            action TEXT NOT NULL,
            target TEXT,
            details TEXT NOT NULL DEFAULT '{}',
            created_at_ms INTEGER NOT NULL
        )
        """
    )
    db.execute("CREATE INDEX idx_audit_log_room ON audit_log (room_code, id)")
