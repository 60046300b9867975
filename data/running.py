"""Which sync servers run on this database: a heartbeat row per server process.

A running sync server writes its row (:func:`beat`) every :data:`BEAT_INTERVAL_S`
seconds and deletes it when it stops (:func:`forget`). A row whose last beat is older
than :data:`STALE_AFTER_S` belongs to a process that died without cleaning up (killed,
power cut) and is ignored. Offline commands such as ``watchparty cleanup-rooms`` ask
:func:`live_servers` and refuse to change rooms a live server holds in memory.

Every function takes a ``sqlite_utils.Database`` first and is meant to run inside
``Database.write`` or ``Database.read``. Times are Unix epoch milliseconds.
"""

from __future__ import annotations

from typing import TypedDict

import sqlite_utils

#: How often a running server rewrites its row, seconds.
BEAT_INTERVAL_S = 5.0
#: A row not rewritten for this long is a dead process's, seconds (three missed beats).
STALE_AFTER_S = 3 * BEAT_INTERVAL_S


class RunningServer(TypedDict):
    """A row of ``running_servers``."""

    server_id: str
    pid: int
    hostname: str
    url: str
    started_at_ms: int
    beat_at_ms: int


def beat(
    db: sqlite_utils.Database,
    server_id: str,
    *,
    pid: int,
    hostname: str,
    url: str,
    started_at_ms: int,
    now_ms: int,
) -> None:
    """Write (insert or refresh) the row of the server *server_id*.

    Args:
        db: The writer connection.
        server_id: A random id of this server process, the same for all its beats.
        pid: Its process id; hostname: the machine it runs on (for messages).
        url: Where it listens (``ws://HOST:PORT/ws``), for messages.
        started_at_ms: When it started; now_ms: the time of this beat.
    """
    db.execute(
        "INSERT INTO running_servers (server_id, pid, hostname, url, started_at_ms, beat_at_ms) "
        "VALUES (?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (server_id) DO UPDATE SET beat_at_ms = excluded.beat_at_ms",
        [server_id, pid, hostname, url, started_at_ms, now_ms],
    )


def forget(db: sqlite_utils.Database, server_id: str) -> None:
    """Delete the row of *server_id* (the server stops); no error if there is none."""
    db.execute("DELETE FROM running_servers WHERE server_id = ?", [server_id])


def live_servers(db: sqlite_utils.Database, *, now_ms: int) -> list[RunningServer]:
    """The servers whose last beat is at most :data:`STALE_AFTER_S` old, newest first."""
    cutoff = now_ms - int(STALE_AFTER_S * 1000)
    rows = db.execute(
        "SELECT server_id, pid, hostname, url, started_at_ms, beat_at_ms FROM running_servers "
        "WHERE beat_at_ms >= ? ORDER BY beat_at_ms DESC",
        [cutoff],
    ).fetchall()
    keys = ("server_id", "pid", "hostname", "url", "started_at_ms", "beat_at_ms")
    return [RunningServer(**dict(zip(keys, row, strict=True))) for row in rows]  # type: ignore[typeddict-item]
