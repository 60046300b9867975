"""The sync server as the precision lab runs it: `serve_sync` with a clock whose anchor
the lab chose, so that the lab can compute the true server time from CLOCK_MONOTONIC.

The clock is ``base_ms + CLOCK_MONOTONIC * 1000``: the same construction as
:class:`sync_server.server.ServerClock` (a wall-clock anchor advanced by the
monotonic clock), only with the anchor passed in instead of read at start. Every
process on the machine shares CLOCK_MONOTONIC, so the truth is exact.

Prints ``READY <port>`` on stdout once it listens; stops on SIGTERM/SIGINT.

Usage (the lab starts it; by hand only for debugging)::

    python -m bench.precision_server --base-ms 1.7e12 --db /tmp/p.db
"""

from __future__ import annotations

import argparse
import signal
import time
from functools import partial

import trio

from sync_server.config import Config
from sync_server.server import serve_sync


async def _main(args: argparse.Namespace) -> None:
    base_ms = args.base_ms

    def clock() -> float:
        return base_ms + time.monotonic() * 1000.0

    config = Config(
        host="127.0.0.1",
        port=0,
        db=args.db,
        demo=False,
        log_level="WARNING",
        heartbeat_interval_s=args.heartbeat_interval_s,
        drift_threshold_ms=args.drift_threshold_ms,
        max_participants_per_room=1000,
    )
    async with trio.open_nursery() as nursery:
        with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            server = await nursery.start(partial(serve_sync, config, clock=clock))
            print(f"READY {server.port}", flush=True)
            async for _ in signals:
                nursery.cancel_scope.cancel()
                break


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base-ms", type=float, required=True, help="clock anchor, ms")
    parser.add_argument("--db", required=True, help="SQLite file (a fresh one per run)")
    parser.add_argument("--heartbeat-interval-s", type=float, default=10.0)
    parser.add_argument("--drift-threshold-ms", type=float, default=40.0)
    args = parser.parse_args()
    from sync_server.logs import setup_logging

    setup_logging("WARNING", "text")
    trio.run(_main, args)


if __name__ == "__main__":
    main()
