"""Idle rooms: deleted by the running server after room_idle_ttl_s, or offline by
`watchparty cleanup-rooms` (as SyncPlay Backend's cleanup_rooms --hours --dry-run)."""

from __future__ import annotations

import time

import trio

import data
from data import chat as chat_store
from data import rooms as room_store
from sync_server.cli import main
from tests.conftest import run_server

HOUR_MS = 3_600_000.0


async def test_server_deletes_rooms_idle_past_the_ttl(db_path):
    now = [time.time() * 1000.0]
    async with run_server(db_path, clock=lambda: now[0], room_idle_ttl_s=3600.0) as srv:
        server = srv.server
        await server.create_room("idle", "Idle")
        await server.create_room("busy", "Busy")
        await server.create_room("demo", "Demo room")
        async with srv.client("busy", "watcher") as watcher:
            await watcher.chat("still here")
            assert server.idle_rooms(now[0]) == []
            now[0] += HOUR_MS - 1
            assert server.idle_rooms(now[0]) == []
            now[0] += 1
            # Occupied and demo rooms are never idle.
            assert await server.cleanup_idle_rooms() == ["idle"]
        assert "idle" not in server.rooms
        assert not await srv.db.read(room_store.room_exists, "idle")
        assert "busy" in server.rooms
        # Once everyone is gone (grace included), an hour without events deletes it.
        with trio.fail_after(5):
            while server.rooms["busy"].room.participants:
                now[0] += 60_000
                server.rooms["busy"].poke()
                await trio.testing.wait_all_tasks_blocked()
        now[0] += HOUR_MS
        assert await server.cleanup_idle_rooms() == ["busy"]
        assert await srv.db.read(chat_store.count_messages, "busy") == 0
        assert set(server.rooms) == {"demo"}


async def test_cleanup_rooms_command(db_path, capsys):
    async with run_server(db_path) as srv:
        await srv.server.create_room("old", "Old room")
        await srv.server.create_room("demo", "Demo room")
        snap = await srv.db.read(room_store.get_room_snapshot, "old")
        snap["updated_at_ms"] = int(time.time() * 1000 - 30 * HOUR_MS)
        srv.server.rooms["old"].room.dirty = False  # keep the aged row at shutdown
        await srv.db.write(room_store.upsert_room_snapshots, [snap])

    def cli(*args: str) -> int:
        return main(["cleanup-rooms", "--db", str(db_path), *args])

    assert await trio.to_thread.run_sync(cli, "--dry-run") == 0
    out = capsys.readouterr().out
    assert "would delete old (Old room), idle 30.0 h" in out
    assert "1 of 2 rooms idle for more than 24 h" in out
    assert await trio.to_thread.run_sync(cli, "--hours", "48") == 0
    assert "0 of 2 rooms" in capsys.readouterr().out
    assert await trio.to_thread.run_sync(cli) == 0
    assert "deleted old" in capsys.readouterr().out
    db = await trio.to_thread.run_sync(data.open_database, db_path)
    try:
        codes = [s["code"] for s in await db.read(room_store.load_room_snapshots)]
    finally:
        db.close()
    assert codes == ["demo"]


def test_cleanup_rooms_refuses_a_missing_database(tmp_path, capsys):
    missing = tmp_path / "nope.db"
    assert main(["cleanup-rooms", "--db", str(missing)]) == 2
    assert "no database" in capsys.readouterr().err
    assert not missing.exists()
    assert main(["rooms", "--db", str(missing)]) == 2
    assert not missing.exists()
