"""Memory and growth: idle RSS per connection, room snapshots, start-up with many rooms,
chat history queries on a large table.

    python -m bench.memory                     # every part, full sizes
    python -m bench.memory --parts idle --idle-sizes 1000,5000,10000
    python -m bench.memory --parts snapshot,startup,chat --quick

Parts:

* ``idle``: ``watchparty serve-sync`` on core 0, the load generator on core 1 opens N
  joined connections (rooms of 10) and keeps them idle (answering heartbeats); the
  server's RSS (VmRSS) is read before, and after ``--idle-s`` seconds of idling.
  Per connection = (RSS idle - RSS at start) / N: it includes the rooms (one per ten
  connections).
* ``snapshot``: R rooms of 10 participants with media, in a :class:`SyncServer` on a
  fresh database; times ``SyncServer.snapshot_dirty()`` (every room dirty), the
  event-loop part of it alone (building the snapshot dicts), and the bytes stored.
* ``startup``: a database holding R room snapshots (and optionally chat), then the
  time from ``serve_sync`` being called to it listening (in process), and the time
  from spawning ``watchparty serve-sync`` to its port accepting (includes imports).
* ``chat``: a database of ``--chat-messages`` messages over 1,000 rooms (one hot room
  holds 10 %, 5 % soft-deleted), then ``data.chat`` queries on the reader connection.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import trio

import data
from bench.common import (
    PROJECT_PYTHON,
    ROOT,
    Summary,
    command_line,
    env_block,
    environment,
    free_port,
    md_table,
    proc_rss_kib,
    raise_nofile,
    write_result,
)
from bench.fanout import wait_port
from data import chat as chat_store
from data import rooms as room_store


# --- idle RSS ----------------------------------------------------------------------------
def idle_rss(n: int, idle_s: float, tmp: Path) -> dict[str, Any]:
    port = free_port()
    db = tmp / f"idle-{n}.db"
    server = subprocess.Popen(
        [
            "taskset",
            "-c",
            "0",
            str(PROJECT_PYTHON.parent / "watchparty"),
            "serve-sync",
            "--port",
            str(port),
            "--db",
            str(db),
            "--no-demo",
            "--log-level",
            "WARNING",
            "--max-connections",
            "25000",
            "--max-rooms",
            "5000",
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_port(port)
        time.sleep(1.0)
        rss0 = proc_rss_kib(server.pid)
        gen = subprocess.Popen(
            [
                "taskset",
                "-c",
                "1",
                str(PROJECT_PYTHON),
                "-m",
                "bench.loadgen",
                "--port",
                str(port),
                "--rooms",
                str(n // 10),
                "--room-size",
                "10",
                "--rates",
                "0",
                "--idle-s",
                str(idle_s),
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        out: dict[str, Any] = {"n": n, "rss_start_kib": rss0}
        assert gen.stdout is not None
        deadline = time.monotonic() + 600 + idle_s
        for raw in gen.stdout:
            ev = json.loads(raw)
            if ev["event"] == "connected":
                out["connected"] = ev
                out["rss_connected_kib"] = proc_rss_kib(server.pid)
            elif ev["event"] == "idle_start":
                time.sleep(max(0.0, idle_s - 1.0))
                out["rss_idle_kib"] = proc_rss_kib(server.pid)
            elif ev["event"] == "idle_end":
                out["idle_end"] = ev
            if time.monotonic() > deadline:
                gen.kill()
                break
        gen.wait(timeout=60)
        out["per_conn_kib"] = (out["rss_idle_kib"] - rss0) / n
        return out
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()


# --- snapshots -------------------------------------------------------------------------------
def _config(db: Path) -> Any:
    from sync_server.config import Config

    return Config(
        host="127.0.0.1",
        port=0,
        db=str(db),
        demo=False,
        log_level="WARNING",
        secret_key="bench-secret-bench-secret-bench-secret!!",
    )


def _make_room(server: Any, code: str, now: float, participants: int) -> Any:
    from protocol.room import Room, RoomSettings

    room = Room(
        code=code,
        name=f"room {code}",
        created_at_ms=now,
        settings=RoomSettings.from_dict({}),
        limits=server.limits,
    )
    room.playback.media = {
        "url": "https://example.org/v.mp4",
        "title": "A film",
        "duration_s": 5400.0,
    }
    for i in range(participants):
        room.join(f"p{i:07d}", name=f"viewer {i}", user_id=None, guest=True, now_ms=now)
    return room


async def snapshot_times(rooms: int, tmp: Path) -> dict[str, Any]:
    from sync_server.server import LiveRoom, SyncServer

    path = tmp / f"snap-{rooms}.db"
    db = await trio.to_thread.run_sync(data.open_database, str(path))
    try:
        server = SyncServer(_config(path), db, secret="x" * 40)
        now = server.now_ms()
        for r in range(rooms):
            room = _make_room(server, f"snap{r:06d}", now, 10)
            server.rooms[room.code] = LiveRoom(server, room)
        t0 = time.perf_counter()
        snaps = [server._snapshot_of(live.room, now) for live in server.rooms.values()]
        build_s = time.perf_counter() - t0
        size = sum(len(json.dumps(s["state"])) + len(json.dumps(s["settings"])) for s in snaps)
        t0 = time.perf_counter()
        written = await server.snapshot_dirty()
        first_s = time.perf_counter() - t0
        for live in server.rooms.values():
            live.room.dirty = True
        t0 = time.perf_counter()
        await server.snapshot_dirty()
        update_s = time.perf_counter() - t0
    finally:
        db.close()
    return {
        "rooms": rooms,
        "written": written,
        "build_ms": build_s * 1000,
        "insert_ms": first_s * 1000,
        "update_ms": update_s * 1000,
        "json_bytes": size,
        "db_bytes": path.stat().st_size,
    }


# --- start-up ----------------------------------------------------------------------------------
def populate_rooms(path: Path, rooms: int, chat_per_room: int) -> None:
    from sync_server.config import Config
    from sync_server.server import SyncServer

    db = data.open_database(str(path))
    try:
        server = SyncServer(Config(), db, secret="x" * 40, clock=lambda: 1.7e12)
        now = 1.7e12
        snaps = [
            server._snapshot_of(_make_room(server, f"boot{r:06d}", now, 10), now)
            for r in range(rooms)
        ]
        db.write_sync(room_store.upsert_room_snapshots, snaps)
        if chat_per_room:

            def fill(conn: Any) -> None:
                conn.conn.executemany(
                    "INSERT INTO chat_messages (room_code, participant_id, user_id, display_name, text, created_at_ms) "
                    "VALUES (?, ?, NULL, ?, ?, ?)",
                    (
                        (
                            f"boot{r:06d}",
                            "p0000000",
                            "viewer 0",
                            f"message {i} in room {r}",
                            int(now) + i,
                        )
                        for r in range(rooms)
                        for i in range(chat_per_room)
                    ),
                )

            db.write_sync(fill)
    finally:
        db.close()


async def _start_in_process(path: Path) -> float:
    from sync_server.server import serve_sync

    config = _config(path).with_changes(max_rooms=100_000)
    async with trio.open_nursery() as nursery:
        t0 = time.perf_counter()
        await nursery.start(lambda task_status: serve_sync(config, task_status=task_status))
        elapsed = time.perf_counter() - t0
        nursery.cancel_scope.cancel()
    return elapsed


def startup_times(rooms: int, chat_per_room: int, tmp: Path) -> dict[str, Any]:
    path = tmp / f"boot-{rooms}-{chat_per_room}.db"
    t0 = time.perf_counter()
    populate_rooms(path, rooms, chat_per_room)
    gen_s = time.perf_counter() - t0
    in_proc = trio.run(_start_in_process, path)
    port = free_port()
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [
            str(PROJECT_PYTHON.parent / "watchparty"),
            "serve-sync",
            "--port",
            str(port),
            "--db",
            str(path),
            "--no-demo",
            "--log-level",
            "WARNING",
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                time.sleep(0.02)
        cli_s = time.perf_counter() - t0
        rss = proc_rss_kib(proc.pid)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
    # Empty database, for the fixed cost of the CLI (imports, migrations).
    empty = tmp / f"empty-{rooms}.db"
    port = free_port()
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [
            str(PROJECT_PYTHON.parent / "watchparty"),
            "serve-sync",
            "--port",
            str(port),
            "--db",
            str(empty),
            "--no-demo",
            "--log-level",
            "WARNING",
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_port(port)
        empty_s = time.perf_counter() - t0
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    return {
        "rooms": rooms,
        "chat_per_room": chat_per_room,
        "generate_s": gen_s,
        "in_process_s": in_proc,
        "cli_s": cli_s,
        "cli_empty_s": empty_s,
        "rss_after_start_kib": rss,
        "db_bytes": path.stat().st_size,
    }


# --- chat queries -----------------------------------------------------------------------------
def chat_queries(total: int, tmp: Path, repeats: int) -> dict[str, Any]:
    path = tmp / "chat.db"
    rng = random.Random(7)
    rooms = 1000
    hot = "chat000000"
    db = data.open_database(str(path))
    try:
        db.write_sync(
            room_store.upsert_room_snapshots,
            [
                {
                    "code": f"chat{r:06d}",
                    "name": f"r{r}",
                    "settings": {},
                    "state": {},
                    "last_seq": 0,
                    "created_at_ms": 0,
                    "updated_at_ms": 0,
                }
                for r in range(rooms)
            ],
        )
        t0 = time.perf_counter()
        hot_n = total // 10

        def rows() -> Any:
            for i in range(total):
                room = hot if i % 10 == 0 else f"chat{rng.randrange(1, rooms):06d}"
                deleted = 1_700_000_000_000 + i if rng.random() < 0.05 else None
                yield (
                    room,
                    f"p{i % 977:07d}",
                    None,
                    f"viewer {i % 977}",
                    f"chat message number {i} " + "x" * (i % 80),
                    1_700_000_000_000 + i,
                    deleted,
                )

        db.write_sync(
            lambda w: w.conn.executemany(
                "INSERT INTO chat_messages (room_code, participant_id, user_id, display_name, text, created_at_ms, deleted_at_ms) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                rows(),
            )
        )
        gen_s = time.perf_counter() - t0
        (oldest_hot,) = db.read_sync(
            lambda r: r.execute(
                "SELECT min(id) FROM chat_messages WHERE room_code = ?", [hot]
            ).fetchone()
        )
        (mid_hot,) = db.read_sync(
            lambda r: r.execute(
                "SELECT id FROM chat_messages WHERE room_code = ? ORDER BY id LIMIT 1 OFFSET ?",
                [hot, hot_n // 2],
            ).fetchone()
        )
        typical = "chat000500"
        plans = {
            "recent": db.read_sync(
                lambda r: r.execute(
                    "EXPLAIN QUERY PLAN SELECT id FROM chat_messages WHERE room_code = ? AND deleted_at_ms IS NULL "
                    "ORDER BY id DESC LIMIT 50",
                    [hot],
                ).fetchall()
            ),
        }
        cases = {
            "recent_messages(hot room, 50)": lambda r: chat_store.recent_messages(r, hot, 50),
            "recent_messages(typical room, 50)": lambda r: chat_store.recent_messages(
                r, typical, 50
            ),
            "list_messages(hot, newest page of 50)": lambda r: chat_store.list_messages(
                r, hot, limit=50
            ),
            "list_messages(hot, page of 50 in the middle)": lambda r: chat_store.list_messages(
                r, hot, before_id=mid_hot, limit=50
            ),
            "list_messages(hot, oldest page)": lambda r: chat_store.list_messages(
                r, hot, before_id=oldest_hot + 60, limit=50
            ),
            "list_messages(hot, page of 500)": lambda r: chat_store.list_messages(
                r, hot, limit=500
            ),
            "count_messages(hot room)": lambda r: chat_store.count_messages(r, hot),
            "count_messages(typical room)": lambda r: chat_store.count_messages(r, typical),
        }
        results = {}
        for name, fn in cases.items():
            times = []
            for _ in range(repeats):
                t0 = time.perf_counter()
                db.read_sync(fn)
                times.append((time.perf_counter() - t0) * 1000.0)
            results[name] = Summary.of(times)
        (count,) = db.read_sync(
            lambda r: r.execute("SELECT count(*) FROM chat_messages").fetchone()
        )
    finally:
        db.close()
    return {
        "messages": count,
        "hot_room_messages": hot_n,
        "generate_s": gen_s,
        "db_bytes": path.stat().st_size,
        "queries": results,
        "plans": plans,
    }


# --- report -------------------------------------------------------------------------------------
def render(args: argparse.Namespace, env: dict[str, Any], res: dict[str, Any]) -> str:
    out = ["### Memory and growth", "", env_block(env, command_line("bench.memory")), ""]
    if "idle" in res:
        out += ["Idle connections (joined, rooms of 10, answering heartbeats), server RSS:", ""]
        out.append(
            md_table(
                [
                    "connections",
                    "joined",
                    "RSS at start MiB",
                    "RSS idle MiB",
                    "KiB per connection",
                    "target < 20 KiB",
                ],
                [
                    [
                        r["n"],
                        r["connected"]["joined"],
                        f"{r['rss_start_kib'] / 1024:.1f}",
                        f"{r['rss_idle_kib'] / 1024:.1f}",
                        f"{r['per_conn_kib']:.1f}",
                        "met" if r["per_conn_kib"] < 20 else "**missed**",
                    ]
                    for r in res["idle"]
                ],
            )
        )
        out.append("")
    if "snapshot" in res:
        out += ["Room snapshots (every room dirty; 10 participants and a media each):", ""]
        out.append(
            md_table(
                [
                    "rooms",
                    "build on the event loop ms",
                    "first write ms",
                    "rewrite ms",
                    "JSON bytes per room",
                    "database bytes",
                ],
                [
                    [
                        r["rooms"],
                        f"{r['build_ms']:.1f}",
                        f"{r['insert_ms']:.1f}",
                        f"{r['update_ms']:.1f}",
                        f"{r['json_bytes'] / r['rooms']:.0f}",
                        f"{r['db_bytes']:,}",
                    ]
                    for r in res["snapshot"]
                ],
            )
        )
        out.append("")
    if "startup" in res:
        out += ["Start-up with rooms in the database:", ""]
        out.append(
            md_table(
                [
                    "rooms",
                    "chat per room",
                    "serve_sync until listening s",
                    "CLI spawn until port accepts s",
                    "CLI on an empty database s",
                    "RSS after start MiB",
                    "database MiB",
                ],
                [
                    [
                        r["rooms"],
                        r["chat_per_room"],
                        f"{r['in_process_s']:.2f}",
                        f"{r['cli_s']:.2f}",
                        f"{r['cli_empty_s']:.2f}",
                        f"{r['rss_after_start_kib'] / 1024:.0f}",
                        f"{r['db_bytes'] / 1048576:.1f}",
                    ]
                    for r in res["startup"]
                ],
            )
        )
        out.append("")
    if "chat" in res:
        c = res["chat"]
        out += [
            f"Chat history queries on {c['messages']:,} stored messages over 1,000 rooms (hot room "
            f"{c['hot_room_messages']:,}, 5 % soft-deleted; database {c['db_bytes'] / 1048576:.0f} MiB), "
            f"each run {args.repeats} times on the reader connection (`Database.read_sync`):",
            "",
        ]
        out.append(
            md_table(
                ["query", "p50 ms", "p99 ms", "max ms"],
                [
                    [k, f"{v.p50:.3f}", f"{v.p99:.3f}", f"{v.max:.3f}"]
                    for k, v in c["queries"].items()
                ],
            )
        )
        out += ["", f"Query plan of the history query: `{c['plans']['recent']}`", ""]
    return "\n".join(out)


def main() -> None:
    p = argparse.ArgumentParser(
        prog="python -m bench.memory",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--parts", default="idle,snapshot,startup,chat")
    p.add_argument("--idle-sizes", default="1000,5000,10000")
    p.add_argument("--idle-s", type=float, default=20.0, help="idle time before RSS is read")
    p.add_argument("--snapshot-rooms", default="100,1000,10000")
    p.add_argument("--startup-rooms", default="10000")
    p.add_argument(
        "--startup-chat", default="0,50", help="chat messages per room in the start-up database"
    )
    p.add_argument("--chat-messages", type=int, default=1_000_000)
    p.add_argument("--repeats", type=int, default=200)
    p.add_argument("--quick", action="store_true", help="small sizes, to check the tool")
    args = p.parse_args()
    if args.quick:
        args.idle_sizes, args.idle_s, args.snapshot_rooms = "1000", 5.0, "100,1000"
        args.startup_rooms, args.startup_chat, args.chat_messages, args.repeats = (
            "1000",
            "0",
            100_000,
            50,
        )
    raise_nofile(20_000)
    env = environment()
    parts = args.parts.split(",")
    res: dict[str, Any] = {}
    tmp = Path(tempfile.mkdtemp(prefix="wp-memory-"))
    try:
        if "idle" in parts:
            res["idle"] = []
            for n in (int(x) for x in args.idle_sizes.split(",")):
                print(f"== idle {n}", file=sys.stderr, flush=True)
                res["idle"].append(idle_rss(n, args.idle_s, tmp))
        if "snapshot" in parts:
            res["snapshot"] = []
            for r in (int(x) for x in args.snapshot_rooms.split(",")):
                print(f"== snapshot {r}", file=sys.stderr, flush=True)
                res["snapshot"].append(trio.run(snapshot_times, r, tmp))
        if "startup" in parts:
            res["startup"] = []
            for r in (int(x) for x in args.startup_rooms.split(",")):
                for c in (int(x) for x in args.startup_chat.split(",")):
                    print(f"== startup {r} rooms, {c} chat each", file=sys.stderr, flush=True)
                    res["startup"].append(startup_times(r, c, tmp))
        if "chat" in parts:
            print(f"== chat {args.chat_messages}", file=sys.stderr, flush=True)
            res["chat"] = chat_queries(args.chat_messages, tmp, args.repeats)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    md = render(args, env, res)
    print(md)
    path = write_result("memory", md, {"args": vars(args), "env": env, "results": res})
    print(f"\n(written to {path.relative_to(ROOT)})", file=sys.stderr)


if __name__ == "__main__":
    main()
