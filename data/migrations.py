"""The watchparty schema as numbered sqlite-utils migrations.

Each migration is a function ``m<NNNN>_<what>(db)`` registered on :data:`migrations`.
A released migration is never edited: a schema change is a new function with the
next number. sqlite-utils records every applied migration in ``_sqlite_migrations``
(columns ``migration_set``, ``name``, ``applied_at``) and runs each pending one in
its own transaction together with that record, so a failing migration leaves no
trace and stays pending.

Time columns are integers in milliseconds since the Unix epoch (``*_ms``).
"""

from __future__ import annotations

import logging

import sqlite_utils
from sqlite_utils.migrations import Migrations

from .errors import StoreError

logger = logging.getLogger(__name__)

MIGRATION_SET = "watchparty"

migrations = Migrations(MIGRATION_SET)


@migrations()
def m0001_initial(db: sqlite_utils.Database) -> None:
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


def migration_names() -> list[str]:
    """Return the names of the registered migrations, in the order they apply."""
    # sqlite-utils 4 offers no public list of registered migrations.
    return [migration.name for migration in migrations._migrations]


def apply_migrations(db: sqlite_utils.Database) -> list[str]:
    """Apply every pending migration of the ``watchparty`` set.

    Args:
        db: The writer connection, with no transaction open.

    Returns:
        The names of the migrations applied by this call, in order; empty when the
        schema was already current.

    Raises:
        StoreError: if the database records a ``watchparty`` migration this code does
            not know, meaning a newer watchparty migrated it. Nothing is applied then,
            since running old code on a newer schema could corrupt it.

    Error handling:
        A migration that raises is rolled back together with its record (sqlite-utils
        runs each in its own transaction) and its exception propagates; migrations
        applied before it stay applied.
    """
    known = migration_names()
    unknown = [m.name for m in migrations.applied(db) if m.name not in known]
    if unknown:
        raise StoreError(
            f"expected only known migrations {known} in {MIGRATION_SET!r}, "
            f"got unknown {unknown}: this database was migrated by a newer watchparty"
        )
    pending = [m.name for m in migrations.pending(db)]
    migrations.apply(db)
    for name in pending:
        logger.info("applied migration %s", name)
    return pending
