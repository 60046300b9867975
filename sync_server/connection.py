"""One sync-socket connection: handshake, hello, the message loop and closing.

Each connection runs one task, a reader that decodes, validates and applies what the
client sends. Messages to the client are written straight to its socket by whoever
sends them (a broadcast writes the same once-built frame to every member), without
a task switch; only when the kernel does not take a frame at once does the rest wait
in the connection's bounded :class:`sync_server.outbox.Outbox`, drained by a flush
task that exists only while there is a backlog. So a client that stops reading
delays nobody; when its outbox overflows it is resynchronised or closed with 4009.

Containment: whatever one connection's task raises ends that connection only
(logged once, rate-limited); it never reaches the server's nursery.
"""

from __future__ import annotations

import enum
import itertools
import logging
import math
import socket
from typing import TYPE_CHECKING, Any

import trio

from data import NotFoundError
from data import chat as chat_store
from data import room_access as access_store
from data import users as user_store
from data import videos as video_store
from protocol import admission
from protocol import events as ev
from protocol import messages as m
from protocol.clock import correction_for
from protocol.codec import (
    JSON,
    EncodedMessage,
    choose_subprotocol,
    decode,
    encode,
    encoding_for_subprotocol,
    encoding_of_frame,
    websocket_frame,
)
from protocol.errors import (
    CLOSE_GOING_AWAY,
    CLOSE_HELLO_TIMEOUT,
    CLOSE_INTERNAL_ERROR,
    CLOSE_KICKED,
    CLOSE_NORMAL,
    CLOSE_REPLACED,
    CLOSE_ROOM_FULL,
    CLOSE_SERVER_FULL,
    CLOSE_TOO_SLOW,
    E_ALREADY_JOINED,
    E_CHAT_DISABLED,
    E_HELLO_TIMEOUT,
    E_INTERNAL,
    E_NOT_FOUND,
    E_NOT_JOINED,
    E_RATE_LIMITED,
    E_ROOM_FULL,
    E_SERVER_FULL,
    CloseConnection,
    ProtocolError,
    close_reason,
)
from protocol.ratelimit import TokenBucket
from protocol.reactions import BUCKET_S
from protocol.room import Participant
from protocol.tokens import (
    TYP_SESSION,
    issue_token,
)
from sync_server import moderation, polls, queue, reactions
from sync_server.control import CONTROL_PATH, handle_control_socket
from sync_server.live_room import LiveRoom, chat_message_public
from sync_server.outbox import Item, Outbox, OutboxOverflow
from sync_server.transport import (
    CLOSE_MESSAGE_TOO_BIG,
    ConnectionClosed,
    HandshakeFailed,
    ServerWebSocket,
)

if TYPE_CHECKING:
    from sync_server.server import SyncServer

logger = logging.getLogger(__name__)

_ids = itertools.count(1)

#: WebSocket paths the sync socket answers on; others get HTTP 404.
PATHS = ("/", "/ws", "/ws/", "/sync", "/sync/")

#: Most queued messages one write takes.
WRITE_BATCH = 64

#: Messages limited by the time-sync bucket instead of the general one.
_SYNC_BUCKET = {"time_sync", "pong"}


class ConnState(enum.Enum):
    """Where a connection is in its life: waiting for ``hello``, in a room, out of the
    room it left (no second hello), or closing (nothing more is read)."""

    AWAITING_HELLO = "awaiting_hello"
    JOINED = "joined"
    LEFT = "left"
    CLOSING = "closing"


class Connection:
    """State of one accepted connection.

    Attributes:
        id: Connection number, for logs.
        encoding: ``msgpack`` or ``json``; ``None`` until the first frame when no
            subprotocol was negotiated.
        live: The joined room, or ``None``.
        pid: The participant id once joined.
        last_received_s: ``trio.current_time()`` of the last message, seconds.
        writer_busy_since: ``trio.current_time()`` since which written bytes wait for
            the kernel without progress, seconds; ``None`` without a backlog.
    """

    def __init__(self, server: SyncServer, ws: ServerWebSocket, encoding: str | None) -> None:
        config = server.config
        now_s = trio.current_time()
        self.id = next(_ids)
        self.server = server
        self.ws = ws
        self.encoding = encoding
        self.fixed_encoding = encoding is not None
        self.live: LiveRoom | None = None
        self.pid: str | None = None
        self.last_received_s = now_s
        self.outbox = Outbox(config.send_queue_max)
        self.bucket = TokenBucket(config.rate_limit_per_s, config.rate_limit_burst, now_s)
        self.sync_bucket = TokenBucket(config.time_sync_per_s, config.time_sync_burst, now_s)
        self.state = ConnState.AWAITING_HELLO
        #: Cancelled to stop reading: at close, or at the hello deadline.
        self.reader_scope = trio.CancelScope()
        self.writer_busy_since: float | None = None
        self.close_code: int | None = None
        self.close_message = ""
        self._ping_nonce = 0
        self._ping_sent_ms: dict[int, float] = {}
        self._last_correction_s = -math.inf
        #: The connection's nursery, where a flush task starts when a backlog forms.
        self._nursery: trio.Nursery | None = None
        #: Set while a flush task runs; the task sets it when the backlog is gone.
        self._flushed: trio.Event | None = None

    def __repr__(self) -> str:
        where = f" {self.live.code}/{self.pid}" if self.live else ""
        return f"<conn {self.id}{where}>"

    # --- sending --------------------------------------------------------------------
    def send(self, item: Item, coalesce_key: str | None = None) -> None:
        """Send a message without waiting.

        Without a backlog the frame goes straight to the socket (the kernel takes it
        whole in the common case). Otherwise it joins the bounded outbox, where a
        queued message with the same *coalesce_key* is replaced.

        When the outbox is full, the server decides who is slow. If no written byte
        has left for ``slow_close_timeout_s`` the client stopped reading: it is closed
        with 4009. Otherwise the server itself fell behind (a join storm in a big
        room): what is queued is dropped and replaced by one ``state`` message with
        ``resync: true``, the whole room as it is now, so the client keeps up without
        being disconnected.
        """
        if self._flushed is None:
            if self.outbox.closed:
                return
            if isinstance(item, EncodedMessage):
                data = item.frame(self.encoding or JSON)
            else:
                data = websocket_frame(encode(item(), self.encoding or JSON))
            if not self.ws.write_nowait(data):
                self._start_flush()
            elif self.ws.closed:
                self._stop()
            return
        try:
            self.outbox.put_nowait(item, coalesce_key)
        except OutboxOverflow:
            busy = self.writer_busy_since
            stuck = busy is not None and (
                trio.current_time() - busy >= self.server.config.slow_close_timeout_s
            )
            if not stuck and self.live is not None:
                self.server.counters["resyncs"] += 1
                self.outbox.clear()
                self.outbox.put_nowait(self.live.resync_message())
                return
            self.server.counters["closed_too_slow"] += 1
            logger.warning("%r too slow: send queue overflowed, closing 4009", self)
            # Not fail(): this may run inside a broadcast, and detaching now would
            # send the others this participant's disconnect event (a newer seq)
            # before the message being broadcast. _serve_connection detaches once
            # it wakes; the closed outbox takes nothing more meanwhile.
            self.outbox.close(drop=True)
            if self.close_code is None:
                self.close_code = CLOSE_TOO_SLOW
                self.close_message = "client too slow: send queue overflowed"
            self._stop()

    def _start_flush(self) -> None:
        self._flushed = trio.Event()
        self.writer_busy_since = trio.current_time()
        if self._nursery is None:  # not serving yet: _serve_connection flushes
            return
        self._nursery.start_soon(self._flush)

    async def _flush(self) -> None:
        """Drain the transport's remainder, then the outbox, everything waiting going
        out in one write; ends when nothing is left (no task for an idle socket)."""
        flushed = self._flushed
        assert flushed is not None
        ws = self.ws
        try:
            while True:
                await ws.flush()
                self.writer_busy_since = trio.current_time()
                items = self.outbox.take_nowait(WRITE_BATCH)
                if not items:
                    break
                # Without a subprotocol the encoding is known from the first frame;
                # what goes out before one (a hello_timeout error, a ping) is JSON.
                encoding = self.encoding or JSON
                data = b"".join(
                    item.frame(encoding)
                    if isinstance(item, EncodedMessage)
                    else websocket_frame(encode(item(), encoding))
                    for item in items
                )
                ws.write_nowait(data)
        except ConnectionClosed:
            self.outbox.close(drop=True)
            self._stop()
        finally:
            self.writer_busy_since = None
            self._flushed = None
            flushed.set()

    @property
    def closing(self) -> bool:
        """Whether the connection must close (nothing more is read)."""
        return self.state is ConnState.CLOSING

    def send_message(self, message: ev.ServerMessage) -> None:
        """Send a message to this connection only (encoded for it alone)."""
        self.send(EncodedMessage(message))

    def send_error(self, exc: ProtocolError, request_id: Any) -> None:
        self.server.counters["errors_sent"] += 1
        self.send_message(
            ev.Error(code=exc.code, message=exc.message, request_id=request_id, details=exc.details)
        )

    def ack(self, request_id: Any, **fields: Any) -> None:
        if request_id is not None:
            self.send_message(ev.Ack(request_id=request_id, **fields))

    def send_ping(self) -> None:
        self._ping_nonce += 1
        now = self.server.now_ms()
        self._ping_sent_ms[self._ping_nonce] = now
        if len(self._ping_sent_ms) > 4:
            self._ping_sent_ms.pop(next(iter(self._ping_sent_ms)))
        self.send_message(ev.Ping(nonce=self._ping_nonce, server_time_ms=now))

    def fail(self, close_code: int, message: str) -> None:
        """Close this connection soon with *close_code*; stops receiving at once."""
        if self.close_code is None:
            self.close_code = close_code
            self.close_message = message
        self.detach()
        self._stop()

    def _stop(self) -> None:
        self.state = ConnState.CLOSING
        self.reader_scope.cancel()

    def detach(self, *, leave: bool = False) -> None:
        """Take the participant out of its room's fan-out (disconnect, or leave)."""
        live, pid = self.live, self.pid
        if live is None or pid is None:
            return
        self.live = None
        if live.members.get(pid) is self:
            del live.members[pid]
            now = self.server.now_ms()
            if leave:
                events = live.room.leave(pid, now_ms=now, reason="left")
            else:
                events = live.room.disconnect(pid, now_ms=now)
            live.broadcast(events)

    # --- the reader task ----------------------------------------------------------------
    async def reader(self) -> None:
        while True:
            try:
                frame = await self.ws.get_message()
            except ConnectionClosed as exc:
                if exc.code == CLOSE_MESSAGE_TOO_BIG and self.close_code is None:
                    self.close_code, self.close_message = exc.code, exc.reason
                self._stop()
                return
            received_ms = self.server.now_ms()
            self.last_received_s = trio.current_time()
            self.server.counters["messages_in"] += 1
            await self.handle_frame(frame, received_ms)
            if self.closing:
                return

    # --- dispatch ---------------------------------------------------------------------
    async def handle_frame(self, frame: bytes | str, received_ms: float) -> None:
        """Decode, validate, rate-limit and apply one frame; answer errors in band."""
        if self.encoding is None or (not self.fixed_encoding and self.live is None):
            self.encoding = encoding_of_frame(frame)
        raw: Any = None
        try:
            raw = decode(frame, self.encoding if self.fixed_encoding else encoding_of_frame(frame))
            kind = raw.get("type") if isinstance(raw, dict) else None
            # Checked before any use: a list or map here is unhashable.
            bucket = (
                self.sync_bucket if isinstance(kind, str) and kind in _SYNC_BUCKET else self.bucket
            )
            wait_ms = bucket.take(trio.current_time())
            if wait_ms > 0:
                raise ProtocolError(
                    E_RATE_LIMITED,
                    f"more than {bucket.rate_per_s:g} messages per second; slow down",
                    {"retry_after_ms": round(wait_ms)},
                )
            msg = m.parse_client_message(raw)
            await self.apply(msg, received_ms)
        except CloseConnection as exc:
            self.send_error(ProtocolError(exc.error_code, exc.message), m.request_id_of(raw))
            self.fail(exc.close_code, exc.message)
        except ProtocolError as exc:
            self.send_error(exc, m.request_id_of(raw))
        except NotFoundError as exc:  # a chat message deleted while this request ran
            self.send_error(ProtocolError(E_NOT_FOUND, str(exc)), m.request_id_of(raw))
        except Exception:
            logger.exception("%r: unexpected error handling a message", self)
            self.send_error(
                ProtocolError(E_INTERNAL, "the server failed; the request was not applied"),
                m.request_id_of(raw),
            )

    async def apply(self, msg: Any, received_ms: float) -> None:
        """Apply one validated client message (dispatch on its class)."""
        match msg:
            case m.TimeSync():
                self._time_sync(msg, received_ms)
                return
            case m.Ping():
                self.send_message(
                    ev.Pong(nonce=msg.nonce, request_id=msg.id, server_time_ms=received_ms)
                )
                return
            case m.Pong():
                self._pong(msg, received_ms)
                return
            case m.Hello():
                if self.state is not ConnState.AWAITING_HELLO:
                    raise ProtocolError(
                        E_ALREADY_JOINED, "this connection has already joined a room"
                    )
                await self.hello(msg)
                self.state = ConnState.JOINED
                return
        live, pid = self.live, self.pid
        if live is None or pid is None:
            raise ProtocolError(E_NOT_JOINED, f"send hello before {msg.type}")
        match msg:
            case m.Leave():
                await self.on_leave(live, pid, msg)
            case m.Play() | m.Pause() | m.Seek() | m.SetRate() | m.ChangeMedia():
                await self.on_playback(live, pid, msg)
            case m.PositionReport():
                await self.on_position_report(live, pid, msg)
            case m.BufferState():
                await self.on_buffer_state(live, pid, msg)
            case m.ChatSend():
                await self.on_chat_send(live, pid, msg)
            case m.ChatEdit():
                await self.on_chat_edit(live, pid, msg)
            case m.ChatDelete():
                await self.on_chat_delete(live, pid, msg)
            case m.Typing():
                await self.on_typing(live, pid, msg)
            case m.Reaction():
                await self.on_reaction(live, pid, msg)
            case m.UpdateSettings():
                await self.on_update_settings(live, pid, msg)
            case m.SetRole():
                await self.on_set_role(live, pid, msg)
            case m.Kick():
                await self.on_kick(live, pid, msg)
            case m.PollCreate():
                await self.on_poll_create(live, pid, msg)
            case m.PollVote():
                polls.vote_poll(live, pid, msg.poll_id, msg.choices)
                self.ack(msg.id, poll_id=msg.poll_id, choices=sorted(msg.choices))
            case m.PollClose():
                closed = await polls.close_poll(live, pid, msg.poll_id)
                self.ack(msg.id, poll_id=msg.poll_id, seq=closed.seq)
                await moderation.record(live, pid, "poll_close", target=str(msg.poll_id))
            case m.QueueAdd() | m.QueueRemove() | m.QueueMove() | m.QueueSkip() | m.VoteSkip():
                await self.on_queue(live, pid, msg)
            case m.Mute() | m.Unmute() | m.Ban() | m.Unban():
                events, target = moderation.apply(live, pid, msg)
                live.broadcast(events)
                self.ack(msg.id, seq=live.room.seq)
                details = {"duration_s": getattr(msg, "duration_s", None)}
                await moderation.record(live, pid, msg.type, target=target, details=details)
            case m.GetReactionTimeline():
                await self.on_get_reaction_timeline(live, pid, msg)
            case m.GetState():
                await self.on_get_state(live, pid, msg)
            case m.GetParticipants():
                await self.on_get_participants(live, pid, msg)
            case _:  # a client type without a handler is a bug, caught by a test
                raise AssertionError(f"no handler for {msg.type}")

    # --- pre-join messages -------------------------------------------------------------
    def _time_sync(self, msg: m.TimeSync, received_ms: float) -> None:
        server = self.server

        def reply() -> dict[str, Any]:
            # Built just before the frame is written (at once, or by the flush task
            # after a backlog), so server_send_ms is as late as it can be (RFC 5905:
            # t3 is the transmit timestamp).
            return ev.TimeSyncReply(
                request_id=msg.id,
                client_send_ms=msg.client_send_ms,
                server_recv_ms=received_ms,
                server_send_ms=server.now_ms(),
            )

        self.send(reply)
        if self.live is not None and self.pid is not None:
            p = self.live.room.participants.get(self.pid)
            if p is not None:
                if msg.offset_ms is not None:
                    p.offset_ms = round(msg.offset_ms, 2)
                if msg.rtt_ms is not None and p.rtt_ms is None:
                    p.rtt_ms = round(msg.rtt_ms, 2)

    def _pong(self, msg: m.Pong, received_ms: float) -> None:
        sent = self._ping_sent_ms.pop(msg.nonce, None) if isinstance(msg.nonce, int) else None
        if sent is not None and self.live is not None and self.pid is not None:
            self.live.room.record_rtt(self.pid, max(0.0, received_ms - sent))

    # --- hello ------------------------------------------------------------------------------
    async def hello(self, msg: m.Hello) -> None:
        """Admit the connection to a room (the rules: :mod:`protocol.admission`).

        Raises:
            CloseConnection: a refusal that closes the connection.
            ProtocolError: a refusal that leaves it open (it may say hello again).
        """
        server, config = self.server, self.server.config
        entrant = admission.identify(msg, secret=server.secret, now_s=server.now_ms() / 1000.0)
        if entrant.token_id is not None and await server.db.read(
            user_store.is_token_revoked, entrant.token_id
        ):
            raise admission.revoked()
        live = server.rooms.get(msg.room)
        admission.check_server_entry(
            entrant,
            msg.room,
            live.room if live else None,
            creating=msg.create is not None,
            allow_guests=config.allow_guests,
            guest_rooms=config.guest_rooms,
        )
        if live is None:
            assert msg.create is not None  # check_server_entry refused otherwise
            try:
                live = await server.create_room(
                    msg.room,
                    msg.create.name,
                    settings=msg.create.settings.model_dump(),
                    media=m.media_dict(msg.create.media) if msg.create.media else None,
                    owner_user_id=entrant.user_id,
                )
            except ProtocolError as exc:
                if exc.code == E_SERVER_FULL:
                    raise CloseConnection(CLOSE_SERVER_FULL, exc.code, exc.message) from None
                raise
        room = live.room
        # Password and approval rooms are entered through the web app
        # (POST /api/rooms/join/), which records the admission.
        may_enter = admission.is_rejoining(entrant, room) or await server.db.read(
            access_store.may_enter, room.code, entrant.user_id
        )
        admission.check_room_entry(entrant, room, may_enter=may_enter, now_ms=server.now_ms())
        resume_pid, user_id, name, guest = (
            entrant.resume_pid,
            entrant.user_id,
            entrant.name,
            entrant.guest,
        )
        resume_boot = entrant.resume_boot
        now = server.now_ms()
        resumed = False
        events: list[ev.RoomEvent]
        if resume_pid is not None and resume_pid in room.participants:
            old = live.members.get(resume_pid)
            if old is not None and old is not self:
                old.fail(CLOSE_REPLACED, "replaced by a newer connection")
            events = room.reconnect(resume_pid, now_ms=now)
            participant = room.participants[resume_pid]
            resumed = True
        else:
            pid = resume_pid or _new_pid(room.participants)
            try:
                participant, events = room.join(
                    pid, name=name, user_id=user_id, guest=guest, now_ms=now
                )
            except ProtocolError as exc:
                if exc.code == E_ROOM_FULL:
                    raise CloseConnection(CLOSE_ROOM_FULL, exc.code, exc.message) from None
                raise
        self.live, self.pid = live, participant.id
        live.members[participant.id] = self
        missed: list[ev.RoomEvent] | None = None
        if msg.resume is not None:
            # Only this run's events are kept; a session from before a restart
            # gets the full state (the restored room may differ from what it saw).
            if resume_boot == server.boot_id:
                missed = room.events_since(msg.resume.last_seq)
        welcome = self._welcome(participant, msg, resumed, missed)
        self.send_message(welcome)
        self.reader_scope.deadline = math.inf  # joined: the hello deadline is met
        live.broadcast(events, exclude=self)
        self.send_ping()
        logger.info(
            "%r %s %s (%s, %s)",
            self,
            "resumed" if resumed else "joined",
            room.code,
            participant.name,
            participant.role,
        )

    def _welcome(
        self,
        participant: Participant,
        msg: m.Hello,
        resumed: bool,
        missed: list[ev.RoomEvent] | None,
    ) -> ev.Welcome:
        server, config = self.server, self.server.config
        assert self.live is not None
        room = self.live.room
        session = issue_token(
            server.secret,
            {
                "sub": participant.user_id or f"guest:{participant.id}",
                "room": room.code,
                "pid": participant.id,
                "name": participant.name,
                "guest": participant.guest,
                "boot": server.boot_id,
            },
            typ=TYP_SESSION,
            now_s=server.now_ms() / 1000.0,
            ttl_s=config.session_ttl_s,
        )
        state = room.state()
        if msg.resume is None:
            replay = None
        elif missed is None:
            replay = "full"
        else:
            replay = "events"
        return ev.Welcome(
            request_id=msg.id,
            protocol=m.PROTOCOL_VERSION,
            server_time_ms=server.now_ms(),
            participant=participant.public(),
            session=session,
            resumed=resumed,
            replay=replay,
            missed=missed or [],
            chat=room.chat_history(),
            poll_votes=room.polls.votes_of(room.voter_key(participant.id)),
            web_url=server.web_url,
            **state,
            limits={
                "max_frame_bytes": config.max_frame_bytes,
                "max_chat_chars": config.max_chat_chars,
                "rate_limit_per_s": config.rate_limit_per_s,
                "rate_limit_burst": config.rate_limit_burst,
                "heartbeat_interval_s": config.heartbeat_interval_s,
                "heartbeat_timeout_s": config.heartbeat_timeout_s,
                "reconnect_grace_s": config.reconnect_grace_s,
            },
        )

    # --- joined messages -----------------------------------------------------------------
    async def on_leave(self, live: LiveRoom, pid: str, msg: m.Leave) -> None:
        self.ack(msg.id)
        self.state = ConnState.LEFT
        self.detach(leave=True)
        self.fail(CLOSE_NORMAL, "left the room")

    async def on_playback(self, live: LiveRoom, pid: str, msg: Any) -> None:
        room, now = live.room, self.server.now_ms()
        if msg.type == "play":
            events = room.play(pid, position_s=msg.position_s, now_ms=now)
        elif msg.type == "pause":
            events = room.pause(pid, now_ms=now)
        elif msg.type == "seek":
            events = room.seek(pid, position_s=msg.position_s, now_ms=now)
        elif msg.type == "set_rate":
            events = room.set_rate(pid, rate=msg.rate, now_ms=now)
        else:
            room.require_control(pid, "change_media")  # before any lookup
            if msg.video_id is not None:
                p = room.participants.get(pid)
                media = await self.server.db.read(
                    video_store.media_for_room, msg.video_id, p.user_id if p else None
                )
                if media is None:
                    raise ProtocolError(E_NOT_FOUND, f"no video {msg.video_id} that rooms may play")
                now = self.server.now_ms()  # the lookup took a moment
            else:
                media = m.media_dict(msg.media)
                media.pop("video_id", None)  # only the server vouches for a library video
            events = room.change_media(pid, media=media, now_ms=now)
        live.broadcast(events)
        self.ack(msg.id, seq=room.seq, playback=room.playback.to_dict())
        if events:
            details: dict[str, Any] = {
                "position_s": room.playback.position_s,
                "rate": room.playback.rate,
            }
            if msg.type == "change_media":
                details["url"] = (room.playback.media or {}).get("url")
            await moderation.record(live, pid, msg.type, details=details)

    async def on_position_report(self, live: LiveRoom, pid: str, msg: m.PositionReport) -> None:
        room = live.room
        drift = room.report_position(
            pid, position_s=msg.position_s, server_time_ms=msg.server_time_ms
        )
        self.ack(msg.id, drift_ms=None if drift is None else round(drift, 1))
        if drift is None or room.playback.paused:
            return
        config = self.server.config
        now_s = trio.current_time()
        if now_s - self._last_correction_s < config.correction_cooldown_s:
            return
        fix = correction_for(
            drift,
            room_rate=room.playback.rate,
            threshold_ms=config.drift_threshold_ms,
            seek_threshold_ms=config.drift_seek_ms,
        )
        if fix is None:
            return
        self._last_correction_s = now_s
        now = self.server.now_ms()
        body = ev.DriftCorrection(
            action=fix.action,
            drift_ms=round(fix.drift_ms, 1),
            server_time_ms=now,
            position_s=room.playback.position_at(now),
        )
        if fix.action == "rate":
            body["rate"] = fix.rate
            body["duration_ms"] = fix.duration_ms
        self.send_message(body)

    async def on_buffer_state(self, live: LiveRoom, pid: str, msg: m.BufferState) -> None:
        live.broadcast(
            live.room.set_buffering(pid, buffering=msg.buffering, now_ms=self.server.now_ms())
        )
        self.ack(msg.id)

    async def on_chat_send(self, live: LiveRoom, pid: str, msg: m.ChatSend) -> None:
        p = live.room.check_chat(pid, msg.text)
        now = self.server.now_ms()
        live.room.check_voice(pid, now, "chat")
        live.room.check_slow_mode(pid, now)
        fields = {
            "room_code": live.code,
            "participant_id": pid,
            "user_id": p.user_id,
            "display_name": p.name,
            "text": msg.text,
            "created_at_ms": int(self.server.now_ms()),
        }

        def publish(row: dict[str, Any]) -> int:
            # Run by the chat writer in storage order, right after the commit.
            events = live.room.add_chat(chat_message_public(row))
            live.broadcast(events)
            return int(events[-1]["seq"])

        row, seq = await self.server.chat_writer.store(fields, publish)
        self.ack(msg.id, message_id=row["id"], seq=seq)

    async def on_chat_edit(self, live: LiveRoom, pid: str, msg: m.ChatEdit) -> None:
        stored = await self._stored_chat(live, msg.message_id)
        live.room.check_chat_edit(pid, stored["participant_id"], msg.text)
        live.room.check_voice(pid, self.server.now_ms(), "chat")
        row = await self.server.db.write(
            lambda conn: chat_store.edit_message(
                conn,
                msg.message_id,
                text=msg.text,
                edited_at_ms=int(self.server.now_ms()),
                room_code=live.code,
            )
        )
        events = live.room.edit_chat(chat_message_public(row))
        live.broadcast(events)
        self.ack(msg.id, message_id=row["id"], seq=events[-1]["seq"])

    async def on_chat_delete(self, live: LiveRoom, pid: str, msg: m.ChatDelete) -> None:
        stored = await self._stored_chat(live, msg.message_id)
        live.room.check_chat_delete(pid, stored["participant_id"])
        try:
            await self.server.db.write(
                lambda conn: chat_store.delete_message(
                    conn,
                    msg.message_id,
                    deleted_at_ms=int(self.server.now_ms()),
                    deleted_by=pid,
                    room_code=live.code,
                )
            )
        except NotFoundError:
            raise ProtocolError(
                E_NOT_FOUND, f"no chat message {msg.message_id} in this room"
            ) from None
        events = live.room.delete_chat(msg.message_id, pid)
        live.broadcast(events)
        await self._refill_chat_history(live, msg.message_id)
        self.ack(msg.id, message_id=msg.message_id, seq=events[-1]["seq"])
        if stored["participant_id"] != pid:
            await moderation.record(
                live,
                pid,
                "chat_delete",
                target=stored["participant_id"],
                details={"message_id": msg.message_id},
            )

    async def _refill_chat_history(self, live: LiveRoom, deleted_id: int) -> None:
        """Top the history up with older stored messages after a delete, so a joiner
        gets the last ``chat_history`` messages that are not deleted, as after a
        restart (:func:`data.chat.recent_messages`), not one fewer per delete."""
        limit = self.server.config.chat_history
        history = live.room.chat_history()
        if len(history) >= limit:
            return
        # Only messages older than any in the history: newer ones may be on their
        # way in (stored, not yet added) and must not be added twice.
        before = min([deleted_id, *(m["id"] for m in history)])
        rows = await self.server.db.read(
            lambda conn: chat_store.list_messages(
                conn, live.code, before_id=before, limit=limit - len(history)
            )
        )
        history = live.room.chat_history()
        oldest = min((m["id"] for m in history), default=before)
        older = [chat_message_public(r) for r in reversed(rows) if r["id"] < oldest]
        live.room.load_chat(older + history)

    async def _stored_chat(self, live: LiveRoom, message_id: int) -> dict[str, Any]:
        try:
            row: dict[str, Any] = dict(
                await self.server.db.read(chat_store.get_message, message_id)
            )
        except NotFoundError:
            row = {}
        if not row or row["room_code"] != live.code or row["deleted_at_ms"] is not None:
            raise ProtocolError(E_NOT_FOUND, f"no chat message {message_id} in this room")
        return row

    async def on_typing(self, live: LiveRoom, pid: str, msg: m.Typing) -> None:
        if not live.room.settings.chat_enabled:
            # An error, not silence: a request with an id must get an answer.
            raise ProtocolError(E_CHAT_DISABLED, f"chat is turned off in room {live.code}")
        live.send_all(
            EncodedMessage(ev.Typing(participant_id=pid, typing=msg.typing)),
            exclude=self,
        )
        self.ack(msg.id)

    async def on_reaction(self, live: LiveRoom, pid: str, msg: m.Reaction) -> None:
        reaction, store_due = live.room.react(pid, msg.emoji, now_ms=self.server.now_ms())
        live.send_all(EncodedMessage(reaction))
        if store_due:
            live.poke()
        self.ack(msg.id)

    async def on_queue(self, live: LiveRoom, pid: str, msg: Any) -> None:
        events = await queue.apply(live, pid, msg)
        live.broadcast(events)
        self.ack(msg.id, seq=live.room.seq, version=live.room.queue.version)
        if msg.type in ("queue_remove", "queue_move", "queue_skip"):
            target = str(getattr(msg, "item_id", "") or "") or None
            await moderation.record(live, pid, msg.type, target=target)

    async def on_get_reaction_timeline(
        self, live: LiveRoom, pid: str, msg: m.GetReactionTimeline
    ) -> None:
        key, counts = await reactions.timeline_of(live)
        self.send_message(
            ev.ReactionTimeline(request_id=msg.id, media_key=key, bucket_s=BUCKET_S, counts=counts)
        )

    async def on_update_settings(self, live: LiveRoom, pid: str, msg: m.UpdateSettings) -> None:
        events = live.room.update_settings(
            pid, msg.settings.model_dump(), now_ms=self.server.now_ms()
        )
        live.broadcast(events)
        self.ack(msg.id, settings=live.room.settings.to_dict())
        if events:
            await moderation.record(live, pid, "update_settings", details=events[0]["changed"])

    async def on_set_role(self, live: LiveRoom, pid: str, msg: m.SetRole) -> None:
        events = live.room.set_role(pid, msg.participant_id, msg.role)
        live.broadcast(events)
        self.ack(msg.id)
        if events:
            await moderation.record(
                live, pid, "set_role", target=msg.participant_id, details={"role": msg.role}
            )

    async def on_kick(self, live: LiveRoom, pid: str, msg: m.Kick) -> None:
        target = live.members.get(msg.participant_id)
        events = live.room.kick(pid, msg.participant_id, now_ms=self.server.now_ms())
        if target is not None:
            del live.members[msg.participant_id]
            target.live = None
            target.fail(CLOSE_KICKED, "removed from the room by its host")
        live.broadcast(events)
        self.ack(msg.id)
        await moderation.record(live, pid, "kick", target=msg.participant_id)

    async def on_poll_create(self, live: LiveRoom, pid: str, msg: m.PollCreate) -> None:
        opened = await polls.create_poll(
            live,
            pid,
            question=msg.question,
            options=list(msg.options),
            multiple=msg.multiple,
            anonymous=msg.anonymous,
            duration_s=msg.duration_s,
        )
        self.ack(msg.id, poll_id=opened["poll"]["id"], seq=opened.seq)

    async def on_get_state(self, live: LiveRoom, pid: str, msg: m.GetState) -> None:
        self.send_message(
            ev.State(request_id=msg.id, server_time_ms=self.server.now_ms(), **live.room.state())
        )

    async def on_get_participants(self, live: LiveRoom, pid: str, msg: m.GetParticipants) -> None:
        self.send_message(
            ev.Participants(
                request_id=msg.id,
                seq=live.room.seq,
                host_id=live.room.host_id,
                participants=live.room.public_participants(),
            )
        )


def _new_pid(taken: dict[str, Any]) -> str:
    import secrets

    while True:
        pid = secrets.token_urlsafe(6)
        if pid not in taken:
            return pid


async def handle_socket(server: SyncServer, sock: socket.socket) -> None:
    """Serve one accepted TCP connection from handshake to close.

    Error handling:
        Nothing escapes but ``trio.Cancelled``: whatever fails here ends this
        connection only. An unexpected error is logged once with the connection id
        (rate-limited, :meth:`SyncServer.log_failure`) and the connection is closed
        with 1011. The socket is always closed.
    """
    ws = ServerWebSocket(sock, max_message_bytes=server.config.max_frame_bytes)
    try:
        with trio.move_on_after(server.config.hello_timeout_s):
            await ws.receive_request()
        if not ws.path:  # no complete handshake in time
            ws.abort()
            return
        path = ws.path.split("?", 1)[0]
        if path == CONTROL_PATH:
            try:
                await handle_control_socket(server, ws)
            finally:
                with trio.CancelScope(shield=True):
                    await ws.aclose(CLOSE_NORMAL, timeout_s=1.0)
            return
        if path not in PATHS:
            await ws.reject(404, body=b"not a sync socket path; connect to /ws\n")
            return
        subprotocol = choose_subprotocol(ws.proposed_subprotocols)
        await ws.accept(subprotocol)
    except (HandshakeFailed, ConnectionClosed):
        ws.abort()
        return
    except Exception as exc:
        server.log_failure("handshake on %s failed", sock, exc)
        ws.abort()
        return
    except BaseException:
        ws.abort()
        raise
    await _serve_accepted(server, Connection(server, ws, encoding_for_subprotocol(subprotocol)))


async def _serve_accepted(server: SyncServer, conn: Connection) -> None:
    server.counters["connections_total"] += 1
    if len(server.connections) >= server.config.max_connections:
        # Refused at once: a socket that never says hello must not hold a place.
        conn.send_error(
            ProtocolError(
                E_SERVER_FULL, f"the server has {server.config.max_connections} connections"
            ),
            None,
        )
        conn.fail(CLOSE_SERVER_FULL, "server full")
    server.connections.add(conn)
    cancelled = False
    try:
        await _serve_connection(conn)
    except Exception as exc:
        server.log_failure("%r failed; closing 1011", conn, exc)
        conn.close_code = CLOSE_INTERNAL_ERROR
        conn.close_message = "internal error"
    except BaseException as exc:
        # The nursery in _serve_connection delivers a shutdown's trio.Cancelled
        # wrapped in a BaseExceptionGroup, so it is recognised here, not by type.
        if _is_cancellation(exc):
            cancelled = True
            conn.close_code = CLOSE_GOING_AWAY
            conn.close_message = "server shutting down"
        else:
            server.log_failure("%r failed; closing 1011", conn, exc)
            conn.close_code = CLOSE_INTERNAL_ERROR
            conn.close_message = "internal error"
        if cancelled:
            raise
    finally:
        server.connections.discard(conn)
        with trio.CancelScope(shield=True):
            try:
                if not cancelled:
                    conn.detach()
            except Exception as exc:
                server.log_failure("%r: detach failed", conn, exc)
            code = conn.close_code or CLOSE_NORMAL
            timeout_s = 1.0 if cancelled else server.config.slow_close_timeout_s
            await conn.ws.aclose(code, close_reason(conn.close_message or ""), timeout_s=timeout_s)


def _is_cancellation(exc: BaseException) -> bool:
    """Whether *exc* is trio.Cancelled, alone or in (nested) groups of nothing else."""
    if isinstance(exc, BaseExceptionGroup):
        return all(_is_cancellation(e) for e in exc.exceptions)
    return isinstance(exc, trio.Cancelled)


async def _serve_connection(conn: Connection) -> None:
    """Read in this task until the connection must close, then let a running flush
    task send what is queued (not for a too-slow client) for at most
    ``slow_close_timeout_s``.

    One task per connection; a second one only while the socket has a backlog. The
    hello deadline is the reader's cancel scope deadline, not a task of its own.
    """
    config = conn.server.config
    async with trio.open_nursery() as nursery:
        conn._nursery = nursery
        if conn._flushed is not None:  # a backlog from before the nursery existed
            nursery.start_soon(conn._flush)
        if not conn.closing:
            conn.reader_scope.deadline = trio.current_time() + config.hello_timeout_s
            with conn.reader_scope:
                await conn.reader()
            if conn.reader_scope.cancelled_caught and not conn.closing:
                # The deadline passed before any hello was accepted.
                conn.send_error(
                    ProtocolError(E_HELLO_TIMEOUT, f"no hello within {config.hello_timeout_s:g} s"),
                    None,
                )
                conn.fail(CLOSE_HELLO_TIMEOUT, "no hello received in time")
        conn.detach()
        conn.outbox.close(drop=conn.close_code == CLOSE_TOO_SLOW)
        flushed = conn._flushed
        if flushed is not None and conn.close_code != CLOSE_TOO_SLOW:
            with trio.move_on_after(config.slow_close_timeout_s):
                await flushed.wait()
        nursery.cancel_scope.cancel()
    conn._nursery = None


__all__ = ["PATHS", "Connection", "handle_socket"]
