"""The sync server: accepts WebSocket connections, owns the live rooms, fans events
out, keeps time, and snapshots rooms to SQLite.

Start it with :func:`serve_sync` (nursery-start protocol; runs until cancelled).
On cancellation every connection is closed with 1001 (going away) and every changed
room is written to the database before it returns.
"""

from __future__ import annotations

import gc
import logging
import secrets
import time
from collections.abc import Callable, Mapping
from typing import Any

import trio

import data
from data import chat as chat_store
from data import rooms as room_store
from data import secrets as secret_store
from protocol.codec import EncodedMessage
from protocol.errors import CLOSE_GOING_AWAY, CLOSE_ROOM_CLOSED, E_SERVER_FULL, ProtocolError
from protocol.messages import ROOM_CODE_PATTERN, Media, RoomSettingsPatch, media_dict
from protocol.room import Room, RoomLimits, RoomSettings
from sync_server.chat_writer import ChatWriter
from sync_server.config import Config
from sync_server.outbox import TokenBucket
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

#: Coalescing keys: a queued message with the same key is replaced by the newer one.
COALESCE_STATS = "participant_stats"
COALESCE_PLAYBACK = "playback"


#: Room events that never move a room timer's deadline (no participant connects or
#: leaves, no wait starts or ends): broadcasting them does not wake the timer task.
_TIMER_NEUTRAL = frozenset({"chat_message", "chat_edited", "chat_deleted"})


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


class LiveRoom:
    """A :class:`protocol.room.Room` with its connections and timer.

    Attributes:
        room: The room state machine.
        members: Connections by participant id.
    """

    def __init__(self, server: SyncServer, room: Room) -> None:
        self.server = server
        self.room = room
        self.members: dict[str, Any] = {}  # pid -> Connection
        self._wake = trio.Event()
        self.cancel_scope = trio.CancelScope()
        self._last_stats: dict[str, Any] = {}
        self._resync: tuple[int, EncodedMessage] | None = None
        #: Server time of the last event, milliseconds (idle-room cleanup).
        self.last_active_ms = server.now_ms()

    @property
    def code(self) -> str:
        return self.room.code

    def broadcast(self, events: list[dict[str, Any]], *, exclude: Any = None) -> None:
        """Send room events to every member (each encoded once per encoding)."""
        for event in events:
            # A client that is behind needs only the newest playback state.
            key = COALESCE_PLAYBACK if event["type"] == "playback" else None
            self.send_all(EncodedMessage(event), exclude=exclude, coalesce_key=key)
        if events:
            self.last_active_ms = self.server.now_ms()
            if events[-1]["type"] not in _TIMER_NEUTRAL or len(events) > 1:
                self._wake.set()

    def send_all(
        self, message: EncodedMessage, *, exclude: Any = None, coalesce_key: str | None = None
    ) -> None:
        """Send *message* to every member but *exclude*: the same frame bytes to all
        members of one encoding, written to each socket in this call."""
        sent = 0
        for conn in list(self.members.values()):
            if conn is not exclude:
                conn.send(message, coalesce_key)
                sent += 1
        self.server.counters["deliveries"] += sent

    def poke(self) -> None:
        """Re-check the room's timers now (after a change that moved a deadline)."""
        self._wake.set()

    async def run_timers(self) -> None:
        """Apply grace expiries and ready timeouts when they fall due (runs until the
        room is closed)."""
        with self.cancel_scope:
            while True:
                deadline = self.room.next_deadline_ms()
                self._wake = trio.Event()
                if deadline is None:
                    await self._wake.wait()
                else:
                    delay_s = max(0.0, (deadline - self.server.now_ms()) / 1000.0)
                    with trio.move_on_after(delay_s):
                        await self._wake.wait()
                events = self.room.expire(self.server.now_ms())
                if events:
                    self.broadcast(events)

    def resync_message(self) -> EncodedMessage:
        """A ``state`` message with ``resync: true`` and the recent chat, for a member
        whose queued events were dropped; built once per room sequence number."""
        cached = self._resync
        if cached is not None and cached[0] == self.room.seq:
            return cached[1]
        message = EncodedMessage(
            {
                "type": "state",
                "request_id": None,
                "resync": True,
                "server_time_ms": self.server.now_ms(),
                **self.room.state(),
                "chat": self.room.chat_history(),
            }
        )
        self._resync = (self.room.seq, message)
        return message

    def stats_message(self) -> EncodedMessage | None:
        """A ``participant_stats`` message if drift, RTT or buffering changed since the
        last one, else ``None``."""
        stats = {
            p.id: {"drift_ms": p.drift_ms, "rtt_ms": p.rtt_ms, "buffering": p.buffering}
            for p in self.room.participants.values()
            if p.connected
        }
        if stats == self._last_stats:
            return None
        self._last_stats = stats
        return EncodedMessage(
            {"type": "participant_stats", "server_time_ms": self.server.now_ms(), "stats": stats}
        )


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
        self.connections: set[Any] = set()
        self.limits = RoomLimits(
            max_participants=config.max_participants_per_room,
            chat_history=config.chat_history,
            resume_buffer=config.resume_buffer,
            reconnect_grace_ms=config.reconnect_grace_s * 1000.0,
            ready_timeout_ms=config.ready_timeout_s * 1000.0,
            min_lead_ms=config.min_lead_ms,
            max_lead_ms=config.max_lead_ms,
            max_chat_chars=config.max_chat_chars,
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
        import re

        from pydantic import ValidationError

        from protocol.errors import E_INVALID_MESSAGE

        if code is None:
            code = secrets.token_urlsafe(6).replace("-", "x").replace("_", "y")
        if not re.fullmatch(ROOM_CODE_PATTERN, code):
            raise ProtocolError(
                E_INVALID_MESSAGE, f"room code {code!r} must match {ROOM_CODE_PATTERN}"
            )
        if not 1 <= len(name) <= 100:
            raise ProtocolError(E_INVALID_MESSAGE, "room name must be 1 to 100 characters")
        try:
            patch = RoomSettingsPatch.model_validate(settings or {}).model_dump()
            initial_media = media_dict(Media.model_validate(media)) if media else None
        except ValidationError as exc:
            raise ProtocolError(
                E_INVALID_MESSAGE, f"invalid room: {exc.errors()[0]['msg']}"
            ) from None
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
                from sync_server.connection import handle_socket

                for listener in listeners:
                    nursery.start_soon(
                        serve_listeners, listener, handle_socket, nursery, (self,)
                    )
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


def chat_message_public(row: Mapping[str, Any]) -> dict[str, Any]:
    """A stored chat row as sent on the socket."""
    return {
        "id": row["id"],
        "participant_id": row["participant_id"],
        "user_id": row["user_id"],
        "name": row["display_name"],
        "text": row["text"],
        "sent_at_ms": row["created_at_ms"],
        "edited_at_ms": row["edited_at_ms"],
    }


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

    Args:
        config: Settings.
        db: An open database; when ``None`` the one at ``config.db`` is opened (in a
            worker thread) and closed on exit.
        clock: Server clock (Unix epoch milliseconds); for tests.

    Error handling:
        A failure in one connection closes that connection (1011) and is logged; it
        never stops the server. On cancellation connections are closed with 1001 and
        changed rooms are written before returning.
    """
    gc.set_threshold(50_000, 50, 100)  # broadcast-heavy workloads; see BENCHMARKS.md
    own_db = db is None
    if db is None:
        db = await trio.to_thread.run_sync(data.open_database, config.db)
    try:
        server = SyncServer(config, db, secret="", clock=clock)
        server.secret = await open_server_secret(config, db, server.now_ms())
        await server.run(task_status=task_status)
    finally:
        if own_db:
            db.close()


__all__ = ["CLOSE_GOING_AWAY", "LiveRoom", "ServerClock", "SyncServer", "serve_sync"]
