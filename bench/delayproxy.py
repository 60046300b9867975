"""A userspace TCP delay proxy on loopback (kernel netem is not available here).

Used by the precision lab and tests/test_sync_precision.py. Compared with a single
listening port it has:

* one listening port per simulated client (:meth:`DelayProxy.add_link`), so a client
  process keeps the same link across reconnects whatever order processes connect in;
* the delay of each direction is set separately (asymmetry), and every chunk's extra
  delay is drawn uniformly from [-jitter_ms, +jitter_ms] and clipped at zero.

Bytes are never reordered within a direction (a chunk never overtakes the previous
one, as TCP would not let it), so jitter also delays the chunks queued behind a
slow one. Only 127.0.0.1 is ever listened on or connected to.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import trio


@dataclass(frozen=True)
class Link:
    """One client's impairment, milliseconds.

    Attributes:
        up_ms: Base client-to-server delay.
        down_ms: Base server-to-client delay.
        jitter_ms: Each chunk gets an extra uniform delay in [-jitter_ms, +jitter_ms]
            (the total is clipped at 0).
    """

    up_ms: float
    down_ms: float
    jitter_ms: float = 0.0

    @property
    def asymmetry_ms(self) -> float:
        """Base up delay minus base down delay."""
        return self.up_ms - self.down_ms


class DelayProxy:
    """Forwards each added port to the server's port on 127.0.0.1, delaying each way.

    Args:
        target_port: The server's port on 127.0.0.1.
        rng: Random source for the jitter (seeded for repeatable runs).
        nursery: Where listeners and connections run; cancel it to stop everything.
    """

    def __init__(self, target_port: int, rng: random.Random, nursery: trio.Nursery) -> None:
        self.target_port = target_port
        self.rng = rng
        self.nursery = nursery
        self.connections = 0

    async def add_link(self, link: Link) -> int:
        """Listen on a new 127.0.0.1 port whose connections get *link*; return it."""
        listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
        port = int(listeners[0].socket.getsockname()[1])

        async def handler(stream: trio.SocketStream) -> None:
            await self._handle(stream, link)

        await self.nursery.start(trio.serve_listeners, handler, listeners)
        return port

    async def _handle(self, client: trio.SocketStream, link: Link) -> None:
        self.connections += 1
        try:
            server = await trio.open_tcp_stream("127.0.0.1", self.target_port)
        except OSError:
            await client.aclose()
            return
        async with client, server, trio.open_nursery() as nursery:
            nursery.start_soon(self._pipe, client, server, link.up_ms, link.jitter_ms, nursery)
            nursery.start_soon(self._pipe, server, client, link.down_ms, link.jitter_ms, nursery)

    async def _pipe(
        self,
        src: trio.SocketStream,
        dst: trio.SocketStream,
        delay_ms: float,
        jitter_ms: float,
        nursery: trio.Nursery,
    ) -> None:
        send, recv = trio.open_memory_channel[tuple[float, bytes]](100_000)

        async def deliver() -> None:
            async for due, chunk in recv:
                await trio.sleep_until(due)
                try:
                    await dst.send_all(chunk)
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    break
            nursery.cancel_scope.cancel()

        nursery.start_soon(deliver)
        last_due = 0.0
        try:
            async with send:
                while True:
                    chunk = await src.receive_some(65536)
                    if not chunk:
                        break
                    delay = delay_ms + self.rng.uniform(-jitter_ms, jitter_ms)
                    due = max(last_due, trio.current_time() + max(0.0, delay) / 1000.0)
                    last_due = due
                    send.send_nowait((due, chunk))
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            nursery.cancel_scope.cancel()
