"""Sync precision with wrong clocks and bad links, on real loopback connections.

20 clients, each with a clock off by a random amount in [-1 h, +1 h], reach the
server through a delay proxy adding a symmetric base delay of 20-200 ms with
±30 ms uniform jitter per chunk. After time sync every client's estimate of the
server clock must be within 5 ms of the truth, every client must have the play
before its scheduled start, and their computed positions must agree within 20 ms.
(Measured figures, with more clients and clock rates, live in bench/ and
BENCHMARKS.md.)
"""

from __future__ import annotations

import random

import pytest
import trio

from bench.delayproxy import DelayProxy, Link
from sync_server.client import open_sync_client, skewed_clock
from tests.conftest import run_server

CLIENTS = 20
HOUR_MS = 3_600_000.0


@pytest.mark.slow
async def test_twenty_skewed_clients_behind_jittery_links_agree(db_path):
    rng = random.Random(20261121)
    bases = [rng.uniform(20.0, 200.0) for _ in range(CLIENTS)]
    offsets = [rng.uniform(-HOUR_MS, HOUR_MS) for _ in range(CLIENTS)]

    def link_for(i: int) -> Link:
        return Link(up_ms=bases[i], down_ms=bases[i], jitter_ms=30.0)

    async with run_server(db_path, heartbeat_interval_s=1.0) as srv:
        await srv.server.create_room(
            "precise", "Precision", media={"url": "https://example.org/v.mp4", "duration_s": 3600.0}
        )
        async with trio.open_nursery() as nursery:
            proxy = DelayProxy(srv.server.port, rng, nursery)
            urls = [
                f"ws://127.0.0.1:{await proxy.add_link(link_for(i))}/ws" for i in range(CLIENTS)
            ]
            clients: list = [None] * CLIENTS
            joined = 0
            all_joined = trio.Event()
            host_joined = trio.Event()
            done = trio.Event()

            async def hold(i: int) -> None:
                # Each client lives in its own task: the client's nursery must be
                # entered and exited by the same task.
                nonlocal joined
                async with open_sync_client(
                    urls[i],
                    room="precise",
                    display_name=f"c{i}",
                    clock=skewed_clock(offsets[i]),
                    encoding="msgpack" if i % 2 else "json",
                ) as c:
                    clients[i] = c
                    if i == 0:
                        host_joined.set()
                    joined += 1
                    if joined == CLIENTS:
                        all_joined.set()
                    await done.wait()

            async with trio.open_nursery() as holders:
                holders.start_soon(hold, 0)
                with trio.fail_after(20):
                    await host_joined.wait()
                for i in range(1, CLIENTS):
                    holders.start_soon(hold, i)
                with trio.fail_after(20):
                    await all_joined.wait()
                async with trio.open_nursery() as burst:
                    for c in clients:
                        burst.start_soon(lambda c=c: c.sync_time(samples=64, spacing_s=0.05))

                # Each estimate against the truth, read at the same instant.
                errors_ms = []
                for c in clients:
                    truth = srv.server.now_ms()
                    errors_ms.append(c.server_time_ms() - truth)
                worst = max(abs(e) for e in errors_ms)
                print(f"clock errors ms: worst {worst:.3f}", sorted(round(e, 2) for e in errors_ms))
                assert worst < 5.0, f"clock estimate errors (ms): {sorted(errors_ms)}"

                # Every RTT measured by the server's pings before the play.
                room = srv.server.rooms["precise"].room
                with trio.fail_after(10):
                    while any(p.rtt_ms is None for p in room.participants.values()):
                        await clients[0].wait_for("ping")

                host = clients[0]
                assert host.welcome["participant"]["role"] == "host"
                early: list[bool] = [False] * CLIENTS

                async def await_play(i: int) -> None:
                    c = clients[i]
                    ev = await c.wait_for("playback", lambda m: m["action"] == "play")
                    early[i] = c.server_time_ms() < ev["state"]["server_time_ms"]

                async with trio.open_nursery() as waits:
                    for i in range(CLIENTS):
                        waits.start_soon(await_play, i)
                    await trio.testing.wait_all_tasks_blocked()
                    await host.play(0.0)
                assert all(early), f"clients that got the play after its start: {early}"

                start_ms = room.playback.server_time_ms
                # Positions when the scheduled instant has passed, all read together.
                await trio.sleep_until(
                    trio.current_time() + max(0.0, start_ms - srv.server.now_ms()) / 1000 + 0.2
                )
                positions = [c.position_s() for c in clients]
                spread_ms = (max(positions) - min(positions)) * 1000.0
                print(f"position spread {spread_ms:.3f} ms")
                assert spread_ms < 20.0, f"position spread {spread_ms:.2f} ms: {positions}"
                assert min(positions) > 0.0
                done.set()
            nursery.cancel_scope.cancel()
