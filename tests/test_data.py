"""Tests of the data layer: migrations, the async facade and the query functions.

Every database is a file under ``tmp_path`` and every connection is closed before the
test ends (an unclosed sqlite3 connection is a ResourceWarning, an error here). Threads
are coordinated with ``threading.Event`` and trio, never with sleeps.
"""

from __future__ import annotations

import functools
import math
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlite_utils
import trio
import trio.testing

from data import Database, NotFoundError, StoreError, chat, open_database, rooms
from data import secrets as data_secrets
from data.migrations import MIGRATION_SET, migration_names, migrations

ROOM = "abc123"
OTHER_ROOM = "xyz789"
EVENT_WAIT_S = 10.0  # upper bound for a thread handshake, in seconds; normally instant


class Boom(Exception):
    pass


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "var" / "watchparty.db"


@pytest.fixture
def db(db_path: Path) -> Iterator[Database]:
    database = open_database(db_path)
    try:
        yield database
    finally:
        database.close()


def make_snapshot(
    code: str = ROOM,
    *,
    name: str = "Movie night",
    settings: dict[str, Any] | None = None,
    state: dict[str, Any] | None = None,
    last_seq: int = 0,
    created_at_ms: int = 1_000,
    updated_at_ms: int = 1_000,
) -> dict[str, Any]:
    return {
        "code": code,
        "name": name,
        "settings": {"guests_allowed": True} if settings is None else settings,
        "state": {"paused": True, "position_s": 0.0} if state is None else state,
        "last_seq": last_seq,
        "created_at_ms": created_at_ms,
        "updated_at_ms": updated_at_ms,
    }


def add_room(database: Database, code: str = ROOM) -> None:
    database.write_sync(rooms.upsert_room_snapshots, [make_snapshot(code)])


async def add_room_async(database: Database, code: str = ROOM) -> None:
    await database.write(rooms.upsert_room_snapshots, [make_snapshot(code)])


def insert(
    w: sqlite_utils.Database, text: str = "hello", *, room_code: str = ROOM, at_ms: int = 2_000
) -> chat.ChatMessage:
    return chat.insert_message(
        w,
        room_code=room_code,
        participant_id="p1",
        user_id=None,
        display_name="Ada",
        text=text,
        created_at_ms=at_ms,
    )


def schema(r: sqlite_utils.Database) -> list[tuple[Any, ...]]:
    return r.execute("SELECT type, name, sql FROM sqlite_master ORDER BY name").fetchall()


def migration_rows(r: sqlite_utils.Database) -> list[tuple[Any, ...]]:
    return r.execute(
        "SELECT migration_set, name, applied_at FROM _sqlite_migrations ORDER BY id"
    ).fetchall()


# --- Opening and migrations -----------------------------------------------------------


def test_open_creates_parent_directory_and_schema(db: Database, db_path: Path) -> None:
    assert db.path == db_path
    assert db_path.is_file()
    tables = db.read_sync(lambda r: set(r.table_names()))
    assert {"rooms", "chat_messages", "server_secrets", "_sqlite_migrations"} <= tables


def test_schema_has_exact_constraints(db: Database) -> None:
    sql = {name: text for _, name, text in db.read_sync(schema)}
    assert "AUTOINCREMENT" in sql["chat_messages"]
    assert "REFERENCES rooms(code) ON DELETE CASCADE" in sql["chat_messages"]
    assert "idx_chat_messages_room_code_id" in sql
    columns = db.read_sync(lambda r: r["chat_messages"].columns_dict)
    assert list(columns) == [
        "id",
        "room_code",
        "participant_id",
        "user_id",
        "display_name",
        "text",
        "created_at_ms",
        "edited_at_ms",
        "deleted_at_ms",
        "deleted_by",
    ]
    not_null = db.read_sync(
        lambda r: {
            row[1]: bool(row[3]) for row in r.execute("PRAGMA table_info(chat_messages)").fetchall()
        }
    )
    assert not_null["user_id"] is False
    assert not_null["edited_at_ms"] is False
    assert not_null["text"] is True


def test_migrations_apply_once_and_reopen_is_idempotent(db_path: Path) -> None:
    with open_database(db_path) as first:
        first_schema = first.read_sync(schema)
        first_rows = first.read_sync(migration_rows)
    names = migration_names()
    assert names[0] == "m0001_initial"
    assert names == sorted(names), "migrations are numbered and applied in order"
    assert [(row[0], row[1]) for row in first_rows] == [(MIGRATION_SET, n) for n in names]

    for _ in range(2):
        with open_database(db_path) as again:
            assert again.read_sync(schema) == first_schema
            # Same rows, same applied_at: nothing was applied a second time.
            assert again.read_sync(migration_rows) == first_rows
            assert again.read_sync(migrations.pending) == []


def test_database_migrated_by_newer_version_is_refused(db_path: Path) -> None:
    with open_database(db_path) as database:
        database.write_sync(
            lambda w: w.execute(
                "INSERT INTO _sqlite_migrations (migration_set, name, applied_at) "
                "VALUES (?, 'm9999_from_the_future', 'later')",
                [MIGRATION_SET],
            )
        )
    with pytest.raises(StoreError, match="m9999_from_the_future"):
        open_database(db_path)


@pytest.mark.parametrize("path", [":memory:", ""])
def test_in_memory_database_is_rejected(path: str) -> None:
    with pytest.raises(ValueError, match="file path"):
        open_database(path)


def test_pragmas_on_both_connections(db: Database) -> None:
    def pragmas(conn: sqlite_utils.Database) -> dict[str, Any]:
        return {
            name: conn.execute(f"PRAGMA {name}").fetchone()[0]
            for name in ("journal_mode", "foreign_keys", "synchronous", "busy_timeout")
        }

    expected = {"journal_mode": "wal", "foreign_keys": 1, "synchronous": 1, "busy_timeout": 5000}
    assert db.write_sync(pragmas) == expected
    assert db.read_sync(pragmas) == expected


def test_reader_connection_refuses_writes(db: Database) -> None:
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        db.read_sync(rooms.upsert_room_snapshots, [make_snapshot()])
    assert db.read_sync(rooms.room_exists, ROOM) is False


def test_data_survives_close_and_reopen(db_path: Path) -> None:
    with open_database(db_path) as database:
        add_room(database)
        message = database.write_sync(insert)
    # The last connection to close checkpointed the WAL into the file.
    assert not db_path.with_name(db_path.name + "-wal").exists()
    with open_database(db_path) as database:
        assert database.read_sync(chat.get_message, message["id"]) == message
        assert database.read_sync(rooms.get_room_snapshot, ROOM)["name"] == "Movie night"


def test_closed_database_raises_store_error(db_path: Path) -> None:
    database = open_database(db_path)
    database.close()
    database.close()  # idempotent
    with pytest.raises(StoreError, match="closed"):
        database.read_sync(rooms.room_exists, ROOM)
    with pytest.raises(StoreError, match="closed"):
        database.write_sync(rooms.room_exists, ROOM)


async def test_closed_database_raises_store_error_async(db_path: Path) -> None:
    database = open_database(db_path)
    database.close()
    with pytest.raises(StoreError, match="closed"):
        await database.write(rooms.room_exists, ROOM)


# --- Transactions ---------------------------------------------------------------------


def test_failing_write_rolls_back_everything(db: Database) -> None:
    add_room(db)
    error = Boom("fail after two writes")

    def half_done(w: sqlite_utils.Database) -> None:
        rooms.upsert_room_snapshots(w, [make_snapshot(OTHER_ROOM)])
        insert(w)
        raise error

    with pytest.raises(Boom) as info:
        db.write_sync(half_done)
    assert info.value is error
    assert db.read_sync(rooms.room_exists, OTHER_ROOM) is False
    assert db.read_sync(chat.count_messages, ROOM) == 0
    # No transaction was left open (the next BEGIN IMMEDIATE would fail), and the
    # AUTOINCREMENT counter rolled back too.
    assert db.write_sync(insert)["id"] == 1


async def test_failing_async_write_rolls_back_and_propagates_unchanged(db: Database) -> None:
    await add_room_async(db)
    error = Boom("async failure")

    def half_done(w: sqlite_utils.Database) -> None:
        insert(w)
        raise error

    with pytest.raises(Boom) as info:
        await db.write(half_done)
    assert info.value is error
    assert await db.read(chat.count_messages, ROOM) == 0


def test_read_sees_one_snapshot(db: Database) -> None:
    add_room(db)
    observed: list[int] = []

    def read_twice(r: sqlite_utils.Database) -> None:
        observed.append(chat.count_messages(r, ROOM))
        # A commit on the writer between two queries of one read call is not seen.
        db.write_sync(insert)
        observed.append(chat.count_messages(r, ROOM))

    db.read_sync(read_twice)
    assert observed == [0, 0]
    assert db.read_sync(chat.count_messages, ROOM) == 1


# --- Async facade ---------------------------------------------------------------------


async def test_write_and_read_run_off_the_event_loop_thread(db: Database) -> None:
    loop_thread = threading.get_ident()
    await add_room_async(db)
    write_thread = await db.write(lambda w: (insert(w), threading.get_ident())[1])
    read_thread = await db.read(lambda r: threading.get_ident())
    assert write_thread != loop_thread
    assert read_thread != loop_thread
    assert await db.read(chat.count_messages, ROOM) == 1


async def test_sync_methods_refuse_to_block_a_trio_task(db: Database) -> None:
    with pytest.raises(RuntimeError, match=r"await db\.write"):
        db.write_sync(rooms.room_exists, ROOM)
    with pytest.raises(RuntimeError, match=r"await db\.read"):
        db.read_sync(rooms.room_exists, ROOM)
    # From a worker thread they are fine.
    assert await trio.to_thread.run_sync(db.read_sync, rooms.room_exists, ROOM) is False


async def test_open_database_from_a_worker_thread(db_path: Path) -> None:
    database = await trio.to_thread.run_sync(open_database, db_path)
    try:
        await database.write(rooms.upsert_room_snapshots, [make_snapshot()])
        assert await database.read(rooms.room_exists, ROOM) is True
    finally:
        database.close()


async def test_concurrent_writes_all_land_with_distinct_ids(db: Database) -> None:
    await add_room_async(db)
    ids: list[int] = []

    async def insert_one(n: int) -> None:
        message = await db.write(lambda w: insert(w, f"message {n}"))
        ids.append(message["id"])

    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            for n in range(50):
                nursery.start_soon(insert_one, n)
    assert len(ids) == 50
    assert len(set(ids)) == 50
    assert await db.read(chat.count_messages, ROOM) == 50


async def test_sync_and_async_writes_do_not_overlap(db: Database) -> None:
    await add_room_async(db)
    active = 0
    most_active = 0
    guard = threading.Lock()

    def counted_insert(w: sqlite_utils.Database) -> int:
        nonlocal active, most_active
        with guard:
            active += 1
            most_active = max(most_active, active)
        try:
            return insert(w)["id"]
        finally:
            with guard:
                active -= 1

    ids: list[int] = []

    async def via_async() -> None:
        ids.append(await db.write(counted_insert))

    async def via_sync() -> None:
        ids.append(await trio.to_thread.run_sync(db.write_sync, counted_insert))

    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            for _ in range(20):
                nursery.start_soon(via_async)
                nursery.start_soon(via_sync)
    assert most_active == 1
    assert len(set(ids)) == 40


async def test_read_while_a_write_transaction_is_open(db: Database) -> None:
    await add_room_async(db)
    inserted = threading.Event()
    release = threading.Event()

    def slow_write(w: sqlite_utils.Database) -> None:
        insert(w)
        inserted.set()
        if not release.wait(EVENT_WAIT_S):
            raise TimeoutError("the test never released the writer")

    with trio.fail_after(EVENT_WAIT_S):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(db.write, slow_write)
            try:
                assert await trio.to_thread.run_sync(inserted.wait, EVENT_WAIT_S)
                # WAL: the reader sees the last commit and is not blocked by the writer.
                count_during_write = await db.read(chat.count_messages, ROOM)
            finally:
                release.set()
    assert count_during_write == 0
    assert await db.read(chat.count_messages, ROOM) == 1


async def test_cancelled_caller_never_leaves_a_half_written_transaction(db: Database) -> None:
    await add_room_async(db)
    started = threading.Event()
    release = threading.Event()
    queued_ran = threading.Event()

    def slow_write(w: sqlite_utils.Database) -> None:
        insert(w, "first")
        started.set()
        if not release.wait(EVENT_WAIT_S):
            raise TimeoutError("the test never released the writer")
        insert(w, "second")

    def queued_write(w: sqlite_utils.Database) -> None:
        queued_ran.set()
        insert(w, "queued")

    running_scope = trio.CancelScope()
    queued_scope = trio.CancelScope()

    async def run_in(scope: trio.CancelScope, fn: Any) -> None:
        with scope:
            await db.write(fn)

    with trio.fail_after(EVENT_WAIT_S):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(run_in, running_scope, slow_write)
            try:
                assert await trio.to_thread.run_sync(started.wait, EVENT_WAIT_S)
                nursery.start_soon(run_in, queued_scope, queued_write)
                await trio.testing.wait_all_tasks_blocked()
                # The running write is already in its thread; the queued one waits
                # for the writer's limiter.
                running_scope.cancel()
                queued_scope.cancel()
            finally:
                release.set()

    texts = await db.read(lambda r: [m["text"] for m in chat.recent_messages(r, ROOM, 10)])
    assert texts == ["first", "second"]  # the started write finished and committed
    assert not queued_ran.is_set()  # the queued one never started


# --- Chat -----------------------------------------------------------------------------


def test_insert_and_get_message(db: Database) -> None:
    add_room(db)
    message = db.write_sync(
        lambda w: chat.insert_message(
            w,
            room_code=ROOM,
            participant_id="p7",
            user_id="u42",
            display_name="Grace",
            text="hi all",
            created_at_ms=5_000,
        )
    )
    assert message == {
        "id": 1,
        "room_code": ROOM,
        "participant_id": "p7",
        "user_id": "u42",
        "display_name": "Grace",
        "text": "hi all",
        "created_at_ms": 5_000,
        "edited_at_ms": None,
        "deleted_at_ms": None,
    }
    assert db.read_sync(chat.get_message, 1) == message


def test_insert_into_missing_room_is_not_found(db: Database) -> None:
    with pytest.raises(NotFoundError, match=repr(ROOM)):
        db.write_sync(insert)
    assert db.read_sync(lambda r: r["chat_messages"].count) == 0


def test_get_missing_message_is_not_found(db: Database) -> None:
    with pytest.raises(NotFoundError, match="id 99"):
        db.read_sync(chat.get_message, 99)


def test_edit_message(db: Database) -> None:
    add_room(db)
    message = db.write_sync(insert)
    edited = db.write_sync(
        lambda w: chat.edit_message(w, message["id"], text="hello, edited", edited_at_ms=3_000)
    )
    assert edited == {**message, "text": "hello, edited", "edited_at_ms": 3_000}
    assert db.read_sync(chat.get_message, message["id"]) == edited


def test_delete_message_is_soft(db: Database) -> None:
    add_room(db)
    message = db.write_sync(insert)
    deleted = db.write_sync(
        lambda w: chat.delete_message(w, message["id"], deleted_at_ms=4_000, deleted_by="mod1")
    )
    assert deleted == {**message, "deleted_at_ms": 4_000}
    assert db.read_sync(chat.get_message, message["id"]) == deleted
    stored = db.read_sync(
        lambda r: r.execute(
            "SELECT text, deleted_by FROM chat_messages WHERE id = ?", [message["id"]]
        ).fetchone()
    )
    assert stored == ("hello", "mod1")  # kept for moderation
    assert db.read_sync(chat.count_messages, ROOM) == 0
    assert db.read_sync(chat.recent_messages, ROOM, 10) == []


def test_edit_or_delete_missing_or_deleted_is_not_found(db: Database) -> None:
    add_room(db)
    message_id = db.write_sync(insert)["id"]
    db.write_sync(
        lambda w: chat.delete_message(w, message_id, deleted_at_ms=4_000, deleted_by="p1")
    )
    with pytest.raises(NotFoundError, match="deleted at 4000 ms"):
        db.write_sync(lambda w: chat.edit_message(w, message_id, text="x", edited_at_ms=5_000))
    with pytest.raises(NotFoundError, match="deleted at 4000 ms"):
        db.write_sync(
            lambda w: chat.delete_message(w, message_id, deleted_at_ms=5_000, deleted_by="p1")
        )
    with pytest.raises(NotFoundError, match="id 99"):
        db.write_sync(lambda w: chat.edit_message(w, 99, text="x", edited_at_ms=5_000))
    with pytest.raises(NotFoundError, match="id 99"):
        db.write_sync(lambda w: chat.delete_message(w, 99, deleted_at_ms=5_000, deleted_by="p1"))
    # The failed delete did not move deleted_at_ms.
    assert db.read_sync(chat.get_message, message_id)["deleted_at_ms"] == 4_000


def test_edit_or_delete_in_another_room_is_not_found(db: Database) -> None:
    add_room(db)
    add_room(db, OTHER_ROOM)
    message = db.write_sync(insert)
    with pytest.raises(NotFoundError, match="another room"):
        db.write_sync(
            lambda w: chat.edit_message(
                w, message["id"], text="x", edited_at_ms=3_000, room_code=OTHER_ROOM
            )
        )
    with pytest.raises(NotFoundError, match="another room"):
        db.write_sync(
            lambda w: chat.delete_message(
                w, message["id"], deleted_at_ms=3_000, deleted_by="p9", room_code=OTHER_ROOM
            )
        )
    assert db.read_sync(chat.get_message, message["id"]) == message
    edited = db.write_sync(
        lambda w: chat.edit_message(w, message["id"], text="y", edited_at_ms=3_000, room_code=ROOM)
    )
    assert edited["text"] == "y"


def test_recent_messages_are_the_last_undeleted_oldest_first(db: Database) -> None:
    add_room(db)
    add_room(db, OTHER_ROOM)
    ids = [db.write_sync(insert, f"m{n}")["id"] for n in range(6)]
    db.write_sync(lambda w: insert(w, "elsewhere", room_code=OTHER_ROOM))
    db.write_sync(lambda w: chat.delete_message(w, ids[4], deleted_at_ms=9, deleted_by="p1"))

    recent = db.read_sync(chat.recent_messages, ROOM, 3)
    assert [m["text"] for m in recent] == ["m2", "m3", "m5"]
    assert [m["text"] for m in db.read_sync(chat.recent_messages, ROOM, 100)] == [
        "m0",
        "m1",
        "m2",
        "m3",
        "m5",
    ]
    assert db.read_sync(chat.recent_messages, ROOM, 0) == []
    assert db.read_sync(chat.recent_messages, "nope", 10) == []
    with pytest.raises(ValueError, match="-1"):
        db.read_sync(chat.recent_messages, ROOM, -1)


def test_list_messages_paginates_newest_first(db: Database) -> None:
    add_room(db)
    add_room(db, OTHER_ROOM)

    def fill(w: sqlite_utils.Database) -> list[int]:
        ids = [insert(w, f"m{n}")["id"] for n in range(7)]
        insert(w, "elsewhere", room_code=OTHER_ROOM)
        chat.delete_message(w, ids[3], deleted_at_ms=9, deleted_by="p1")
        return ids

    ids = db.write_sync(fill)
    expected = [i for i in reversed(ids) if i != ids[3]]

    pages: list[list[int]] = []
    before_id: int | None = None
    while True:
        page = db.read_sync(
            functools.partial(chat.list_messages, before_id=before_id, limit=4), ROOM
        )
        if not page:
            break
        pages.append([m["id"] for m in page])
        before_id = page[-1]["id"]
    assert pages == [expected[:4], expected[4:]]
    assert db.read_sync(lambda r: chat.list_messages(r, ROOM, before_id=ids[0])) == []


def test_list_messages_clamps_limit(db: Database) -> None:
    add_room(db)
    db.write_sync(lambda w: [insert(w, f"m{n}") for n in range(chat.MAX_LIST_LIMIT + 5)])

    def page_len(limit: int) -> int:
        return len(db.read_sync(lambda r: chat.list_messages(r, ROOM, limit=limit)))

    assert page_len(0) == 1
    assert page_len(-5) == 1
    assert page_len(50) == 50
    assert page_len(10_000) == chat.MAX_LIST_LIMIT


def test_count_messages(db: Database) -> None:
    add_room(db)
    assert db.read_sync(chat.count_messages, ROOM) == 0
    ids = db.write_sync(lambda w: [insert(w)["id"] for _ in range(3)])
    db.write_sync(lambda w: chat.delete_message(w, ids[0], deleted_at_ms=9, deleted_by="p1"))
    assert db.read_sync(chat.count_messages, ROOM) == 2
    assert db.read_sync(chat.count_messages, "nope") == 0


# --- Rooms ----------------------------------------------------------------------------


def test_upsert_and_load_room_snapshots(db: Database) -> None:
    snapshots = [make_snapshot(OTHER_ROOM), make_snapshot(ROOM, name="Anime")]
    db.write_sync(rooms.upsert_room_snapshots, snapshots)
    loaded = db.read_sync(rooms.load_room_snapshots)
    assert [s["code"] for s in loaded] == [ROOM, OTHER_ROOM]  # ordered by code
    assert loaded[0] == make_snapshot(ROOM, name="Anime")
    assert db.read_sync(rooms.get_room_snapshot, OTHER_ROOM) == make_snapshot(OTHER_ROOM)
    assert db.read_sync(rooms.room_exists, ROOM) is True
    assert db.read_sync(rooms.room_exists, "nope") is False


def test_upsert_keeps_created_at_and_chat(db: Database) -> None:
    db.write_sync(rooms.upsert_room_snapshots, [make_snapshot(created_at_ms=1_000)])
    message = db.write_sync(insert)
    newer = make_snapshot(
        name="Renamed",
        settings={"guests_allowed": False},
        state={"paused": False, "position_s": 12.5},
        last_seq=17,
        created_at_ms=9_999,
        updated_at_ms=8_000,
    )
    db.write_sync(rooms.upsert_room_snapshots, [newer])
    assert db.read_sync(rooms.get_room_snapshot, ROOM) == {**newer, "created_at_ms": 1_000}
    assert db.read_sync(chat.get_message, message["id"]) == message


def test_upsert_validates_every_snapshot_before_writing(db: Database) -> None:
    good = make_snapshot(OTHER_ROOM)
    bad_cases: list[tuple[dict[str, Any], str]] = [
        ({k: v for k, v in make_snapshot().items() if k != "state"}, "missing"),
        ({**make_snapshot(), "last_seq": "7"}, "'last_seq'"),
        ({**make_snapshot(), "last_seq": True}, "'last_seq'"),
        ({**make_snapshot(), "settings": ["not", "a", "dict"]}, "'settings'"),
        (make_snapshot(state={"position_s": math.nan}), "JSON-serialisable state"),
        (make_snapshot(state={"when": object()}), "JSON-serialisable state"),
    ]
    for bad, message in bad_cases:
        with pytest.raises(ValueError, match=message):
            db.write_sync(rooms.upsert_room_snapshots, [good, bad])
    assert db.read_sync(rooms.load_room_snapshots) == []


def test_upsert_nothing_is_a_no_op(db: Database) -> None:
    db.write_sync(rooms.upsert_room_snapshots, [])
    assert db.read_sync(rooms.load_room_snapshots) == []


def test_get_missing_room_is_not_found(db: Database) -> None:
    with pytest.raises(NotFoundError, match="'nope'"):
        db.read_sync(rooms.get_room_snapshot, "nope")


def test_corrupt_snapshot_json_is_a_store_error(db: Database) -> None:
    add_room(db)
    db.write_sync(lambda w: w.execute("UPDATE rooms SET state = '[1]' WHERE code = ?", [ROOM]))
    with pytest.raises(StoreError, match=r"rooms\.state"):
        db.read_sync(rooms.get_room_snapshot, ROOM)
    db.write_sync(lambda w: w.execute("UPDATE rooms SET state = '{' WHERE code = ?", [ROOM]))
    with pytest.raises(StoreError, match="invalid JSON"):
        db.read_sync(rooms.load_room_snapshots)


def test_delete_room_cascades_to_its_chat(db: Database) -> None:
    add_room(db)
    add_room(db, OTHER_ROOM)
    db.write_sync(lambda w: [insert(w) for _ in range(3)])
    kept = db.write_sync(lambda w: insert(w, "stays", room_code=OTHER_ROOM))

    assert db.write_sync(rooms.delete_room, ROOM) is True
    assert db.write_sync(rooms.delete_room, ROOM) is False
    assert db.read_sync(rooms.room_exists, ROOM) is False
    assert db.read_sync(lambda r: r["chat_messages"].count) == 1
    assert db.read_sync(chat.get_message, kept["id"]) == kept

    # AUTOINCREMENT: a recreated room never gets the deleted messages' ids.
    add_room(db)
    assert db.write_sync(insert)["id"] == kept["id"] + 1


# --- Secrets --------------------------------------------------------------------------


def test_get_or_create_secret_is_stable_across_reopen(db_path: Path) -> None:
    def signing_key(w: sqlite_utils.Database, now_ms: int) -> str:
        return data_secrets.get_or_create_secret(w, "session_signing_key", now_ms=now_ms)

    with open_database(db_path) as database:
        first = database.write_sync(signing_key, 1_000)
        assert database.write_sync(signing_key, 2_000) == first
        other = database.write_sync(
            lambda w: data_secrets.get_or_create_secret(w, "other", now_ms=1_000, nbytes=64)
        )
    assert len(first) >= 43  # 32 random bytes in URL-safe base64
    assert len(other) >= 86
    assert other != first
    with open_database(db_path) as database:
        assert database.write_sync(signing_key, 3_000) == first
        created_at_ms = database.read_sync(
            lambda r: r.execute(
                "SELECT created_at_ms FROM server_secrets WHERE name = 'session_signing_key'"
            ).fetchone()[0]
        )
    assert created_at_ms == 1_000


def test_short_secret_is_refused(db: Database) -> None:
    with pytest.raises(ValueError, match="nbytes"):
        db.write_sync(lambda w: data_secrets.get_or_create_secret(w, "weak", now_ms=0, nbytes=8))


def test_concurrent_openers_of_a_new_database_migrate_it_once(tmp_path: Path) -> None:
    """Two processes started together (serve-sync and serve-web) open a new file at
    once: one applies the migrations, the others wait and find nothing pending."""
    import threading

    path = tmp_path / "race.db"
    errors: list[BaseException] = []
    barrier = threading.Barrier(6)

    def opener() -> None:
        barrier.wait()
        try:
            open_database(path).close()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=opener) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with open_database(path) as db:
        rows = db.read_sync(migration_rows)
    assert [row[1] for row in rows] == migration_names()


# --- The pool of readers ---------------------------------------------------------------------


async def test_a_slow_read_does_not_hold_up_the_next(db_path: Path) -> None:
    """With several readers, a read runs while another is still running: a slow report
    does not queue a quick look-up."""
    with open_database(db_path, read_connections=2) as database:
        assert database.read_connections == 2
        await add_room_async(database)
        started = threading.Event()
        release = threading.Event()

        def slow_read(r: sqlite_utils.Database) -> int:
            started.set()
            if not release.wait(EVENT_WAIT_S):
                raise TimeoutError("the test never released the slow read")
            return chat.count_messages(r, ROOM)

        with trio.fail_after(EVENT_WAIT_S):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(database.read, slow_read)
                try:
                    assert await trio.to_thread.run_sync(started.wait, EVENT_WAIT_S)
                    # The slow read holds one reader; this one takes the other.
                    assert await database.read(chat.count_messages, ROOM) == 0
                finally:
                    release.set()


async def test_reads_beyond_the_pool_wait_for_a_free_reader(db_path: Path) -> None:
    with open_database(db_path, read_connections=1) as database:
        started = threading.Event()
        release = threading.Event()
        order: list[str] = []

        def slow_read(r: sqlite_utils.Database) -> None:
            started.set()
            if not release.wait(EVENT_WAIT_S):
                raise TimeoutError("the test never released the slow read")
            order.append("slow")

        def quick_read(r: sqlite_utils.Database) -> None:
            order.append("quick")

        with trio.fail_after(EVENT_WAIT_S):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(database.read, slow_read)
                assert await trio.to_thread.run_sync(started.wait, EVENT_WAIT_S)
                nursery.start_soon(database.read, quick_read)
                await trio.testing.wait_all_tasks_blocked()
                release.set()
        assert order == ["slow", "quick"]


@pytest.mark.parametrize("count", [0, 33])
def test_read_connections_out_of_range_is_refused(db_path: Path, count: int) -> None:
    with pytest.raises(ValueError, match="read connections"):
        open_database(db_path, read_connections=count)
    assert not db_path.exists()


def test_every_reader_is_closed(db_path: Path) -> None:
    database = open_database(db_path, read_connections=3)
    database.close()
    database.close()  # idempotent
    with pytest.raises(StoreError):
        database.read_sync(chat.count_messages, ROOM)
