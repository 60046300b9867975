"""Where an idle connection's memory goes: tracemalloc in the sync server, grouped by
package, per idle joined connection.

    python -m bench.memtrace --connections 1000 --idle-s 5

The server is ``serve_sync`` (default settings, limits raised) run under
``python -X tracemalloc=1`` on core 0; the load generator opens N joined connections
(rooms of 10) on core 1 and keeps them idle. The server takes a tracemalloc snapshot
before any connection and another after the idle time (on SIGUSR1), and the
difference is grouped by the package of the allocating line (trio, trio_websocket,
wsproto, sync_server, protocol, ...; one frame). The figures are Python-heap bytes
traced, not RSS: RSS also holds the allocator's free lists and fragmentation, kernel
socket buffers are not in either. tracemalloc slows the server; only memory is read.
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

from bench.common import (
    PROJECT_PYTHON,
    ROOT,
    command_line,
    env_block,
    environment,
    md_table,
    proc_rss_kib,
    raise_nofile,
    write_result,
)


def _group(filename: str) -> str:
    if filename.startswith("<attrs generated methods "):
        # attrs-generated __init__ etc. of a library class: count it with the library.
        return filename.removeprefix("<attrs generated methods ").split(".", 1)[0]
    if "site-packages/" in filename:
        rest = filename.split("site-packages/", 1)[1]
        return rest.split("/", 1)[0].removesuffix(".py")
    try:
        rel = Path(filename).resolve().relative_to(ROOT)
        return rel.parts[0] if len(rel.parts) > 1 else rel.name
    except ValueError:
        return "stdlib " + Path(filename).name


# --- the server side ---------------------------------------------------------------------
def serve(args: argparse.Namespace) -> None:
    from functools import partial

    import trio

    from sync_server.config import Config
    from sync_server.logs import setup_logging
    from sync_server.server import serve_sync

    setup_logging("WARNING", "text")
    out_dir = Path(args.out_dir)

    async def _main() -> None:
        config = Config(
            host="127.0.0.1",
            port=0,
            db=args.db,
            demo=False,
            log_level="WARNING",
            max_connections=25_000,
            max_rooms=5_000,
            max_participants_per_room=1_000,
        )
        async with trio.open_nursery() as nursery:
            with trio.open_signal_receiver(signal.SIGUSR1, signal.SIGTERM) as signals:
                server = await nursery.start(partial(serve_sync, config))
                print(f"READY {server.port}", flush=True)
                k = 0
                async for sig in signals:
                    if sig == signal.SIGTERM:
                        nursery.cancel_scope.cancel()
                        break
                    import gc

                    gc.collect()
                    import pathlib

                    # The tool's own bookkeeping (grouping, path lookups) is not the server's.
                    snap = tracemalloc.take_snapshot().filter_traces(
                        [
                            tracemalloc.Filter(False, __file__),
                            tracemalloc.Filter(False, pathlib.__file__),
                            tracemalloc.Filter(False, tracemalloc.__file__),
                        ]
                    )
                    groups: dict[str, list[int]] = {}
                    lines: dict[str, int] = {}
                    for st in snap.statistics("lineno"):
                        fr = st.traceback[0]
                        g = groups.setdefault(_group(fr.filename), [0, 0])
                        g[0] += st.size
                        g[1] += st.count
                        lines[f"{_group(fr.filename)}:{Path(fr.filename).name}:{fr.lineno}"] = (
                            st.size
                        )
                    (out_dir / f"snap{k}.json").write_text(
                        json.dumps({"groups": groups, "lines": lines})
                    )
                    print(f"SNAP {k}", flush=True)
                    k += 1

    trio.run(_main)


# --- the driver --------------------------------------------------------------------------
def run(n: int, idle_s: float, tmp: Path) -> dict[str, Any]:
    server = subprocess.Popen(
        [
            "taskset",
            "-c",
            "0",
            str(PROJECT_PYTHON),
            "-X",
            "tracemalloc=1",
            "-m",
            "bench.memtrace",
            "--serve",
            "--db",
            str(tmp / f"mt-{n}.db"),
            "--out-dir",
            str(tmp),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdout is not None

    def snap() -> dict[str, Any]:
        server.send_signal(signal.SIGUSR1)
        line = server.stdout.readline()  # type: ignore[union-attr]
        assert line.startswith("SNAP"), line
        return json.loads((tmp / f"snap{line.split()[1]}.json").read_text())

    try:
        line = server.stdout.readline()
        assert line.startswith("READY"), line
        port = int(line.split()[1])
        time.sleep(1.0)
        s0 = snap()
        rss0 = proc_rss_kib(server.pid)
        gen = subprocess.Popen(
            [
                "taskset",
                "-c",
                "1",
                str(PROJECT_PYTHON),
                "-m",
                "bench.loadgen",
                "--port",
                str(port),
                "--rooms",
                str(n // 10),
                "--room-size",
                "10",
                "--rates",
                "0",
                "--idle-s",
                str(idle_s),
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert gen.stdout is not None
        res: dict[str, Any] = {"n": n}
        for raw in gen.stdout:
            ev = json.loads(raw)
            if ev["event"] == "connected":
                res["joined"] = ev["joined"]
            elif ev["event"] == "idle_start":
                time.sleep(max(0.0, idle_s - 1.0))
                s1 = snap()
                res["rss_delta_kib"] = proc_rss_kib(server.pid) - rss0
        gen.wait(timeout=120)
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
    groups = {}
    for g in set(s0["groups"]) | set(s1["groups"]):
        d = s1["groups"].get(g, [0, 0])[0] - s0["groups"].get(g, [0, 0])[0]
        c = s1["groups"].get(g, [0, 0])[1] - s0["groups"].get(g, [0, 0])[1]
        groups[g] = (d, c)
    lines = {k: v - s0["lines"].get(k, 0) for k, v in s1["lines"].items()}
    res["groups"] = sorted(groups.items(), key=lambda kv: -kv[1][0])
    res["top_lines"] = sorted(lines.items(), key=lambda kv: -kv[1])[:15]
    return res


def render(env: dict[str, Any], results: list[dict[str, Any]]) -> str:
    out = [
        "### Idle connection memory by package (tracemalloc)",
        "",
        env_block(env, command_line("bench.memtrace")),
        "",
    ]
    for r in results:
        n = r["joined"]
        total = sum(d for _, (d, _c) in r["groups"])
        out.append(
            f"{r['n']} connections ({n} joined, rooms of 10), traced Python heap after idling: "
            f"{total / n / 1024:.1f} KiB per connection; RSS delta under tracemalloc "
            f"{r['rss_delta_kib'] / n:.1f} KiB per connection (tracemalloc's own bookkeeping inflates RSS)"
        )
        out.append("")
        rows = [
            [f"`{g}`", f"{d / n:.0f}", f"{c / n:.1f}", f"{d / total:.1%}"]
            for g, (d, c) in r["groups"]
            if abs(d) / n >= 16
        ]
        out.append(
            md_table(["package", "bytes per connection", "blocks per connection", "share"], rows)
        )
        out.append("")
        rows = [[f"`{k}`", f"{v / n:.0f}"] for k, v in r["top_lines"]]
        out.append(md_table(["allocating line", "bytes per connection"], rows))
        out.append("")
    return "\n".join(out)


def main() -> None:
    p = argparse.ArgumentParser(
        prog="python -m bench.memtrace", description=__doc__.split("\n\n")[0]
    )
    p.add_argument(
        "--connections", default="1000", help="comma-separated, each a multiple of 10, ≤ 10000"
    )
    p.add_argument("--idle-s", type=float, default=5.0)
    p.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--db", help=argparse.SUPPRESS)
    p.add_argument("--out-dir", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.serve:
        serve(args)
        return
    sizes = [int(x) for x in args.connections.split(",")]
    if any(not (10 <= n <= 10_000) or n % 10 for n in sizes) or not (1 <= args.idle_s <= 120):
        p.error("connections: multiples of 10 up to 10000; idle-s 1..120")
    raise_nofile(25_000)
    env = environment()
    with tempfile.TemporaryDirectory(prefix="wp-memtrace-") as d:
        results = [run(n, args.idle_s, Path(d)) for n in sizes]
    md = render(env, results)
    print(md)
    path = write_result("memtrace", md, {"env": env, "results": results})
    print(f"\n(written to {path.relative_to(ROOT)})", file=sys.stderr)


if __name__ == "__main__":
    main()
