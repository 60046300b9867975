"""A trio client of the sync protocol, for tests, bots and benchmarks.

Example::

    async with open_sync_client("ws://127.0.0.1:8765/ws", room="demo",
                                display_name="bot") as client:
        await client.sync_time()
        await client.chat("hello")
        event = await client.wait_for("playback")
        print(client.position_s())

The client's clock is injectable (``clock``: a callable returning milliseconds), so
a test can give it any offset and rate; everything it computes about the server goes
through its :class:`protocol.clock.ClockEstimator`.
"""

from __future__ import annotations

import itertools
import math
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urljoin

import trio
from trio_websocket import ConnectionClosed, WebSocketConnection, open_websocket_url

from protocol.clock import ClockEstimate, ClockEstimator, ClockSample, position_at
from protocol.codec import (
    JSON,
    MSGPACK,
    SUBPROTOCOL_JSON,
    SUBPROTOCOL_MSGPACK,
    decode,
    encode,
)
from protocol.errors import WatchpartyError
from protocol.messages import PROTOCOL_VERSION


class ServerError(WatchpartyError):
    """The server answered a request with an ``error`` message.

    Attributes:
        code: The error code (``protocol.errors.E_*``).
        message: The server's text.
        details: Optional details (per-field errors, ``retry_after_ms``).
    """

    def __init__(self, body: dict[str, Any]) -> None:
        super().__init__(f"{body.get('code')}: {body.get('message')}")
        self.code = body.get("code")
        self.message = body.get("message")
        self.details = body.get("details")


class ClientClosed(WatchpartyError):
    """The connection closed; ``code`` and ``reason`` are the close frame's."""

    def __init__(self, code: int | None, reason: str | None) -> None:
        super().__init__(f"connection closed: {code} {reason or ''}".strip())
        self.code = code
        self.reason = reason


#: A sample whose offset differs from the estimate by more than this (and more than its
#: own delay) means the client's clock was stepped, milliseconds.
CLOCK_STEP_MS = 100.0


def wall_clock_ms() -> float:
    """Unix time in milliseconds, read from the wall clock (CLOCK_REALTIME).

    NTP, an administrator or a suspend can step it; :class:`SyncClient` notices a step
    (``clock_steps``) and starts its estimate over. :func:`anchored_clock` avoids steps.
    """
    return time.time() * 1000.0


def anchored_clock() -> Callable[[], float]:
    """A clock in Unix-epoch milliseconds that never steps: the wall clock read once,
    advanced by CLOCK_MONOTONIC.

    The default clock of :func:`open_sync_client`. The offset estimate then only has to
    follow the monotonic clock's rate error (tens of ppm), never a step. Its reading is
    near Unix time, so logs stay readable; the protocol needs no more than that.
    """
    anchor_ms = time.time() * 1000.0 - time.monotonic() * 1000.0

    def clock() -> float:
        return anchor_ms + time.monotonic() * 1000.0

    return clock


class SyncClient:
    """A joined connection. Build it with :func:`open_sync_client`.

    Attributes:
        welcome: The server's ``welcome`` message.
        participant_id: This participant's id.
        session: The resume session token.
        seq: The newest room sequence number seen.
        playback: The current playback state (dict, see PROTOCOL.md).
        participants: Participants by id.
        chat_log: Chat messages seen (history, then live), oldest first.
        estimator: The clock estimator fed by time sync.
        events: Every message received after the welcome (bounded, newest kept).
        close_code: The close code once the connection closed, else ``None``.
    """

    def __init__(
        self,
        ws: WebSocketConnection,
        *,
        encoding: str,
        clock: Callable[[], float],
        max_events: int = 10_000,
    ) -> None:
        self.ws = ws
        self.encoding = encoding
        self.clock = clock
        self.estimator = ClockEstimator()
        self.welcome: dict[str, Any] = {}
        self.participant_id = ""
        self.session = ""
        self.seq = 0
        self.playback: dict[str, Any] = {}
        self.participants: dict[str, dict[str, Any]] = {}
        self.host_id: str | None = None
        self.settings: dict[str, Any] = {}
        self.chat_log: list[dict[str, Any]] = []
        self.events: deque[dict[str, Any]] = deque(maxlen=max_events)
        self._event_index = 0  # index of events[0] in the whole stream
        self._cursor = 0
        self._arrived = trio.lowlevel.ParkingLot()
        self._pending: dict[Any, trio.MemorySendChannel[dict[str, Any]]] = {}
        self._ids = itertools.count(1)
        self._sync_sent: dict[Any, float] = {}
        self._sync_done = trio.lowlevel.ParkingLot()
        self.close_code: int | None = None
        self.close_reason: str | None = None
        self.auto_pong = True
        #: How many steps of the local clock time sync has detected (and started over).
        self.clock_steps = 0
        self._closed = trio.Event()
        self._nursery: trio.Nursery | None = None

    # --- low level ---------------------------------------------------------------------
    async def send(self, message: dict[str, Any]) -> None:
        """Send one message as is."""
        await self.ws.send_message(encode(message, self.encoding))

    async def request(self, message: dict[str, Any], *, timeout_s: float = 10.0) -> dict[str, Any]:
        """Send *message* with a fresh ``id`` and wait for the answer carrying it.

        Returns:
            The answer (``ack``, ``state``, ``participants``, ...).

        Raises:
            ServerError: the answer was an ``error``.
            ClientClosed: the connection closed first.
            trio.TooSlowError: no answer within *timeout_s* seconds.
        """
        rid = next(self._ids)
        send, recv = trio.open_memory_channel[dict[str, Any]](1)
        self._pending[rid] = send
        try:
            await self.send({**message, "id": rid})
            with trio.fail_after(timeout_s):
                try:
                    reply = await recv.receive()
                except trio.EndOfChannel:
                    raise ClientClosed(self.close_code, self.close_reason) from None
        finally:
            self._pending.pop(rid, None)
        if reply.get("type") == "error":
            raise ServerError(reply)
        return reply

    # --- the reader task ---------------------------------------------------------------
    async def _read_loop(self) -> None:
        try:
            while True:
                frame = await self.ws.get_message()
                received_local_ms = self.clock()
                self._on_message(decode(frame, self.encoding), received_local_ms)
        except ConnectionClosed as exc:
            reason = exc.reason
            self.close_code = reason.code if reason else None
            self.close_reason = reason.reason if reason else None
        finally:
            for send in self._pending.values():
                send.close()
            self._arrived.unpark_all()
            self._sync_done.unpark_all()

    def _on_message(self, msg: dict[str, Any], received_local_ms: float) -> None:
        kind = msg.get("type")
        if kind == "time_sync_reply":
            t0 = self._sync_sent.pop(msg.get("request_id"), None)
            if t0 is not None:
                sample = ClockSample(
                    t0, msg["server_recv_ms"], msg["server_send_ms"], received_local_ms
                )
                estimate = self.estimator.estimate
                if estimate is not None and abs(
                    sample.offset_ms - estimate.offset_at(sample.t3)
                ) > max(CLOCK_STEP_MS, sample.delay_ms):
                    # The local clock was stepped (NTP, a suspend): the samples kept
                    # describe another clock. An offset this far off cannot come from
                    # the path, whose asymmetry is at most the delay.
                    self.clock_steps += 1
                    self.estimator.reset()
                self.estimator.add(sample)
                self._sync_done.unpark_all()
            elif msg.get("request_id") in self._pending:
                # A time_sync sent with request(): answer it like any other request.
                self._pending[msg["request_id"]].send_nowait(msg)
            return
        if kind == "ping" and self.auto_pong:
            self._pong_later(msg.get("nonce"))
        self._apply(msg)
        rid = msg.get("request_id")
        if rid is not None and rid in self._pending:
            self._pending[rid].send_nowait(msg)
        if len(self.events) == self.events.maxlen:
            self._event_index += 1
        self.events.append(msg)
        self._arrived.unpark_all()

    def _pong_later(self, nonce: Any) -> None:
        if self._nursery is not None:
            self._nursery.start_soon(self._send_quietly, {"type": "pong", "nonce": nonce})

    async def _send_quietly(self, message: dict[str, Any]) -> None:
        try:
            await self.send(message)
        except ConnectionClosed:
            pass

    def _apply(self, msg: dict[str, Any]) -> None:
        """Keep the local copy of the room up to date."""
        kind = msg.get("type")
        seq = msg.get("seq")
        if isinstance(seq, int) and kind not in ("state", "welcome"):
            if seq <= self.seq:
                return  # already reflected (welcome state includes it)
            self.seq = seq
        if kind == "playback":
            self.playback = msg["state"]
        elif kind in ("participant_joined", "participant_updated"):
            p = msg["participant"]
            self.participants[p["id"]] = p
        elif kind == "participant_left":
            self.participants.pop(msg["participant_id"], None)
        elif kind == "host_changed":
            self.host_id = msg["host_id"]
        elif kind == "chat_message":
            self.chat_log.append(msg["message"])
        elif kind == "chat_edited":
            for i, m in enumerate(self.chat_log):
                if m["id"] == msg["message"]["id"]:
                    self.chat_log[i] = msg["message"]
        elif kind == "chat_deleted":
            self.chat_log = [m for m in self.chat_log if m["id"] != msg["message_id"]]
        elif kind == "settings_changed":
            self.settings = msg["settings"]
        elif kind == "participant_stats":
            for pid, stats in msg["stats"].items():
                if pid in self.participants:
                    self.participants[pid].update(stats)
        elif kind == "state":
            self._load_state(msg)

    def _load_state(self, msg: dict[str, Any]) -> None:
        if msg.get("resync"):
            # The server dropped events queued for us and sent the room as it is.
            self.seq = msg["seq"]
            self.chat_log = list(msg.get("chat", []))
        self.seq = max(self.seq, msg["seq"])
        self.playback = msg["playback"]
        self.participants = {p["id"]: p for p in msg["participants"]}
        self.host_id = msg["room"]["host_id"]
        self.settings = msg["room"]["settings"]

    def media_url(self) -> str | None:
        """The URL of the room's current media, absolute: a path (a library video,
        ``/api/videos/<id>/stream/``) is resolved against ``welcome.web_url``.

        Returns:
            The URL, or ``None`` when the room has no media, or the media is a path
            and the server did not say where its web app is (``public_web_url``).
        """
        media = (self.playback or {}).get("media")
        url = media.get("url") if isinstance(media, dict) else None
        if not url:
            return None
        if url.startswith("/"):
            base = self.welcome.get("web_url")
            return urljoin(base + "/", url.lstrip("/")) if base else None
        return str(url)

    # --- events ---------------------------------------------------------------------------
    def _position_after(self, message: dict[str, Any]) -> int:
        for i in range(len(self.events) - 1, -1, -1):
            if self.events[i] is message:
                return self._event_index + i + 1
        return self.mark()

    def mark(self) -> int:
        """A position in the event stream, for :meth:`wait_for` ``since=``."""
        return self._event_index + len(self.events)

    async def wait_for(
        self,
        type_: str | None = None,
        predicate: Callable[[dict[str, Any]], bool] | None = None,
        *,
        since: int | None = None,
        timeout_s: float = 10.0,
    ) -> dict[str, Any]:
        """Wait for a message of *type_* (and *predicate*), received at or after
        stream position *since* (default: after the last one this method returned).

        Raises:
            ClientClosed: the connection closed before one came.
            trio.TooSlowError: none within *timeout_s* seconds.
        """
        index = self._cursor if since is None else since
        with trio.fail_after(timeout_s):
            while True:
                start = max(index, self._event_index)
                for i in range(start - self._event_index, len(self.events)):
                    msg = self.events[i]
                    if (type_ is None or msg.get("type") == type_) and (
                        predicate is None or predicate(msg)
                    ):
                        self._cursor = self._event_index + i + 1
                        return msg
                index = self._event_index + len(self.events)
                if self.close_code is not None or self._closed.is_set():
                    raise ClientClosed(self.close_code, self.close_reason)
                await self._arrived.park()

    async def wait_closed(self, timeout_s: float = 10.0) -> int | None:
        """Wait until the server closes the connection; return the close code."""
        with trio.fail_after(timeout_s):
            await self._closed.wait()
        return self.close_code

    # --- time -------------------------------------------------------------------------------
    async def sync_time(
        self, samples: int = 32, spacing_s: float = 0.05, timeout_s: float = 10.0
    ) -> ClockEstimate:
        """Run a burst of NTP-style exchanges (RFC 5905 on-wire) and return the estimate.

        Args:
            samples: Requests to send.
            spacing_s: Time between requests, seconds (keeps them from queueing
                behind one another, which would inflate their delay).
            timeout_s: Longest wait for the replies, seconds.

        Raises:
            trio.TooSlowError: fewer than half the replies came within *timeout_s*.
        """
        for i in range(samples):
            rid = f"ts{next(self._ids)}"
            estimate = self.estimator.estimate
            msg: dict[str, Any] = {"type": "time_sync", "id": rid, "client_send_ms": 0.0}
            if estimate is not None:
                msg["rtt_ms"] = round(estimate.rtt_ms, 2)
                msg["offset_ms"] = round(estimate.offset_ms, 2)
            t0 = self.clock()
            msg["client_send_ms"] = t0
            self._sync_sent[rid] = t0
            await self.send(msg)
            if i + 1 < samples:
                await trio.sleep(spacing_s)
        with trio.fail_after(timeout_s):
            while self._sync_sent and len(self._sync_sent) > samples // 2:
                if self._closed.is_set():
                    raise ClientClosed(self.close_code, self.close_reason)
                await self._sync_done.park()
            # Give the stragglers one RTT more, without failing on them.
            estimate = self.estimator.estimate
            if self._sync_sent and estimate is not None:
                with trio.move_on_after(max(0.05, estimate.rtt_ms * 2 / 1000.0)):
                    while self._sync_sent:
                        await self._sync_done.park()
        self._sync_sent.clear()
        result = self.estimator.estimate
        if result is None:
            raise trio.TooSlowError
        return result

    def server_time_ms(self, local_ms: float | None = None) -> float:
        """The estimated server clock at client time *local_ms* (default: now), ms.

        Raises:
            RuntimeError: before any time sync.
        """
        estimate = self.estimator.estimate
        if estimate is None:
            raise RuntimeError("no time sync yet; call sync_time() first")
        return estimate.server_time(self.clock() if local_ms is None else local_ms)

    def position_s(self, local_ms: float | None = None) -> float:
        """The position the room's playback state gives at client time *local_ms*
        (default: now), seconds."""
        pb = self.playback
        if not pb:
            return 0.0
        media = pb.get("media") or {}
        return position_at(
            position_s=pb["position_s"],
            paused=pb["paused"],
            rate=pb["rate"],
            reference_ms=pb["server_time_ms"],
            at_ms=self.server_time_ms(local_ms),
            duration_s=media.get("duration_s"),
        )

    def local_time_of(self, server_ms: float) -> float:
        """The client time at which the server clock reads *server_ms*, ms."""
        estimate = self.estimator.estimate
        if estimate is None:
            raise RuntimeError("no time sync yet; call sync_time() first")
        return estimate.local_time(server_ms)

    # --- actions ------------------------------------------------------------------------------
    async def play(self, position_s: float | None = None) -> dict[str, Any]:
        msg: dict[str, Any] = {"type": "play"}
        if position_s is not None:
            msg["position_s"] = position_s
        return await self.request(msg)

    async def pause(self) -> dict[str, Any]:
        return await self.request({"type": "pause"})

    async def seek(self, position_s: float) -> dict[str, Any]:
        return await self.request({"type": "seek", "position_s": position_s})

    async def set_rate(self, rate: float) -> dict[str, Any]:
        return await self.request({"type": "set_rate", "rate": rate})

    async def change_media(
        self, url: str, title: str = "", duration_s: float | None = None
    ) -> dict[str, Any]:
        media: dict[str, Any] = {"url": url, "title": title}
        if duration_s is not None:
            media["duration_s"] = duration_s
        return await self.request({"type": "change_media", "media": media})

    async def chat(self, text: str) -> int:
        """Send a chat message; return its stored id."""
        reply = await self.request({"type": "chat_send", "text": text})
        return int(reply["message_id"])

    async def edit_chat(self, message_id: int, text: str) -> dict[str, Any]:
        return await self.request({"type": "chat_edit", "message_id": message_id, "text": text})

    async def delete_chat(self, message_id: int) -> dict[str, Any]:
        return await self.request({"type": "chat_delete", "message_id": message_id})

    async def report_position(self, position_s: float | None = None) -> dict[str, Any]:
        """Report the player's position (default: the expected one, as a perfect
        player would) at the estimated server time now."""
        local = self.clock()
        pos = self.position_s(local) if position_s is None else position_s
        return await self.request(
            {
                "type": "position_report",
                "position_s": pos,
                "server_time_ms": self.server_time_ms(local),
            }
        )

    async def buffer_state(self, buffering: bool) -> dict[str, Any]:
        return await self.request({"type": "buffer_state", "buffering": buffering})

    async def leave(self) -> None:
        """Leave the room (the server closes with 1000)."""
        await self.request({"type": "leave"})


@asynccontextmanager
async def open_sync_client(
    url: str,
    *,
    room: str,
    display_name: str | None = None,
    token: str | None = None,
    create: dict[str, Any] | None = None,
    resume: dict[str, Any] | None = None,
    encoding: str = MSGPACK,
    clock: Callable[[], float] | None = None,
    sync_interval_s: float | None = None,
    max_message_size: int = 16 << 20,
) -> AsyncIterator[SyncClient]:
    """Connect, send ``hello`` and yield the joined client; close on exit.

    Args:
        url: The sync socket, e.g. ``ws://127.0.0.1:8765/ws``.
        room: Room code.
        display_name: Name to join with (guests need one).
        token: An access token (HS256 JWT) from the web app.
        create: ``{"name": ..., "settings": {...}, "media": {...}}`` to create the
            room when it does not exist.
        resume: ``{"session": token, "last_seq": n}`` to resume a participant.
        encoding: ``msgpack`` (binary frames) or ``json`` (text frames).
        clock: Client clock in milliseconds (default: :func:`anchored_clock`, the
            wall clock read once and advanced by the monotonic clock).
        sync_interval_s: When set, a background burst of 16 time syncs runs this
            often, seconds.
        max_message_size: Largest message accepted from the server, bytes.

    Raises:
        ClientClosed: the server refused the hello and closed (``close_code`` says
            why).
        ServerError: the server refused the hello but kept the connection open (an
            invalid field); nothing was joined.
    """
    if encoding not in (MSGPACK, JSON):
        raise ValueError(f"encoding must be {MSGPACK!r} or {JSON!r}, got {encoding!r}")
    subprotocol = SUBPROTOCOL_MSGPACK if encoding == MSGPACK else SUBPROTOCOL_JSON
    async with open_websocket_url(
        url, subprotocols=[subprotocol], max_message_size=max_message_size
    ) as ws:
        client = SyncClient(ws, encoding=encoding, clock=clock or anchored_clock())
        async with trio.open_nursery() as nursery:
            client._nursery = nursery

            async def reader() -> None:
                try:
                    await client._read_loop()
                finally:
                    client._closed.set()

            nursery.start_soon(reader)
            hello: dict[str, Any] = {"type": "hello", "protocol": PROTOCOL_VERSION, "room": room}
            if display_name is not None:
                hello["display_name"] = display_name
            if token is not None:
                hello["token"] = token
            if create is not None:
                hello["create"] = create
            if resume is not None:
                hello["resume"] = resume
            try:
                welcome = await client.request(hello)
            except ServerError:
                # A refusal that ends the connection (bad token, unknown room) is
                # followed by the close; one that does not (an invalid field) is not.
                with trio.move_on_after(2.0):
                    await client.wait_closed()
                if client.close_code is not None:
                    raise ClientClosed(client.close_code, client.close_reason) from None
                raise
            client.welcome = welcome
            client.participant_id = welcome["participant"]["id"]
            client.session = welcome["session"]
            client.chat_log = list(welcome["chat"])
            client._load_state(welcome)
            client.seq = welcome["seq"]
            # Events are waited for from just after the welcome: what arrived with it
            # in the same write (a ping, a join) has not been seen by the caller yet.
            client._cursor = client._position_after(welcome)
            if sync_interval_s is not None:
                nursery.start_soon(_periodic_sync, client, sync_interval_s)
            try:
                yield client
            finally:
                nursery.cancel_scope.cancel()


async def _periodic_sync(client: SyncClient, interval_s: float) -> None:
    while True:
        await trio.sleep(interval_s)
        try:
            await client.sync_time(samples=16, spacing_s=0.05)
        except (ConnectionClosed, ClientClosed, trio.TooSlowError):
            return


def skewed_clock(
    offset_ms: float, skew_ppm: float = 0.0, base: Callable[[], float] = wall_clock_ms
) -> Callable[[], float]:
    """A clock *offset_ms* ahead of *base* running *skew_ppm* parts per million fast.

    For tests and benchmarks: ``skewed_clock(-3_600_000)`` is an hour behind.
    """
    start = base()
    factor = 1.0 + skew_ppm * 1e-6
    if not math.isfinite(offset_ms) or not math.isfinite(factor):
        raise ValueError("offset_ms and skew_ppm must be finite")
    return lambda: start + (base() - start) * factor + offset_ms


__all__ = [
    "ClientClosed",
    "ServerError",
    "SyncClient",
    "anchored_clock",
    "open_sync_client",
    "skewed_clock",
    "wall_clock_ms",
]
