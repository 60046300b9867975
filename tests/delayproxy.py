"""A userspace TCP delay proxy on loopback, standing in for kernel netem (not
available on these machines): each direction of each connection gets a base delay
plus uniform jitter per chunk, without reordering bytes (as TCP would not).

Used by tests and benchmarks to put real clients behind bad links.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

import trio


@dataclass(frozen=True)
class Link:
    """One connection's impairment, milliseconds.

    Attributes:
        up_ms: Base client-to-server delay.
        down_ms: Base server-to-client delay.
        jitter_ms: Each chunk gets an extra uniform delay in [-jitter_ms, +jitter_ms].
    """

    up_ms: float
    down_ms: float
    jitter_ms: float = 0.0


class DelayProxy:
    """Accepts on 127.0.0.1 and forwards to *target_port*, delaying each direction.

    Args:
        target_port: The server's port on 127.0.0.1.
        link_for: Called with the connection number (0, 1, ...) to get its Link.
        rng: Random source for jitter (seed it for repeatable runs).
    """

    def __init__(
        self, target_port: int, link_for: Callable[[int], Link], rng: random.Random
    ) -> None:
        self.target_port = target_port
        self.link_for = link_for
        self.rng = rng
        self.port: int | None = None
        self.links: list[Link] = []

    async def serve(
        self, *, task_status: trio.TaskStatus[DelayProxy] = trio.TASK_STATUS_IGNORED
    ) -> None:
        listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
        self.port = listeners[0].socket.getsockname()[1]
        async with trio.open_nursery() as nursery:
            await nursery.start(trio.serve_listeners, self._handle, listeners)
            task_status.started(self)

    async def _handle(self, client: trio.SocketStream) -> None:
        link = self.link_for(len(self.links))
        self.links.append(link)
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
        send, recv = trio.open_memory_channel[tuple[float, bytes]](10_000)

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
                    await send.send((due, chunk))
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            nursery.cancel_scope.cancel()
