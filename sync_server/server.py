"""The sync server: accepts WebSocket connections, owns the live rooms, fans events
out, keeps time, and snapshots rooms to SQLite.

Start it with :func:`serve_sync` (nursery-start protocol; runs until cancelled).
On cancellation every connection is closed with 1001 (going away) and every changed
room is written to the database before it returns.
"""

from __future__ import annotations

import gc
import logging
import math
import os
import secrets
import socket
import time
import uuid
from collections.abc import Callable
from functools import partial
from typing import Any

import trio

import data
from data import chat as chat_store
from data import rooms as room_store
from data import running
from data import secrets as secret_store
from protocol.admission import validate_new_room
from protocol.errors import CLOSE_GOING_AWAY, CLOSE_ROOM_CLOSED, E_SERVER_FULL, ProtocolError
from protocol.ratelimit import TokenBucket
from protocol.room import Room, RoomLimits, RoomSettings
from sync_server.chat_writer import ChatWriter
from sync_server.config import Config
from sync_server.connection import Connection, handle_socket
from sync_server.live_room import COALESCE_STATS, LiveRoom, chat_message_public
from sync_server.reactions import store_reactions
from sync_server.transport import open_listeners, serve_listeners

logger = logging.getLogger(__name__)

DEMO_ROOM_CODE = "demo"
#: The clip the web app ships (admin_app/static/demo/): 30 s, timecode and frame counter
#: burned in, so sync can be seen by eye.
DEMO_MEDIA = {"url": "/static/demo/demo.webm", "title": "watchparty demo clip", "duration_s": 30.0}

#: Rooms serialised between two checkpoints when snapshotting.
SNAPSHOT_CHUNK = 200

#: Connections pinged per tick of the heartbeat loop (the ticks spread over the interval).
HEARTBEAT_CHUNK = 32


class ServerClock:
    """The server clock: Unix epoch milliseconds that never step.

    Anchored to the wall clock once at start, then advanced by the monotonic clock, so
    a wall-clock step on the host never moves the room timeline.
    """

    def __init__(self) -> None:
        self._epoch_ms = time.time() * 1000.0
        self._mono0 = time.monotonic()

    def __call__(self) -> float:
        return self._epoch_ms + (time.monotonic() - self._mono0) * 1000.0


class SyncServer:
    """The server's state: live rooms and connections.

    Args:
        config: Settings.
        db: The open database.
        secret: HS256 key for tokens.
        clock: Server clock in Unix epoch milliseconds (injectable for tests).
    """

    def __init__(
        self,
        config: Config,
        db: data.Database,
        *,
        secret: str,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.config = config
        #: Base URL of the web app sent in ``welcome.web_url`` (``None``: unknown).
        self.web_url: str | None = config.public_web_url.rstrip("/") or None
        self.db = db
        self.secret = secret
        self.now_ms: Callable[[], float] = clock or ServerClock()
        self.rooms: dict[str, LiveRoom] = {}
        self.connections: set[Connection] = set()
        self.limits = RoomLimits(
            max_participants=config.max_participants_per_room,
            chat_history=config.chat_history,
            resume_buffer=config.resume_buffer,
            reconnect_grace_ms=config.reconnect_grace_s * 1000.0,
            ready_timeout_ms=config.ready_timeout_s * 1000.0,
            min_lead_ms=config.min_lead_ms,
            max_lead_ms=config.max_lead_ms,
            max_chat_chars=config.max_chat_chars,
            reaction_rate_per_s=config.reaction_rate_per_s,
            reaction_burst=config.reaction_burst,
        )
        self.port: int | None = None
        #: Names this run of the server in session tokens: the events a session saw
        #: before a restart are not the restored room's, so its resume replays "full".
        self.boot_id = secrets.token_urlsafe(8)
        self.counters: dict[str, int] = {
            "connections_total": 0,
            "messages_in": 0,
            "errors_sent": 0,
            "closed_too_slow": 0,
            "resyncs": 0,
            "closed_heartbeat": 0,
            "snapshots_written": 0,
            "deliveries": 0,
            "failures_logged": 0,
            "failures_suppressed": 0,
        }
        #: Tracebacks logged per minute at most (a client able to trigger one must not
        #: be able to flood the log); the rest are counted.
        self._failure_log_bucket = TokenBucket(10 / 60.0, 10, time.monotonic())
        self._nursery: trio.Nursery | None = None
        self._room_lock = trio.Lock()
        self.chat_writer = ChatWriter(db)

    def log_failure(self, template: str, subject: Any, exc: BaseException) -> None:
        """Log an unexpected error of one connection with its traceback, at most ten a
        minute (the others are counted in ``failures_suppressed``)."""
        if self._failure_log_bucket.take(time.monotonic()) > 0:
            self.counters["failures_suppressed"] += 1
            return
        self.counters["failures_logged"] += 1
        logger.error(template, subject, exc_info=exc)

    # --- rooms ------------------------------------------------------------------------
    def statistics(self) -> dict[str, Any]:
        """An immutable snapshot of counters: rooms, connections, participants, totals."""
        return {
            "rooms": len(self.rooms),
            "connections": len(self.connections),
            "participants": sum(r.room.connected_count() for r in self.rooms.values()),
            **self.counters,
        }

    def _start_room(self, room: Room) -> LiveRoom:
        live = LiveRoom(self, room)
        self.rooms[room.code] = live
        assert self._nursery is not None
        self._nursery.start_soon(live.run_timers, name=f"room-timers-{room.code}")
        return live

    async def create_room(
        self,
        code: str | None,
        name: str,
        *,
        settings: dict[str, Any] | None = None,
        media: dict[str, Any] | None = None,
        owner_user_id: str | None = None,
    ) -> LiveRoom:
        """Create a live room and store it at once (chat needs its row).

        Args:
            code: Room code (``ROOM_CODE_PATTERN``), or ``None`` for a random one.
            name: Room name (1-100 characters).
            settings: Settings patch (see :class:`protocol.messages.RoomSettingsPatch`).
            media: Initial media (see :class:`protocol.messages.Media`).
            owner_user_id: Account that becomes host whenever it joins.

        Returns:
            The live room (an existing one when *code* is already live).

        Raises:
            ProtocolError: ``server_full`` at ``max_rooms``; ``invalid_message`` for a
                bad code, name, settings or media.
        """
        if code is None:
            code = secrets.token_urlsafe(6).replace("-", "x").replace("_", "y")
        new = validate_new_room(code, name, settings, media)
        patch, initial_media = new.settings, new.media
        async with self._room_lock:
            existing = self.rooms.get(code)
            if existing is not None:
                return existing
            if len(self.rooms) >= self.config.max_rooms:
                raise ProtocolError(
                    E_SERVER_FULL, f"the server has {self.config.max_rooms} rooms, its limit"
                )
            now = self.now_ms()
            room = Room(
                code=code,
                name=name,
                created_at_ms=now,
                settings=RoomSettings.from_dict(patch),
                limits=self.limits,
                owner_user_id=owner_user_id,
            )
            if initial_media:
                room.playback.media = initial_media
                room.playback.server_time_ms = now
            await self.db.write(room_store.upsert_room_snapshots, [self._snapshot_of(room, now)])
            room.dirty = False
            live = self._start_room(room)
        logger.info("room %s created (%r)", code, name)
        return live

    async def delete_room(self, code: str) -> bool:
        """Close a live room (its connections get close 4013) and delete it and its chat."""
        live = self.rooms.pop(code, None)
        if live is not None:
            live.cancel_scope.cancel()
            for conn in list(live.members.values()):
                conn.fail(CLOSE_ROOM_CLOSED, "room closed")
        deleted: bool = await self.db.write(room_store.delete_room, code)
        return deleted or live is not None

    def _snapshot_of(self, room: Room, now: float) -> dict[str, Any]:
        return {
            "code": room.code,
            "name": room.name,
            "settings": room.settings.to_dict(),
            "state": room.snapshot(now),
            "last_seq": room.seq,
            "created_at_ms": int(room.created_at_ms),
            "updated_at_ms": int(now),
        }

    async def snapshot_dirty(self) -> int:
        """Write every changed room to the database; return how many were written.

        The rooms are serialised on the event loop, ``SNAPSHOT_CHUNK`` at a time with a
        checkpoint in between, and written in one transaction in the writer thread. If
        the write fails they stay dirty and the next round retries.
        """
        now = self.now_ms()
        dirty = [live.room for live in self.rooms.values() if live.room.dirty]
        if not dirty:
            return 0
        snaps = []
        for i, room in enumerate(dirty):
            if i and i % SNAPSHOT_CHUNK == 0:
                # Thousands of rooms take a while to serialise: let others run.
                await trio.lowlevel.checkpoint()
            snaps.append(self._snapshot_of(room, now))
            room.dirty = False
        try:
            await self.db.write(room_store.upsert_room_snapshots, snaps)
        except BaseException:
            for room in dirty:
                room.dirty = True
            raise
        self.counters["snapshots_written"] += len(snaps)
        return len(snaps)

    async def store_pending_reactions(self) -> int:
        """Store every room's reactions that wait for their room timer (at shutdown,
        so none is lost); returns how many were stored."""
        rows = [
            row for live in self.rooms.values() for row in live.room.reactions.take_due(math.inf)
        ]
        if not rows:
            return 0
        return await store_reactions(self, rows)

    async def _restore(self) -> None:
        snaps = await self.db.read(room_store.load_room_snapshots)
        now = self.now_ms()
        for snap in snaps:
            room = Room.restore(
                code=snap["code"],
                name=snap["name"],
                created_at_ms=float(snap["created_at_ms"]),
                settings=snap["settings"],
                state=snap["state"],
                last_seq=int(snap["last_seq"]),
                limits=self.limits,
                now_ms=now,
            )
            history = await self.db.read(
                chat_store.recent_messages, room.code, self.config.chat_history
            )
            room.load_chat([chat_message_public(m) for m in history])
            live = self._start_room(room)
            live.last_active_ms = float(snap["updated_at_ms"])
        if snaps:
            logger.info("restored %d rooms from %s", len(snaps), self.db.path)

    # --- loops ---------------------------------------------------------------------------
    async def _snapshot_loop(self) -> None:
        while True:
            await trio.sleep(self.config.snapshot_interval_s)
            try:
                await self.snapshot_dirty()
            except Exception:
                logger.exception("snapshot failed; rooms stay dirty and will be retried")

    async def _heartbeat_loop(self) -> None:
        from protocol.errors import CLOSE_HEARTBEAT_TIMEOUT

        # Every connection once per interval, in chunks spread evenly over it: pinging
        # thousands in one tick wakes every writer (and then every pong) at once, a
        # stall of tens of milliseconds for everything else in that tick.
        interval = self.config.heartbeat_interval_s
        while True:
            conns = list(self.connections)
            chunks = max(1, -(-len(conns) // HEARTBEAT_CHUNK))
            step = interval / chunks
            for i in range(chunks):
                await trio.sleep(step)
                now_s = trio.current_time()
                for conn in conns[i * HEARTBEAT_CHUNK : (i + 1) * HEARTBEAT_CHUNK]:
                    if conn not in self.connections:
                        continue
                    if now_s - conn.last_received_s > self.config.heartbeat_timeout_s:
                        self.counters["closed_heartbeat"] += 1
                        conn.fail(CLOSE_HEARTBEAT_TIMEOUT, "heartbeat timeout")
                    else:
                        conn.send_ping()

    def idle_rooms(self, now_ms: float) -> list[str]:
        """Codes of rooms nobody is in (not even within a reconnect grace) whose last
        event is older than ``room_idle_ttl_s``; the demo room is never idle."""
        ttl_ms = self.config.room_idle_ttl_s * 1000.0
        if ttl_ms <= 0:
            return []
        return [
            code
            for code, live in self.rooms.items()
            if code != DEMO_ROOM_CODE
            and not live.room.participants
            and now_ms - live.last_active_ms >= ttl_ms
        ]

    async def cleanup_idle_rooms(self) -> list[str]:
        """Delete idle rooms (see :meth:`idle_rooms`) with their chat; return their codes."""
        codes = self.idle_rooms(self.now_ms())
        for code in codes:
            await self.delete_room(code)
            logger.info("room %s deleted: idle for %g s", code, self.config.room_idle_ttl_s)
        return codes

    async def _cleanup_loop(self) -> None:
        while True:
            await trio.sleep(min(300.0, max(1.0, self.config.room_idle_ttl_s / 10)))
            try:
                await self.cleanup_idle_rooms()
            except Exception:
                logger.exception("idle room cleanup failed; retried next round")

    async def _stats_loop(self) -> None:
        # Each room's statistics once per interval, the rooms spread evenly over it:
        # all rooms in one tick would queue a burst of (rooms x members) deliveries
        # ahead of the chat and playback sent at that moment.
        interval = self.config.stats_interval_s
        while True:
            rooms = list(self.rooms.values())
            if not rooms:
                await trio.sleep(interval)
                continue
            step = interval / len(rooms)
            for live in rooms:
                await trio.sleep(step)
                if live.members and self.rooms.get(live.code) is live:
                    message = live.stats_message()
                    if message is not None:
                        live.send_all(message, coalesce_key=COALESCE_STATS)

    # --- serving -------------------------------------------------------------------------
    async def run(
        self, *, task_status: trio.TaskStatus[SyncServer] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Serve until cancelled (nursery-start protocol: started with the server).

        Raises:
            OSError: the listening address cannot be bound (``EADDRINUSE``: another
                process has the port); the message names the address.
        """
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                await self._restore()
                listeners = open_listeners(self.config.host, self.config.port)
                self.port = listeners[0].getsockname()[1]
                for listener in listeners:
                    nursery.start_soon(serve_listeners, listener, handle_socket, nursery, (self,))
                nursery.start_soon(self.chat_writer.run)
                nursery.start_soon(self._snapshot_loop)
                nursery.start_soon(self._heartbeat_loop)
                nursery.start_soon(self._stats_loop)
                if self.config.room_idle_ttl_s > 0:
                    nursery.start_soon(self._cleanup_loop)
                if self.config.demo and DEMO_ROOM_CODE not in self.rooms:
                    await self.create_room(
                        DEMO_ROOM_CODE,
                        "Demo room",
                        settings={"control": "everyone"},
                        media=DEMO_MEDIA,
                    )
                logger.info(
                    "sync server listening on ws://%s:%d/ (database %s)",
                    self.config.host,
                    self.port,
                    self.db.path,
                )
                task_status.started(self)
        finally:
            with trio.CancelScope(shield=True), trio.move_on_after(10):
                try:
                    written = await self.snapshot_dirty()
                    logger.info("sync server stopped; %d rooms written", written)
                except Exception:
                    logger.exception("final snapshot failed")
                try:
                    await self.store_pending_reactions()
                except Exception:
                    logger.exception("storing the last reactions failed")


async def open_server_secret(config: Config, db: data.Database, now_ms: float) -> str:
    """The token key: ``secret_key`` when set, else one generated once and kept in the
    database (so tokens survive restarts and both servers share it)."""
    if config.secret_key:
        return config.secret_key
    value: str = await db.write(
        lambda conn: secret_store.get_or_create_secret(conn, "token_key", now_ms=int(now_ms))
    )
    return value


async def serve_sync(
    config: Config,
    *,
    db: data.Database | None = None,
    clock: Callable[[], float] | None = None,
    task_status: trio.TaskStatus[SyncServer] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Run the sync server until cancelled.

    Follows the nursery-start protocol: ``server = await nursery.start(serve_sync,
    config)`` returns once it listens; ``server.port`` is the bound port.

    While it runs, the server keeps a row in ``running_servers`` fresh (every
    :data:`data.running.BEAT_INTERVAL_S` seconds, the first before it reports started),
    so that offline commands such as ``watchparty cleanup-rooms`` know it runs; the row
    is deleted after the final snapshot.

    Args:
        config: Settings.
        db: An open database; when ``None`` the one at ``config.db`` is opened (in a
            worker thread) and closed on exit.
        clock: Server clock (Unix epoch milliseconds); for tests.

    Raises:
        OSError: the listening address cannot be bound (maybe inside an exception group).

    Error handling:
        A failure in one connection closes that connection (1011) and is logged; it
        never stops the server. On cancellation connections are closed with 1001 and
        changed rooms are written before returning.
    """
    gc.set_threshold(50_000, 50, 100)  # broadcast-heavy workloads; see BENCHMARKS.md
    own_db = db is None
    if db is None:
        db = await trio.to_thread.run_sync(
            lambda: data.open_database(config.db, read_connections=config.db_read_connections)
        )
    try:
        server = SyncServer(config, db, secret="", clock=clock)
        server.secret = await open_server_secret(config, db, server.now_ms())
        server_id = uuid.uuid4().hex
        try:
            async with trio.open_nursery() as nursery:
                await nursery.start(server.run)
                host = "127.0.0.1" if config.host in ("0.0.0.0", "::") else config.host
                url = f"ws://{host}:{server.port}/ws"
                await nursery.start(_beat_while_running, db, server_id, url)
                task_status.started(server)
        finally:
            # server.run has written its rooms: only now may offline commands change them.
            with trio.CancelScope(shield=True):
                try:
                    await db.write(running.forget, server_id)
                except Exception:
                    logger.exception("could not remove this server from running_servers")
    finally:
        if own_db:
            db.close()


async def _beat_while_running(
    db: data.Database,
    server_id: str,
    url: str,
    *,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Keep this process's row in ``running_servers`` fresh (see :mod:`data.running`);
    reports started after the first beat. Times are wall-clock Unix epoch milliseconds,
    which offline commands compare with their own clock."""
    beat = partial(
        running.beat,
        server_id=server_id,
        pid=os.getpid(),
        hostname=socket.gethostname(),
        url=url,
        started_at_ms=int(time.time() * 1000),
    )
    while True:
        await db.write(partial(beat, now_ms=int(time.time() * 1000)))
        task_status.started()
        task_status = trio.TASK_STATUS_IGNORED
        await trio.sleep(running.BEAT_INTERVAL_S)


__all__ = ["CLOSE_GOING_AWAY", "LiveRoom", "ServerClock", "SyncServer", "serve_sync"]
