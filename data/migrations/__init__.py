"""The watchparty schema as numbered sqlite-utils migrations, one released migration a
file: ``m<NNNN>_<what>.py`` with one function ``migrate(db)``, registered under its
module name in :data:`RELEASED` order.

A released migration is never edited (``tests/test_migrations_released.py`` pins each
file's SHA-256): a schema change is a new file with the next number, added to
:data:`RELEASED`. sqlite-utils records every applied migration in
``_sqlite_migrations`` (columns ``migration_set``, ``name``, ``applied_at``) and runs
each pending one in its own transaction together with that record, so a failing
migration leaves no trace and stays pending.

Time columns are integers in milliseconds since the Unix epoch (``*_ms``).
"""

from __future__ import annotations

import logging
from types import ModuleType

import sqlite_utils
from sqlite_utils.migrations import Migrations

from ..errors import StoreError
from . import (
    m0001_initial,
    m0002_accounts_and_access,
    m0003_videos,
    m0004_groups,
    m0005_interactive,
    m0006_running_servers,
    m0007_notifications,
    m0008_support,
    m0009_events,
)

logger = logging.getLogger(__name__)

MIGRATION_SET = "watchparty"

#: Every migration module, in the order they apply. Append new ones; never reorder.
RELEASED: tuple[ModuleType, ...] = (
    m0001_initial,
    m0002_accounts_and_access,
    m0003_videos,
    m0004_groups,
    m0005_interactive,
    m0006_running_servers,
    m0007_notifications,
    m0008_support,
    m0009_events,
)

migrations = Migrations(MIGRATION_SET)
for _module in RELEASED:
    migrations(name=_module.__name__.rpartition(".")[2])(_module.migrate)


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
        Everything runs in one ``BEGIN IMMEDIATE`` transaction, so concurrent openers
        (two processes on a new database) apply the migrations once. A migration that
        raises rolls back the whole call, records included, and its exception
        propagates.
    """
    # One write transaction around the check and every migration: a second process
    # opening the same new database waits for the lock (busy_timeout) and then finds
    # nothing pending, instead of both creating the same tables. sqlite-utils turns
    # each migration's own transaction into a savepoint inside this one.
    db.execute("BEGIN IMMEDIATE")
    try:
        known = migration_names()
        unknown = [m.name for m in migrations.applied(db) if m.name not in known]
        if unknown:
            raise StoreError(
                f"expected only known migrations {known} in {MIGRATION_SET!r}, "
                f"got unknown {unknown}: this database was migrated by a newer watchparty"
            )
        pending = [m.name for m in migrations.pending(db)]
        migrations.apply(db)
    except BaseException:
        if db.conn.in_transaction:
            db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
    for name in pending:
        logger.info("applied migration %s", name)
    return pending
