"""The sync socket's WebSocket transport: wsproto over non-blocking sockets on trio.

One :class:`ServerWebSocket` per accepted TCP connection. wsproto (RFC 6455) parses
the opening handshake and every frame the peer sends; frames the server sends are
built once per broadcast (:func:`protocol.codec.websocket_frame`) and written straight
to the socket by whoever produces them, with no task switch: :meth:`write_nowait`
hands the kernel what it takes at once and keeps only the remainder, which the caller
drains with :meth:`flush` from a task of its own. An idle connection therefore costs
one parked reader task and nothing that wakes up.

Failure modes are owned here, so no peer can make the server raise:

- after the server sent its close frame nothing more is sent except what closing
  needs (no pong, no 1009 close): RFC 6455 section 5.5.1;
- a message over ``max_message_bytes`` ends the connection with 1009, invalid UTF-8
  in a text message with 1007, a framing error with 1002 (RFC 6455 section 7.4.1);
- a reset or broken socket is a :class:`ConnectionClosed` with 1006, never an
  ``OSError`` escaping to the caller.

The HTTP side of the handshake is wsproto's (h11): a malformed request line or
headers, a request without ``Upgrade: websocket``, or headers over h11's 16 KiB
limit get an HTTP 400 (426 for a wrong ``Sec-WebSocket-Version``) and the socket is
closed.
"""

from __future__ import annotations

import errno
import logging
import socket
from collections import deque
from typing import Any

import trio
from wsproto.connection import Connection as FrameConnection
from wsproto.connection import ConnectionState, ConnectionType
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Ping,
    RejectConnection,
    RejectData,
    Request,
    TextMessage,
)
from wsproto.handshake import H11Handshake
from wsproto.utilities import RemoteProtocolError

logger = logging.getLogger(__name__)

#: Bytes asked of the kernel per read.
RECV_BYTES = 65_536

#: RFC 6455 section 7.4.1 close codes used here.
CLOSE_NORMAL = 1000
CLOSE_PROTOCOL_ERROR = 1002
CLOSE_NO_STATUS = 1005
CLOSE_ABNORMAL = 1006
CLOSE_MESSAGE_TOO_BIG = 1009

#: Control and close frames the server may queue behind a partly written frame before
#: the peer counts as not reading (a ping flood from a peer that never reads).
MAX_PENDING_CONTROL_BYTES = 16_384

_REASONS = {400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 426: "Upgrade Required"}


class ConnectionClosed(Exception):
    """The WebSocket is closed or closing; no more messages arrive.

    Attributes:
        code: The close code: the peer's (echoed), the server's own, or 1006 when the
            TCP connection ended without a close frame (RFC 6455 section 7.1.5).
        reason: The close reason text (may be empty).
    """

    def __init__(self, code: int, reason: str = "") -> None:
        super().__init__(f"connection closed: {code} {reason}".rstrip())
        self.code = code
        self.reason = reason


class HandshakeFailed(Exception):
    """The peer's opening handshake was not a valid WebSocket request, or the peer
    left before sending one; the socket is already answered (400 or 426) and closed."""


class ServerWebSocket:
    """The server side of one WebSocket connection on a non-blocking socket.

    Args:
        sock: An accepted, non-blocking stream socket; this object owns and closes it.
        max_message_bytes: Largest message accepted (all fragments together); a bigger
            one closes the connection with 1009.

    Attributes:
        path: The request target of the handshake (path and query), after
            :meth:`receive_request`.
        headers: Request headers as ``(name, value)`` byte pairs, names lower-case.
        proposed_subprotocols: Subprotocols the client offered, in its order.
        subprotocol: The subprotocol accepted, or ``None``.
        closed: Whether the TCP connection is closed or broken (nothing can be sent).
    """

    __slots__ = (
        "_conn",
        "_handshake",
        "_msg_parts",
        "_msg_size",
        "_pending",
        "_pending_control",
        "closed",
        "headers",
        "max_message_bytes",
        "path",
        "proposed_subprotocols",
        "sock",
        "subprotocol",
    )

    def __init__(self, sock: socket.socket, *, max_message_bytes: int) -> None:
        self.sock = sock
        self.max_message_bytes = max_message_bytes
        self._handshake: H11Handshake | None = H11Handshake(ConnectionType.SERVER)
        self._conn: FrameConnection | None = None
        #: Bytes committed to the wire but not yet taken by the kernel, oldest first.
        self._pending: deque[memoryview] | None = None
        self._pending_control = 0
        self._msg_parts: list[Any] = []
        self._msg_size = 0
        self.path = ""
        self.headers: list[tuple[bytes, bytes]] = []
        self.proposed_subprotocols: list[str] = []
        self.subprotocol: str | None = None
        self.closed = False

    # --- reading ------------------------------------------------------------------------
    async def _recv(self) -> bytes:
        """Bytes from the socket; ``b""`` at end of stream or on a reset."""
        while True:
            try:
                return self.sock.recv(RECV_BYTES)
            except BlockingIOError:
                pass  # wait outside the except block: the exception is freed first
            except OSError:
                return b""
            await trio.lowlevel.wait_readable(self.sock)

    async def receive_request(self) -> None:
        """Read the opening handshake (RFC 6455 section 4.2.1).

        Raises:
            HandshakeFailed: the peer left, or sent something that is not a valid
                WebSocket request; it was answered with an HTTP error and closed.
        """
        hs = self._handshake
        assert hs is not None
        while True:
            data = await self._recv()
            try:
                hs.receive_data(data or None)
                for event in hs.events():
                    if isinstance(event, Request):
                        self.path = event.target
                        self.headers = [(k.lower(), v) for k, v in event.extra_headers]
                        self.proposed_subprotocols = list(event.subprotocols)
                        return
            except RemoteProtocolError as exc:
                hint = exc.event_hint
                status = hint.status_code if isinstance(hint, RejectConnection) else 400
                await self._raw_http_error(status or 400, f"{exc}\n".encode())
                raise HandshakeFailed(str(exc)) from None
            if not data:
                self.abort()
                raise HandshakeFailed("the peer closed before its handshake")

    async def _raw_http_error(self, status: int, body: bytes) -> None:
        head = (
            f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}\r\n"
            "content-type: text/plain; charset=utf-8\r\n"
            f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
        ).encode()
        await self.send_all_raw(head + body)
        self.abort()

    async def accept(self, subprotocol: str | None = None) -> ServerWebSocket:
        """Answer the handshake with 101 and start framing.

        Args:
            subprotocol: One of :attr:`proposed_subprotocols`, or ``None``.

        Returns:
            This object (for symmetry with trio-websocket's ``request.accept``).

        Raises:
            ConnectionClosed: the peer left while the answer was being written.
        """
        hs = self._handshake
        assert hs is not None
        data = hs.send(AcceptConnection(subprotocol=subprotocol, extensions=[]))
        self._conn = hs.connection
        self._handshake = None  # h11's parser is no longer needed: free it
        self.subprotocol = subprotocol
        await self.send_all_raw(data)
        return self

    async def reject(self, status: int, *, body: bytes = b"") -> None:
        """Answer the handshake with an HTTP error and close the socket."""
        hs = self._handshake
        assert hs is not None
        data = hs.send(
            RejectConnection(
                status_code=status,
                headers=[(b"content-type", b"text/plain; charset=utf-8")],
                has_body=True,
            )
        )
        data += hs.send(RejectData(data=body, body_finished=True))
        try:
            await self.send_all_raw(data)
        except ConnectionClosed:
            pass
        self.abort()

    async def get_message(self) -> str | bytes:
        """The next complete message: ``str`` for a text message, ``bytes`` for binary.

        Pings are answered with pongs while the connection is open; pongs are
        ignored. A close frame from the peer is answered (echoed) at once.

        Raises:
            ConnectionClosed: the peer closed (its code), the TCP connection ended
                (1006), the message was too big (1009, the server's close frame is
                already queued) or malformed (1002 or 1007, likewise).
        """
        conn = self._conn
        assert conn is not None
        while True:
            for event in conn.events():
                if isinstance(event, (TextMessage, BytesMessage)):
                    self._msg_size += len(event.data)
                    if self._msg_size > self.max_message_bytes:
                        self._msg_parts = []
                        reason = f"message over {self.max_message_bytes} bytes"
                        self.queue_close(CLOSE_MESSAGE_TOO_BIG, reason)
                        raise ConnectionClosed(CLOSE_MESSAGE_TOO_BIG, reason)
                    if event.message_finished and not self._msg_parts:
                        self._msg_size = 0
                        return event.data if isinstance(event.data, str) else bytes(event.data)
                    self._msg_parts.append(event.data)
                    if event.message_finished:
                        parts, self._msg_parts, self._msg_size = self._msg_parts, [], 0
                        if isinstance(event, TextMessage):
                            return "".join(parts)
                        return b"".join(parts)
                elif isinstance(event, Ping):
                    if conn.state is ConnectionState.OPEN:
                        self._write_control(conn.send(event.response()))
                elif isinstance(event, CloseConnection):
                    if conn.state is ConnectionState.OPEN:
                        # wsproto reports a framing or UTF-8 error as a close event
                        # without leaving OPEN: the server closes with its code.
                        self.queue_close(event.code, event.reason or "")
                    elif conn.state is ConnectionState.REMOTE_CLOSING:
                        self._write_control(conn.send(event.response()))
                    raise ConnectionClosed(event.code, event.reason or "")
                # Pong: nothing to do (heartbeats are application-level messages).
            if conn.state is ConnectionState.CLOSED or self.closed:
                raise ConnectionClosed(CLOSE_ABNORMAL, "connection lost")
            data = await self._recv()
            if not data:
                self.closed = True
                raise ConnectionClosed(CLOSE_ABNORMAL, "connection lost")
            conn.receive_data(data)

    # --- writing ------------------------------------------------------------------------
    @property
    def backlogged(self) -> bool:
        """Whether written bytes still wait for the kernel (see :meth:`flush`)."""
        return self._pending is not None

    def write_nowait(self, data: bytes) -> bool:
        """Write *data* (whole frames) without waiting.

        Returns:
            ``True`` when the kernel took all of it (or the connection is already
            closed and it was dropped); ``False`` when a remainder was kept, which the
            caller must drain with :meth:`flush` before anything else is written
            (:attr:`backlogged` is then true).
        """
        if self._pending is not None:
            self._pending.append(memoryview(data))
            return False
        if self.closed:
            return True
        try:
            sent = self.sock.send(data)
        except BlockingIOError:
            sent = 0
        except OSError:
            self.closed = True
            return True
        if sent == len(data):
            return True
        self._pending = deque((memoryview(data)[sent:],))
        return False

    def _write_control(self, data: bytes) -> None:
        if self._pending is not None:
            self._pending_control += len(data)
            if self._pending_control > MAX_PENDING_CONTROL_BYTES:
                # Answering pings of a peer that reads nothing: stop answering.
                self.abort()
                return
        self.write_nowait(bytes(data))

    async def flush(self) -> None:
        """Wait until every written byte is taken by the kernel.

        Raises:
            ConnectionClosed: the socket broke (1006); what was pending is dropped.
        """
        pending = self._pending
        while pending:
            chunk = pending[0]
            try:
                sent = self.sock.send(chunk)
            except BlockingIOError:
                await trio.lowlevel.wait_writable(self.sock)
                continue
            except OSError:
                self.closed = True
                self._pending = None
                raise ConnectionClosed(CLOSE_ABNORMAL, "connection lost") from None
            if sent == len(chunk):
                pending.popleft()
            else:
                pending[0] = chunk[sent:]
        self._pending = None
        self._pending_control = 0

    async def send_all_raw(self, data: bytes) -> None:
        """Write *data* and wait until the kernel took it.

        Raises:
            ConnectionClosed: the socket broke.
        """
        if not self.write_nowait(data):
            await self.flush()
        if self.closed:
            raise ConnectionClosed(CLOSE_ABNORMAL, "connection lost")

    async def send_message(self, message: str | bytes) -> None:
        """Frame and send one message (text for ``str``), waiting for the kernel.

        Raises:
            ConnectionClosed: the connection is closing or closed.
        """
        conn = self._conn
        if conn is None or conn.state is not ConnectionState.OPEN:
            raise ConnectionClosed(CLOSE_ABNORMAL, "connection closing")
        await self.send_all_raw(conn.send(_message_event(message)))

    # --- closing ------------------------------------------------------------------------
    def queue_close(self, code: int, reason: str = "") -> None:
        """Write the server's close frame (once; only while the connection is open or
        the peer's close is unanswered)."""
        conn = self._conn
        if conn is None or self.closed:
            return
        if conn.state in (ConnectionState.OPEN, ConnectionState.REMOTE_CLOSING):
            self._write_control(conn.send(CloseConnection(code=code, reason=reason)))

    async def aclose(
        self, code: int = CLOSE_NORMAL, reason: str = "", *, timeout_s: float = 5.0
    ) -> None:
        """Close: send the close frame, wait up to *timeout_s* for the bytes to leave and
        for the peer's close frame (or end of stream), then close the socket.

        Whatever the peer does meanwhile (pings, messages, garbage) is read and
        ignored. Never raises except ``trio.Cancelled``.
        """
        if self.closed:
            self.abort()
            return
        self.queue_close(code, reason)
        with trio.move_on_after(timeout_s):
            try:
                if self._pending is not None:
                    await self.flush()
                conn = self._conn
                while conn is not None and conn.state is not ConnectionState.CLOSED:
                    data = await self._recv()
                    if not data:
                        break
                    conn.receive_data(data)
                    for _event in conn.events():
                        pass
            except ConnectionClosed:
                pass
            except Exception:  # a peer's garbage after our close: we are closing anyway
                pass
        self.abort()

    def abort(self) -> None:
        """Close the socket now, without a close frame. Idempotent."""
        self.closed = True
        self._pending = None
        if self.sock.fileno() != -1:
            trio.lowlevel.notify_closing(self.sock)
            self.sock.close()


def _message_event(message: str | bytes) -> TextMessage | BytesMessage:
    if isinstance(message, str):
        return TextMessage(data=message)
    return BytesMessage(data=message)


#: ``accept()`` errors that mean "out of resources, try again shortly" (as trio's
#: ``serve_listeners`` treats them) rather than a broken listener.
ACCEPT_CAPACITY_ERRNOS = frozenset(
    e for e in (errno.EMFILE, errno.ENFILE, errno.ENOMEM, errno.ENOBUFS) if e is not None
)


def open_listeners(host: str, port: int, *, backlog: int = 4096) -> list[socket.socket]:
    """Non-blocking listening sockets for *host* and *port* (every address *host*
    resolves to; port 0 picks a free port, the same for all where possible).

    Raises:
        OSError: the address cannot be bound (its ``errno``, e.g. ``EADDRINUSE``, and
            a message naming the address).
    """
    infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    listeners: list[socket.socket] = []
    try:
        for family, kind, proto, _, addr in infos:
            if any(s.family == family and s.getsockname()[0] == addr[0] for s in listeners):
                continue
            sock = socket.socket(family, kind, proto)
            listeners.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            if port == 0 and len(listeners) > 1:
                addr = (addr[0], listeners[0].getsockname()[1], *addr[2:])
            try:
                sock.bind(addr)
            except OSError as exc:
                where = "{} port {}".format(*addr[:2])
                raise OSError(exc.errno, f"cannot listen on {where}: {exc.strerror}") from None
            sock.listen(backlog)
            sock.setblocking(False)
    except BaseException:
        for sock in listeners:
            sock.close()
        raise
    return listeners


async def serve_listeners(
    listener: socket.socket,
    handler: Any,
    handler_nursery: trio.Nursery,
    handler_args: tuple[Any, ...] = (),
) -> None:
    """Accept connections on *listener* until cancelled; each accepted socket is set
    non-blocking (``TCP_NODELAY`` on TCP) and served by
    ``handler(*handler_args, sock)`` in its own task in *handler_nursery*. The
    handler owns the socket and must contain its own failures.

    Error handling:
        Out of file descriptors or memory (``EMFILE``, ``ENFILE``, ``ENOMEM``,
        ``ENOBUFS``): logged, then accepting pauses 100 ms, as trio's
        ``serve_listeners`` does. A connection reset before it was accepted is
        skipped. The listener is closed on exit.
    """
    try:
        while True:
            try:
                sock, _ = listener.accept()
            except BlockingIOError:
                await trio.lowlevel.wait_readable(listener)
                continue
            except OSError as exc:
                if exc.errno in ACCEPT_CAPACITY_ERRNOS:
                    logger.error("accept failed (%s); pausing 100 ms", exc)
                    await trio.sleep(0.1)
                elif exc.errno != errno.ECONNABORTED:
                    logger.warning("accept failed: %s", exc)
                continue
            sock.setblocking(False)
            if sock.family in (socket.AF_INET, socket.AF_INET6):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            handler_nursery.start_soon(handler, *handler_args, sock)
            # A join storm is accepted in bursts; let the accepted ones run.
            await trio.lowlevel.checkpoint()
    finally:
        trio.lowlevel.notify_closing(listener)
        listener.close()


__all__ = [
    "ConnectionClosed",
    "HandshakeFailed",
    "ServerWebSocket",
    "open_listeners",
    "serve_listeners",
]
