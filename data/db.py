"""Opening the SQLite database, and reaching it from trio through worker threads.

One database file, one *writer* connection and a small pool of *reader* connections
(``read_connections``, the ``db_read_connections`` setting; datasette's
``num_sql_threads`` in ``datasette/database.py``). The file is in WAL mode, so a reader
sees the last committed state while a write transaction is open, readers never block
the writer, and the writer never blocks a reader: a slow report on one reader does not
queue the sync server's look-ups, which take another.

Every write runs on the writer connection, one at a time, in one ``BEGIN IMMEDIATE``
transaction per call. That is datasette's write-thread idea (``datasette/database.py``)
adapted to trio: instead of a dedicated thread fed by a queue, each call takes the
writer's own ``trio.CapacityLimiter(1)`` (first come, first served) and runs in a trio
worker thread. Reads take the readers' ``trio.CapacityLimiter(read_connections)``,
then a free reader from the pool, in a worker thread of their own. A ``threading.Lock``
on the writer and the pool's queue of free readers keep the synchronous twins
(:meth:`Database.write_sync`, :meth:`Database.read_sync`) from overlapping with the
async calls on the same connection.

Query functions (``data.chat``, ``data.rooms``, ``data.secrets``) take a
``sqlite_utils.Database`` first and are passed to :meth:`Database.write` or
:meth:`Database.read`::

    db = open_database("var/watchparty.db")  # at start-up, before trio.run
    count = await db.read(chat.count_messages, "abc123")
    # Only positional arguments pass through; keywords go in a lambda or partial.
    message = await db.write(lambda w: chat.insert_message(w, room_code="abc123", ...))

This is the only module of ``data/`` that imports trio.
"""

from __future__ import annotations

import functools
import logging
import os
import queue
import sqlite3
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar, TypeVarTuple

import sqlite_utils
import trio

from .errors import StoreError
from .migrations import apply_migrations

logger = logging.getLogger(__name__)

#: How long a connection waits for another connection's lock before failing with
#: ``sqlite3.OperationalError: database is locked``, in milliseconds. Only another
#: process (a CLI run beside the server) can hold the write lock for long.
BUSY_TIMEOUT_MS = 5000

#: Reader connections of :func:`open_database` when not told (the
#: ``db_read_connections`` setting), and the most it accepts.
DEFAULT_READ_CONNECTIONS = 3
MAX_READ_CONNECTIONS = 32

T = TypeVar("T")
Ts = TypeVarTuple("Ts")


class Database:
    """The watchparty database: one serialized writer connection and a pool of readers.

    Create it with :func:`open_database`, never directly. Close it with :meth:`close`
    (or use it as a context manager in synchronous code).

    The functions passed to :meth:`write`, :meth:`read` and their synchronous twins
    receive a ``sqlite_utils.Database`` and must return materialised values (lists,
    dicts), not generators from ``db.query``: the connection serves the next caller as
    soon as the function returns.

    Attributes:
        path: The database file.
        read_connections: How many reader connections serve :meth:`read` in parallel.
    """

    def __init__(
        self,
        path: Path,
        writer: sqlite_utils.Database,
        readers: Sequence[sqlite_utils.Database],
    ) -> None:
        if not readers:
            raise ValueError("expected at least one reader connection, got none")
        self.path = path
        self.read_connections = len(readers)
        self._writer = writer
        self._readers = tuple(readers)
        # Free readers. A reader is taken for one call and put back after it, so a
        # call never shares its connection (and its read transaction) with another.
        self._free_readers: queue.SimpleQueue[sqlite_utils.Database] = queue.SimpleQueue()
        for reader in readers:
            self._free_readers.put(reader)
        self._writer_lock = threading.Lock()
        self._writer_limiter = trio.CapacityLimiter(1)
        self._reader_limiter = trio.CapacityLimiter(len(readers))
        self._closed = False

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<Database {str(self.path)!r} {state}>"

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    async def write(self, fn: Callable[[sqlite_utils.Database, *Ts], T], *args: *Ts) -> T:
        """Run ``fn(writer_db, *args)`` in a worker thread, in one write transaction.

        Calls are serialized: they wait for the writer's capacity limiter in arrival
        order, and only one runs at a time.

        Args:
            fn: The work to do. It must not commit or roll back itself (nested
                ``db.atomic()`` blocks are fine: they become savepoints).
            *args: Positional arguments for ``fn`` (wrap keywords in a lambda or
                ``functools.partial``).

        Returns:
            Whatever ``fn`` returns, after the transaction committed.

        Raises:
            StoreError: if the database was closed.
            Exception: whatever ``fn`` raises, unchanged, after the transaction was
                rolled back; ``sqlite3.Error`` if ``BEGIN`` or ``COMMIT`` fails (then
                nothing was written).

        Error handling:
            Cancelling the caller while it waits for the limiter cancels the call
            before anything ran. Once ``fn`` started, cancellation waits for the
            thread to finish (``abandon_on_cancel=False``), so a transaction is
            always either committed or rolled back, never left half-written.
        """
        return await trio.to_thread.run_sync(
            functools.partial(self._run_write, fn, *args),
            limiter=self._writer_limiter,
            abandon_on_cancel=False,
            thread_name="watchparty db writer",
        )

    async def read(self, fn: Callable[[sqlite_utils.Database, *Ts], T], *args: *Ts) -> T:
        """Run ``fn(reader_db, *args)`` in a worker thread on a free reader connection.

        Up to ``read_connections`` reads run at once, each on its own connection; more
        wait for one in arrival order. ``fn`` sees one consistent snapshot of the last
        committed state (see :meth:`read_sync`) and may run while a write transaction
        is open. Readers are ``query_only``: a write through one fails with
        ``sqlite3.OperationalError``.

        Args:
            fn: The work to do.
            *args: Positional arguments for ``fn``.

        Returns:
            Whatever ``fn`` returns.

        Raises:
            StoreError: if the database was closed.
            Exception: whatever ``fn`` raises, unchanged.

        Error handling:
            As for :meth:`write`: cancellation waits for a started ``fn`` to finish.
        """
        return await trio.to_thread.run_sync(
            functools.partial(self._run_read, fn, *args),
            limiter=self._reader_limiter,
            abandon_on_cancel=False,
            thread_name="watchparty db reader",
        )

    def write_sync(self, fn: Callable[[sqlite_utils.Database, *Ts], T], *args: *Ts) -> T:
        """Run ``fn(writer_db, *args)`` in this thread, in one write transaction.

        For start-up and CLI code outside trio, or a worker thread inside it. Blocks
        while an async :meth:`write` is running.

        Args:
            fn: As for :meth:`write`.
            *args: Positional arguments for ``fn``.

        Returns:
            Whatever ``fn`` returns, after the transaction committed.

        Raises:
            RuntimeError: if called from a trio task, where it would block the event
                loop: use ``await write(...)`` there.
            StoreError: if the database was closed.
            Exception: whatever ``fn`` raises, unchanged, after the rollback.
        """
        _refuse_trio_task("write_sync", "write")
        return self._run_write(fn, *args)

    def read_sync(self, fn: Callable[[sqlite_utils.Database, *Ts], T], *args: *Ts) -> T:
        """Run ``fn(reader_db, *args)`` in this thread on a reader connection.

        Blocks while every reader is busy.

        ``fn`` runs inside a read transaction (``BEGIN`` ... ``ROLLBACK``) so that all
        its queries see the same committed snapshot, for example a page of messages
        and their count. A WAL read transaction never blocks the writer.

        Args:
            fn: As for :meth:`read`.
            *args: Positional arguments for ``fn``.

        Returns:
            Whatever ``fn`` returns.

        Raises:
            RuntimeError: if called from a trio task: use ``await read(...)`` there.
            StoreError: if the database was closed.
            Exception: whatever ``fn`` raises, unchanged.
        """
        _refuse_trio_task("read_sync", "read")
        return self._run_read(fn, *args)

    def close(self) -> None:
        """Close every connection. Idempotent.

        Waits for the calls running on any connection to finish. Later calls raise
        :class:`StoreError`. The writer closes last, so SQLite checkpoints the WAL
        into the database file and removes it.
        """
        was_closed = self._closed
        # Set before taking the connections, so queued calls fail fast; a call already
        # holding one finishes first. One connection at a time: a read fn that writes
        # (or the reverse) must not be able to deadlock against close().
        self._closed = True
        for _ in self._readers:
            reader = self._free_readers.get()  # waits for a running read to finish
            try:
                reader.close()  # sqlite3's close() is idempotent
            finally:
                # Back in the pool, closed: a late call takes it and finds the
                # database closed instead of waiting for ever.
                self._free_readers.put(reader)
        with self._writer_lock:
            self._writer.close()
        if was_closed:
            return
        logger.info("closed database %s", self.path)

    def _run_write(self, fn: Callable[[sqlite_utils.Database, *Ts], T], *args: *Ts) -> T:
        with self._writer_lock:
            self._check_open()
            db = self._writer
            # IMMEDIATE takes the write lock up front: a deferred transaction that
            # reads first could fail with SQLITE_BUSY on upgrade (which busy_timeout
            # does not retry) when another process writes at the same time.
            db.conn.execute("BEGIN IMMEDIATE")
            try:
                result = fn(db, *args)
                if db.conn.in_transaction:
                    db.conn.execute("COMMIT")
            except BaseException:
                _rollback_quietly(db)
                raise
            return result

    def _run_read(self, fn: Callable[[sqlite_utils.Database, *Ts], T], *args: *Ts) -> T:
        db = self._free_readers.get()
        try:
            self._check_open()
            db.conn.execute("BEGIN")
            try:
                return fn(db, *args)
            finally:
                _rollback_quietly(db)
        finally:
            self._free_readers.put(db)

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError(f"expected an open database, got {self.path} closed by close()")


def open_database(
    path: str | os.PathLike[str], *, read_connections: int = DEFAULT_READ_CONNECTIONS
) -> Database:
    """Open (creating if needed) the database file and apply pending migrations.

    Synchronous: call it at start-up before ``trio.run``, or from a worker thread.
    Creates the parent directory if it is missing. Both connections get
    ``foreign_keys=ON``, ``synchronous=NORMAL`` and ``busy_timeout`` of
    :data:`BUSY_TIMEOUT_MS` milliseconds; the file is switched to WAL.

    Args:
        path: The database file. ``":memory:"`` and ``""`` are not supported: WAL and
            several connections need a file.
        read_connections: Reader connections, 1 to :data:`MAX_READ_CONNECTIONS` (the
            ``db_read_connections`` setting).

    Returns:
        The open :class:`Database`.

    Raises:
        ValueError: if *path* names an in-memory or temporary database, or
            *read_connections* is out of range.
        StoreError: if the file cannot use WAL, or a newer watchparty migrated it.
        sqlite3.Error: if the file is not a SQLite database or a migration fails.
        OSError: if the parent directory cannot be created.

    Error handling:
        On any failure every connection opened so far is closed before the error
        propagates. Several processes may open a new file at once: the switch to WAL is
        retried while another holds the lock, and the migrations run once, in one
        ``BEGIN IMMEDIATE`` transaction.
    """
    if os.fspath(path) in ("", ":memory:"):
        raise ValueError(
            f"expected a database file path, got {os.fspath(path)!r}: in-memory "
            "databases cannot be shared by the writer and reader connections in WAL "
            "mode, use a file path (a temporary directory in tests)"
        )
    if not 1 <= read_connections <= MAX_READ_CONNECTIONS:
        raise ValueError(
            f"expected 1 to {MAX_READ_CONNECTIONS} read connections, got {read_connections}"
        )
    db_path = Path(path)
    db_path.parent.mkdir(parents=True, exist_ok=True)
    writer = _connect(db_path, query_only=False)
    readers: list[sqlite_utils.Database] = []
    try:
        journal_mode = _switch_to_wal(writer)
        if journal_mode != "wal":
            raise StoreError(f"expected journal_mode 'wal' for {db_path}, got {journal_mode!r}")
        applied = apply_migrations(writer)
        for _ in range(read_connections):
            readers.append(_connect(db_path, query_only=True))
    except BaseException:
        for reader in readers:
            reader.close()
        writer.close()
        raise
    logger.info(
        "opened database %s (%d migrations applied now, %d readers)",
        db_path,
        len(applied),
        read_connections,
    )
    return Database(db_path, writer, readers)


def _switch_to_wal(db: sqlite_utils.Database, attempts: int = 50) -> str:
    """Set WAL mode; returns the journal mode in force.

    Changing the journal mode needs the database to itself: while another connection
    (another process opening the same new file) holds a lock, SQLite answers with the
    old mode or "database is locked" instead of waiting, so retry for up to about
    2.5 seconds. Runs at start-up in a worker thread or before the event loop, where a
    short blocking sleep is fine.
    """
    import time

    mode = ""
    for _ in range(attempts):
        try:
            (mode,) = db.conn.execute("PRAGMA journal_mode=WAL").fetchone()
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
            mode = "locked"
        mode = str(mode).lower()
        if mode == "wal":
            return mode
        time.sleep(0.05)
    return mode


def _connect(path: Path, *, query_only: bool) -> sqlite_utils.Database:
    # isolation_level=None: the sqlite3 driver never opens transactions on its own;
    # Database._run_write issues BEGIN IMMEDIATE/COMMIT and sqlite-utils' atomic()
    # issues BEGIN or SAVEPOINT, so transactions are exactly what the code says.
    conn = sqlite3.connect(
        path,
        timeout=BUSY_TIMEOUT_MS / 1000,
        isolation_level=None,
        check_same_thread=False,
    )
    try:
        conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA synchronous=NORMAL")
        if query_only:
            conn.execute("PRAGMA query_only=ON")
        # No plugin hooks: connection set-up belongs to this module alone.
        return sqlite_utils.Database(conn, execute_plugins=False)
    except BaseException:
        conn.close()
        raise


def _rollback_quietly(db: sqlite_utils.Database) -> None:
    # Called while another exception (or a result) is on its way out: a failing
    # rollback is logged rather than allowed to replace it.
    try:
        if db.conn.in_transaction:
            db.conn.execute("ROLLBACK")
    except sqlite3.Error:
        logger.exception("rollback failed")


def _refuse_trio_task(name: str, async_name: str) -> None:
    if trio.lowlevel.in_trio_task():
        raise RuntimeError(
            f"expected {name}() outside a trio task, got a call from one, where it would "
            f"block the event loop: use 'await db.{async_name}(...)' instead"
        )
