"""Migration 0002 (released: never edit this file; change the schema in a new one)."""

from __future__ import annotations

import sqlite_utils


def migrate(db: sqlite_utils.Database) -> None:
    """Create ``users``, ``revoked_tokens``, ``refresh_tokens``, ``room_access`` and
    ``room_members`` (accounts and room entry rules of the web app).

    ``users.email`` is ``COLLATE NOCASE`` so that uniqueness and look-ups ignore
    ASCII case; guests have no email (NULL, which UNIQUE does not compare). Token
    tables hold expiry as Unix seconds (``*_s``), the unit of JWT ``exp``, so rows
    can be purged once the token they name could no longer be accepted anyway.
    ``room_access`` and ``room_members`` cascade from ``rooms``: deleting a room
    deletes its entry rules and memberships with it.
    """
    db.execute(
        """
        CREATE TABLE users (
            id TEXT PRIMARY KEY,
            email TEXT UNIQUE COLLATE NOCASE,
            password_hash TEXT,
            display_name TEXT NOT NULL,
            role TEXT NOT NULL CHECK (role IN ('user', 'staff', 'admin')),
            is_guest INTEGER NOT NULL CHECK (is_guest IN (0, 1)),
            is_active INTEGER NOT NULL DEFAULT 1 CHECK (is_active IN (0, 1)),
            created_at_ms INTEGER NOT NULL,
            last_login_ms INTEGER
        )
        """
    )
    db.execute(
        """
        CREATE TABLE revoked_tokens (
            jti TEXT PRIMARY KEY,
            expires_at_s INTEGER NOT NULL
        )
        """
    )
    db.execute("CREATE INDEX idx_revoked_tokens_expires_at_s ON revoked_tokens (expires_at_s)")
    db.execute(
        """
        CREATE TABLE refresh_tokens (
            jti TEXT PRIMARY KEY,
            user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            expires_at_s INTEGER NOT NULL,
            revoked INTEGER NOT NULL DEFAULT 0 CHECK (revoked IN (0, 1))
        )
        """
    )
    # Logout revokes every refresh token of a user; the cascade from users needs it too.
    db.execute("CREATE INDEX idx_refresh_tokens_user_id ON refresh_tokens (user_id)")
    db.execute(
        """
        CREATE TABLE room_access (
            room_code TEXT PRIMARY KEY REFERENCES rooms(code) ON DELETE CASCADE,
            visibility TEXT NOT NULL CHECK (visibility IN ('public', 'private')),
            entry_mode TEXT NOT NULL CHECK (entry_mode IN ('open', 'password', 'approval')),
            password_hash TEXT,
            owner_user_id TEXT,
            CHECK (entry_mode != 'password' OR password_hash IS NOT NULL)
        )
        """
    )
    db.execute(
        """
        CREATE TABLE room_members (
            room_code TEXT NOT NULL REFERENCES rooms(code) ON DELETE CASCADE,
            user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            status TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'denied')),
            requested_at_ms INTEGER NOT NULL,
            decided_at_ms INTEGER,
            PRIMARY KEY (room_code, user_id)
        )
        """
    )
    db.execute("CREATE INDEX idx_room_members_user_id ON room_members (user_id)")
