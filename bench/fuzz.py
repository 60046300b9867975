"""Fuzz soak: a million hostile frames at a running sync server, on loopback.

Starts ``watchparty serve-sync`` (its own database, port on 127.0.0.1, rate limits
raised so frames reach the room logic instead of stopping at the limiter), then
``--connections`` raw WebSocket clients send ``--frames`` frames in all, as fast as
the server answers: documented messages with random fields of every shape (the same
kinds of values as tests/test_socket_fuzz.py), envelopes with any ``type``, frames in
the wrong encoding, protocol violations (bad opcodes, RSV bits, invalid UTF-8, long
or fragmented control frames) and pings after the server's close frame. A client the
server closes reconnects. A well-behaved participant stays in the room throughout.

Reported: frames sent, connections opened, close codes seen, error codes seen,
tracebacks in the server's log, the server's RSS over the run, whether it is alive
at the end and whether the well-behaved participant was served.

Usage: ``python -m bench.fuzz --frames 1000000 --connections 16``
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import msgpack
import trio
import trio.lowlevel

from bench.common import (
    PROJECT_PYTHON,
    ROOT,
    command_line,
    env_block,
    environment,
    free_port,
    md_table,
    proc_rss_kib,
    write_result,
)
from protocol.codec import SUBPROTOCOL_JSON, SUBPROTOCOL_MSGPACK
from protocol.messages import CLIENT_TYPES, PROTOCOL_VERSION
from sync_server.client import open_sync_client
from tests.ws_raw import OP_BINARY, OP_PING, OP_TEXT, RawClient, masked_frame

ROOM = "fuzz"
FIELDS = sorted({n for cls in CLIENT_TYPES.values() for n in cls.model_fields} - {"type"})


def rand_value(rng: random.Random, depth: int = 0) -> Any:
    pick = rng.randrange(12 if depth < 2 else 9)
    if pick == 0:
        return None
    if pick == 1:
        return rng.random() < 0.5
    if pick == 2:
        return rng.randint(-(2**64) + 1, 2**64 - 1)
    if pick == 3:
        return rng.randint(-5, 500)
    if pick == 4:
        return rng.uniform(-1e12, 1e12)
    if pick == 5:
        return "".join(chr(rng.randrange(0x20, 0x2FFF)) for _ in range(rng.randrange(40)))
    if pick == 6:
        return rng.choice(["", "x" * 5000, "\u202e", "🎬", ROOM, "everyone", "host"])
    if pick == 7:
        return rng.uniform(0, 700)
    if pick == 8:
        return rng.choice(["https://example.org/a.mp4", "/v.webm", "javascript:alert(1)"])
    if pick in (9, 10):
        return [rand_value(rng, depth + 1) for _ in range(rng.randrange(4))]
    return {
        str(rand_value(rng, 2))[:8]: rand_value(rng, depth + 1) for _ in range(rng.randrange(4))
    }


def rand_frame(rng: random.Random, encoding: str) -> bytes:
    roll = rng.random()
    op = OP_TEXT if encoding == "json" else OP_BINARY
    if roll < 0.70:
        kind = rng.choice(sorted(CLIENT_TYPES))
        own = sorted(set(CLIENT_TYPES[kind].model_fields) - {"type"}) or FIELDS
        message: dict[str, Any] = {"type": kind}
        for name in rng.sample(own, rng.randrange(len(own) + 1)):
            message[name] = rand_value(rng)
        if rng.random() < 0.2:
            message[rng.choice(FIELDS)] = rand_value(rng)
    elif roll < 0.80:
        message = {"type": rand_value(rng), "id": rand_value(rng)}
    elif roll < 0.88:
        message = rand_value(rng)  # type: ignore[assignment]
    elif roll < 0.94:
        return masked_frame(rng.choice([OP_TEXT, OP_BINARY]), rng.randbytes(rng.randrange(64)))
    else:
        return rng.choice(
            [
                masked_frame(0x3, b"reserved"),
                masked_frame(op, b"rsv", rsv=4),
                masked_frame(OP_TEXT, b"\xff\xfe"),
                masked_frame(OP_PING, b"p" * 200),
                masked_frame(OP_PING, b"frag", fin=False),
                b"\x00\x01\x02\x03",
            ]
        )
    try:
        if encoding == "json":
            return masked_frame(OP_TEXT, json.dumps(message).encode("utf-8", "surrogatepass"))
        return masked_frame(OP_BINARY, msgpack.packb(message))
    except (TypeError, ValueError, OverflowError):
        return masked_frame(op, b"{}")


class Tally:
    def __init__(self) -> None:
        self.frames = 0
        self.connections = 0
        self.closes: collections.Counter[int | None] = collections.Counter()
        self.errors: collections.Counter[str] = collections.Counter()


async def fuzz_connection(port: int, seed: int, budget: int, tally: Tally) -> None:
    rng = random.Random(seed)
    sent = 0
    while sent < budget:
        encoding = rng.choice(["json", "msgpack"])
        proto = SUBPROTOCOL_JSON if encoding == "json" else SUBPROTOCOL_MSGPACK
        try:
            raw = await RawClient.connect(port, subprotocols=[proto])
        except OSError:
            await trio.sleep(0.05)
            continue
        tally.connections += 1
        hello = {
            "type": "hello",
            "protocol": PROTOCOL_VERSION,
            "room": ROOM,
            "display_name": f"f{seed}",
            "id": "h",
        }
        body = json.dumps(hello).encode() if encoding == "json" else msgpack.packb(hello)
        await raw.send_frame(masked_frame(OP_TEXT if encoding == "json" else OP_BINARY, body))
        closed = trio.Event()

        async def reader(raw: RawClient = raw, closed: trio.Event = closed) -> None:
            from wsproto.events import BytesMessage, CloseConnection, TextMessage

            while True:
                event = await raw.next_event()
                if event is None:
                    break
                if isinstance(event, CloseConnection):
                    tally.closes[event.code] += 1
                    break
                if isinstance(event, (TextMessage, BytesMessage)) and event.message_finished:
                    try:
                        data = event.data
                        msg = json.loads(data) if isinstance(data, str) else msgpack.unpackb(data)
                        if isinstance(msg, dict) and msg.get("type") == "error":
                            tally.errors[str(msg.get("code"))] += 1
                    except Exception:
                        pass  # a message split over reads: only whole small ones counted
            closed.set()

        async with trio.open_nursery() as nursery:
            nursery.start_soon(reader)
            for _ in range(rng.randrange(20, 2000)):
                if closed.is_set() or sent >= budget:
                    break
                await raw.send_frame(rand_frame(rng, encoding))
                sent += 1
                tally.frames += 1
                if sent % 64 == 0:
                    await trio.lowlevel.checkpoint()
            with trio.move_on_after(5):
                await closed.wait()
            nursery.cancel_scope.cancel()
        await raw.aclose()


async def run(args: argparse.Namespace) -> dict[str, Any]:
    port = free_port()
    tmp = Path(tempfile.mkdtemp(prefix="wp-fuzz-"))
    log_path = tmp / "server.log"
    env = {
        **os.environ,
        "WATCHPARTY_RATE_LIMIT_PER_S": "1000000",
        "WATCHPARTY_RATE_LIMIT_BURST": "1000000",
        "WATCHPARTY_TIME_SYNC_PER_S": "1000000",
        "WATCHPARTY_TIME_SYNC_BURST": "1000000",
        "WATCHPARTY_MAX_PARTICIPANTS_PER_ROOM": "100000",
        "WATCHPARTY_RECONNECT_GRACE_S": "1",
        "WATCHPARTY_LOG_LEVEL": "INFO",
    }
    cmd = [
        str(PROJECT_PYTHON),
        "-m",
        "sync_server",
        "serve-sync",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--db",
        str(tmp / "wp.db"),
    ]
    with log_path.open("wb") as log:
        # Started before the event loop does anything else; never waited on from it.
        proc = subprocess.Popen(  # noqa: ASYNC220
            cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    rss: list[tuple[float, int]] = []
    tally = Tally()
    started = time.monotonic()
    served = False
    try:
        with trio.fail_after(30):
            while True:
                try:
                    await (await trio.open_tcp_stream("127.0.0.1", port)).aclose()
                    break
                except OSError:
                    await trio.sleep(0.1)
        async with open_sync_client(
            f"ws://127.0.0.1:{port}/ws",
            room=ROOM,
            display_name="witness",
            create={"name": "Fuzz", "settings": {"control": "everyone"}},
        ) as witness:

            async def sample() -> None:
                while True:
                    rss.append((time.monotonic() - started, proc_rss_kib(proc.pid)))
                    await trio.sleep(5)

            async with trio.open_nursery() as nursery:
                nursery.start_soon(sample)
                per = args.frames // args.connections
                async with trio.open_nursery() as workers:
                    for i in range(args.connections):
                        workers.start_soon(fuzz_connection, port, args.seed + i, per, tally)
                nursery.cancel_scope.cancel()
            message_id = await witness.chat("still served")
            served = any(m["id"] == message_id for m in witness.chat_log) and (
                witness.close_code is None
            )
        rss.append((time.monotonic() - started, proc_rss_kib(proc.pid)))
        alive = proc.poll() is None
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(30)
    output = log_path.read_text(errors="replace")
    return {
        "frames": tally.frames,
        "connections": tally.connections,
        "closes": dict(tally.closes),
        "errors": dict(tally.errors),
        "tracebacks": output.count("Traceback"),
        "internal_error_logged": output.count("closing 1011"),
        "alive_at_end": alive,
        "exit_code": proc.returncode,
        "witness_served": served,
        "duration_s": round(time.monotonic() - started, 1),
        "rss_kib": rss,
    }


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--frames", type=int, default=1_000_000, help="frames in all (max 10^7)")
    p.add_argument("--connections", type=int, default=16, help="concurrent fuzzing clients")
    p.add_argument("--seed", type=int, default=1, help="seed of the first client's generator")
    args = p.parse_args()
    if not 1 <= args.frames <= 10_000_000 or not 1 <= args.connections <= 256:
        p.error("--frames must be 1..10^7 and --connections 1..256")
    env = environment()
    result = trio.run(run, args)
    rss = result["rss_kib"]
    third = len(rss) // 3 or 1
    md = "\n".join(
        [
            "### Fuzz soak",
            "",
            env_block(env, command_line("bench.fuzz")),
            "",
            md_table(
                [
                    "frames",
                    "connections",
                    "duration s",
                    "alive at end",
                    "exit on SIGTERM",
                    "tracebacks logged",
                    "witness served",
                    "RSS KiB first third → last third (max)",
                ],
                [
                    [
                        result["frames"],
                        result["connections"],
                        result["duration_s"],
                        result["alive_at_end"],
                        result["exit_code"],
                        result["tracebacks"],
                        result["witness_served"],
                        f"{max(r for _, r in rss[:third])} → {max(r for _, r in rss[-third:])} "
                        f"({max(r for _, r in rss)})",
                    ]
                ],
            ),
            "",
            "close codes: "
            + ", ".join(
                f"{k}: {v}" for k, v in sorted(result["closes"].items(), key=lambda kv: str(kv[0]))
            ),
            "",
            "error codes: " + ", ".join(f"{k}: {v}" for k, v in sorted(result["errors"].items())),
        ]
    )
    print(md)
    path = write_result("fuzz", md, {"args": vars(args), "env": env, "result": result})
    print(f"\n(written to {path.relative_to(ROOT)})", file=sys.stderr)


if __name__ == "__main__":
    main()
