"""An echo endpoint on exactly the sync socket's transport path, for conformance runs
(the Autobahn TestSuite cases, driven by kosoku): the same listener and accept loop
(:func:`sync_server.transport.serve_listeners`), handshake, frame reading and message
assembly (:class:`sync_server.transport.ServerWebSocket`), the once-built frame
written without waiting with a flush only for the remainder (as
:meth:`sync_server.connection.Connection.send` does), and the same close handling.

Run by hand: ``python -m tests.echo_server PORT``.
"""

from __future__ import annotations

import socket
import sys

import trio

from protocol.codec import websocket_frame
from sync_server.transport import (
    ConnectionClosed,
    HandshakeFailed,
    ServerWebSocket,
    open_listeners,
    serve_listeners,
)

#: Autobahn's largest non-performance message (case 1.2.8 and friends) is 64 KiB;
#: the 9.* performance cases, which are not run, go to 16 MiB.
MAX_MESSAGE_BYTES = 1 << 20


async def echo(sock: socket.socket) -> None:
    ws = ServerWebSocket(sock, max_message_bytes=MAX_MESSAGE_BYTES)
    try:
        await ws.receive_request()
        await ws.accept(None)
        while True:
            message = await ws.get_message()
            if not ws.write_nowait(websocket_frame(message)):
                await ws.flush()
    except (ConnectionClosed, HandshakeFailed):
        pass
    finally:
        with trio.CancelScope(shield=True):
            await ws.aclose(1000, timeout_s=2.0)


async def serve_echo(
    port: int = 0, *, task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED
) -> None:
    """Serve the echo endpoint on 127.0.0.1 until cancelled; started, it gives its port."""
    (listener,) = open_listeners("127.0.0.1", port)
    async with trio.open_nursery() as nursery:
        task_status.started(listener.getsockname()[1])
        await serve_listeners(listener, echo, nursery)


if __name__ == "__main__":
    trio.run(serve_echo, int(sys.argv[1]) if len(sys.argv) > 1 else 9001)
