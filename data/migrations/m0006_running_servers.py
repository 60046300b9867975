"""Migration 0006 (released: never edit this file; change the schema in a new one)."""

from __future__ import annotations

import sqlite_utils


def migrate(db: sqlite_utils.Database) -> None:
    """Create ``running_servers``: one row per sync server process running on this
    database, rewritten every few seconds while it runs and deleted when it stops
    (:mod:`data.running`). Offline commands read it to refuse working under a live
    server."""
    db.execute(
        """
        CREATE TABLE running_servers (
            server_id TEXT PRIMARY KEY,
            pid INTEGER NOT NULL,
            hostname TEXT NOT NULL,
            url TEXT NOT NULL DEFAULT '',
            started_at_ms INTEGER NOT NULL,
            beat_at_ms INTEGER NOT NULL
        )
        """
    )
