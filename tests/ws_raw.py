"""A raw WebSocket client for tests that must misbehave: wsproto parses what the server
sends, frames are built by hand (masked, RFC 6455 section 5.3) so the client can send
what a well-behaved client never would: a ping after the server's close frame, a
message over the limit, bad opcodes, garbage."""

from __future__ import annotations

import json
import os
import struct
from typing import Any

import trio
from wsproto import WSConnection
from wsproto.connection import ConnectionType
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Event,
    RejectConnection,
    RejectData,
    Request,
    TextMessage,
)

from protocol.codec import SUBPROTOCOL_JSON

OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x1, 0x2, 0x8, 0x9, 0xA


def masked_frame(opcode: int, payload: bytes, *, fin: bool = True, rsv: int = 0) -> bytes:
    """One client frame with a random mask (RFC 6455 section 5.2)."""
    head = bytes([(0x80 if fin else 0) | (rsv << 4) | opcode])
    n = len(payload)
    if n < 126:
        head += bytes([0x80 | n])
    elif n < 1 << 16:
        head += bytes([0x80 | 126]) + struct.pack("!H", n)
    else:
        head += bytes([0x80 | 127]) + struct.pack("!Q", n)
    mask = os.urandom(4)
    body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return head + mask + body


class RawClient:
    """A client connection: :meth:`send_frame` writes anything, :meth:`next_event`
    reads what the server sends as wsproto events."""

    def __init__(self, stream: trio.SocketStream, ws: WSConnection) -> None:
        self.stream = stream
        self.ws = ws

    @classmethod
    async def connect(
        cls, port: int, path: str = "/ws", subprotocols: list[str] | None = None
    ) -> RawClient:
        stream = await trio.open_tcp_stream("127.0.0.1", port)
        ws = WSConnection(ConnectionType.CLIENT)
        protos = [SUBPROTOCOL_JSON] if subprotocols is None else subprotocols
        await stream.send_all(ws.send(Request(host="127.0.0.1", target=path, subprotocols=protos)))
        client = cls(stream, ws)
        event = await client.next_event()
        if not isinstance(event, AcceptConnection):
            raise ConnectionError(f"handshake refused: {event!r}")
        return client

    async def next_event(self) -> Event | None:
        """The next event from the server; ``None`` at end of stream."""
        while True:
            for event in self.ws.events():
                return event
            try:
                data = await self.stream.receive_some(65536)
            except trio.BrokenResourceError:
                data = b""
            if not data:
                return None
            self.ws.receive_data(data)

    async def send_frame(self, data: bytes) -> None:
        try:
            await self.stream.send_all(data)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass  # the server may have closed already: that is allowed

    async def send_json(self, message: Any) -> None:
        await self.send_frame(masked_frame(OP_TEXT, json.dumps(message).encode()))

    async def next_json(self) -> Any:
        """The next text message, decoded; ``None`` when the server closed."""
        parts: list[str] = []
        while True:
            event = await self.next_event()
            if event is None or isinstance(event, CloseConnection):
                return None
            if isinstance(event, TextMessage):
                parts.append(event.data)
                if event.message_finished:
                    return json.loads("".join(parts))

    async def close_code(self) -> int | None:
        """Read until the server's close frame; its code (``None``: no close frame)."""
        while True:
            event = await self.next_event()
            if event is None:
                return None
            if isinstance(event, CloseConnection):
                return event.code
            if isinstance(event, (BytesMessage, TextMessage, RejectConnection, RejectData)):
                continue

    async def aclose(self) -> None:
        await self.stream.aclose()
