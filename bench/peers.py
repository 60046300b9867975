"""Side by side with Syncplay: the same fan-out and idle-memory cases against
watchparty (JSON and msgpack) and Debian's ``syncplay-server``, in one run.

    python -m bench.peers                                # every case, 3 repeats
    python -m bench.peers --duration 5 --repeats 1 --cases rooms10 --idle-sizes 1000

Cases (offered deliveries/s = messages/s per room × members):

* ``rooms10``: 100 rooms of 10 (1,000 connections) at 2k, 10k, 20k and 40k offered
  deliveries/s (2, 10, 20 and 40 messages/s per room);
* ``room500``: one room of 500 at 10k, 20k and 40k (20, 40 and 80 messages/s), joins
  paced at 50/s;
* ``idle``: 1,000 and 10,000 joined idle connections in rooms of 10: server RSS per
  connection.

Each case runs ``--repeats`` times (at least 3 for figures), interleaved: repeat 1 of
every server, then repeat 2, so that a change in the machine's load touches every
server alike. Every run is a fresh server process pinned to core 0 with the load
generator (bench/loadgen.py, one process) on core 1, as bench/fanout.py does; the
Syncplay server listens on a port in 20000-20999. The table gives the median and the
range (min-max) over the repeats, and the 1-minute load average at each run's start.

Server CPU per delivery = the server's user + system CPU time over the step (from
``/proc/<pid>/stat``, sending window plus drain) ÷ the deliveries received in it. It
includes what each server does for idle connections meanwhile (watchparty's heartbeat
pings, Syncplay's once-a-second ``State`` to every member, answered by every client),
shown apart as "idle server core" (the server's CPU over ``--pre-idle-s`` with the
case's connections joined and silent).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.common import (
    ROOT,
    command_line,
    env_block,
    environment,
    md_table,
    raise_nofile,
    write_result,
)
from bench.fanout import SYNCPLAY_PORT_RANGE, SYSTEM_PYTHON, Scenario, run_scenario, versions_of

#: Peer name → (server kind of bench.fanout, watchparty encoding).
PEERS: dict[str, tuple[str, str]] = {
    "watchparty-json": ("watchparty", "json"),
    "watchparty-msgpack": ("watchparty", "msgpack"),
    "syncplay": ("syncplay", "json"),
    "channels-memory": ("channels-memory", "msgpack"),
}
DEFAULT_PEERS = "watchparty-json,watchparty-msgpack,syncplay"


@dataclass(frozen=True)
class FanoutCase:
    key: str
    name: str
    rooms: int
    room_size: int
    offered: tuple[int, ...]  # deliveries/s
    join_rate: float = 0.0

    def scenario(self) -> Scenario:
        members = self.rooms * self.room_size
        return Scenario(
            self.name,
            self.rooms,
            self.room_size,
            tuple(o / members for o in self.offered),
            join_rate=self.join_rate,
        )


FANOUT_CASES = [
    FanoutCase("rooms10", "100 rooms of 10", 100, 10, (2_000, 10_000, 20_000, 40_000)),
    FanoutCase("room500", "one room of 500", 1, 500, (10_000, 20_000, 40_000), 50.0),
]


def _med_range(values: Sequence[float], fmt: str = ".0f") -> str:
    """``median (min–max)`` of *values*, or ``-`` if there are none."""
    vals = [v for v in values if v is not None]
    if not vals:
        return "-"
    med = statistics.median(vals)
    if len(vals) == 1:
        return f"{med:{fmt}}"
    return f"{med:{fmt}} ({min(vals):{fmt}}–{max(vals):{fmt}})"


def _median(values: Sequence[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return statistics.median(vals) if vals else None


def cpu_us_per_delivery(step: dict[str, Any]) -> float | None:
    """Server CPU time per delivery over the step, µs; None without deliveries."""
    if not step["deliveries"]:
        return None
    return float(step["server_cpu_s"]) / step["deliveries"] * 1e6


def run_all(args: argparse.Namespace, tmp: Path) -> tuple[list[dict[str, Any]], list[str]]:
    """Every (repeat, case, peer) run, interleaved; stops scheduling runs once
    ``--max-minutes`` have passed. Returns the runs and notes on what was skipped."""
    peers = args.servers.split(",")
    cases = args.cases.split(",")
    started = time.monotonic()
    runs: list[dict[str, Any]] = []
    notes: list[str] = []
    # (repeat, peer, scenario, idle hold s)
    plan: list[tuple[int, str, Scenario, float]] = []
    for rep in range(args.repeats):
        for case in FANOUT_CASES:
            if case.key in cases:
                plan += [(rep, peer, case.scenario(), args.pre_idle_s) for peer in peers]
        if "idle" in cases:
            for n in (int(x) for x in args.idle_sizes.split(",")):
                sc = Scenario(f"idle {n}", n // 10, 10, (0.0,))
                plan += [(rep, peer, sc, args.idle_s) for peer in peers]
    for i, (rep, peer, sc, idle_s) in enumerate(plan):
        if time.monotonic() - started > args.max_minutes * 60:
            notes.append(
                f"--max-minutes {args.max_minutes:g} reached: {len(plan) - i} of {len(plan)} "
                "runs not made"
            )
            break
        print(
            f"[{i + 1}/{len(plan)}] repeat {rep + 1}: {peer}, {sc.name}",
            file=sys.stderr,
            flush=True,
        )
        t0 = time.monotonic()
        loadavg = Path("/proc/loadavg").read_text().split()[:3]
        kind, encoding = PEERS[peer]
        result = run_scenario(
            kind,
            sc,
            args,
            tmp,
            encoding=encoding,
            port_range=SYNCPLAY_PORT_RANGE,
            idle_s=idle_s,
        )
        result.update(peer=peer, repeat=rep, loadavg=loadavg, seconds=time.monotonic() - t0)
        runs.append(result)
    return runs, notes


def render(
    args: argparse.Namespace,
    env: dict[str, Any],
    runs: list[dict[str, Any]],
    notes: list[str],
    versions: dict[str, str],
) -> str:
    peers = args.servers.split(",")
    out = ["### Side by side with Syncplay", "", env_block(env, command_line("bench.peers"))]
    for peer in peers:
        out.append(f"- `{peer}`: {versions[PEERS[peer][0]]}")
    out.append(
        f"- server on core 0, load generator on core 1 (bench/loadgen.py); {args.repeats} "
        f"repeats per case, interleaved across servers; {args.duration:g} s of sending per "
        "step, chat only (every message stored by watchparty, none by Syncplay); "
        "median (min–max) over the repeats"
    )
    if args.repeats < 3:
        out.append(f"- **{args.repeats} repeat(s) only: a smoke run, not a result**")
    out += [f"- **{n}**" for n in notes]
    out.append("")
    rows = []
    ratio_rows = []
    for case in FANOUT_CASES:
        case_runs = [r for r in runs if r["scenario"] == case.name]
        if not case_runs:
            continue
        for k, offered in enumerate(case.offered):
            medians: dict[str, dict[str, float | None]] = {}
            for peer in peers:
                peer_runs = [r for r in case_runs if r["peer"] == peer]
                steps = [r["steps"][k] for r in peer_runs if len(r["steps"]) > k]
                if not steps:
                    continue
                cpu_us = [cpu_us_per_delivery(s) for s in steps]
                p99 = [s["latency_ms"]["p99"] for s in steps]
                medians[peer] = {"cpu_us": _median(cpu_us), "p99": _median(p99)}
                rows.append(
                    [
                        case.name,
                        f"{offered:,}",
                        peer,
                        _med_range([s["deliveries_per_s"] for s in steps]),
                        _med_range([s["latency_ms"]["p50"] for s in steps], ".1f"),
                        _med_range(p99, ".1f"),
                        _med_range([s["lost"] for s in steps])
                        + f" of {statistics.median(s['expected_deliveries'] for s in steps):,.0f}",
                        _med_range([u for u in cpu_us if u is not None], ".1f"),
                        _med_range([s["server_cpu_cores"] for s in steps], ".2f"),
                        _med_range(
                            [r.get("idle", {}).get("server_cpu_cores") for r in peer_runs], ".2f"
                        ),
                        _med_range([s["loadgen_cpu_cores"] for s in steps], ".2f"),
                        ", ".join(s["loadavg"][0] for s in steps),
                    ]
                )
            ratio_rows.append(
                [
                    case.name,
                    f"{offered:,}",
                    _ratio(medians, "watchparty-json", "syncplay", "cpu_us"),
                    _ratio(medians, "watchparty-msgpack", "syncplay", "cpu_us"),
                    _ratio(medians, "watchparty-json", "watchparty-msgpack", "cpu_us"),
                    _ratio(medians, "watchparty-json", "syncplay", "p99"),
                    _ratio(medians, "watchparty-msgpack", "syncplay", "p99"),
                ]
            )
    if rows:
        out.append(
            md_table(
                [
                    "case",
                    "offered deliveries/s",
                    "server",
                    "delivered/s",
                    "latency p50 ms",
                    "latency p99 ms",
                    "lost",
                    "server CPU µs per delivery",
                    "server core",
                    "idle server core",
                    "loadgen core",
                    "load avg (1 min) at each run",
                ],
                rows,
            )
        )
        out += [
            "",
            "Ratios of the medians (below 1: watchparty better; the targets are CPU per "
            "delivery ≤ 1.0× Syncplay's and JSON ≤ 1.2× msgpack):",
            "",
            md_table(
                [
                    "case",
                    "offered deliveries/s",
                    "CPU/delivery json ÷ syncplay",
                    "msgpack ÷ syncplay",
                    "json ÷ msgpack",
                    "p99 json ÷ syncplay",
                    "p99 msgpack ÷ syncplay",
                ],
                ratio_rows,
            ),
        ]
    idle_rows = []
    for n in (int(x) for x in args.idle_sizes.split(",")):
        for peer in peers:
            rs = [r for r in runs if r["scenario"] == f"idle {n}" and r["peer"] == peer]
            rs = [r for r in rs if "idle" in r]
            if not rs:
                continue
            idle_rows.append(
                [
                    f"{n:,}",
                    peer,
                    _med_range([r["connect"]["joined"] for r in rs]),
                    _med_range(
                        [(r["idle"]["server_rss_kib"] - r["rss_start_kib"]) / n for r in rs],
                        ".1f",
                    ),
                    _med_range([r["rss_start_kib"] / 1024 for r in rs], ".0f")
                    + " → "
                    + _med_range([r["idle"]["server_rss_kib"] / 1024 for r in rs], ".0f"),
                    _med_range([r["idle"]["server_cpu_cores"] for r in rs], ".2f"),
                    _med_range([r["connect"]["seconds"] for r in rs], ".1f"),
                    ", ".join(r["loadavg"][0] for r in rs),
                ]
            )
    if idle_rows:
        out += [
            "",
            f"Idle connections (rooms of 10, joined, idle {args.idle_s:g} s; per connection = "
            "(RSS idle − RSS at start) ÷ connections, rooms included):",
            "",
            md_table(
                [
                    "connections",
                    "server",
                    "joined",
                    "KiB per connection",
                    "server RSS MiB start → idle",
                    "idle server core",
                    "connect phase s",
                    "load avg (1 min) at each run",
                ],
                idle_rows,
            ),
        ]
    return "\n".join(out)


def _ratio(medians: dict[str, dict[str, float | None]], a: str, b: str, key: str) -> str:
    x = medians.get(a, {}).get(key)
    y = medians.get(b, {}).get(key)
    if not x or not y:
        return "-"
    return f"{x / y:.2f}"


def check_syncplay() -> None:
    """Exit with a clear message if Debian's syncplay-server is not importable."""
    ok = subprocess.run(
        [SYSTEM_PYTHON, "-c", "import syncplay.server, twisted.internet.reactor"],
        capture_output=True,
    )
    if ok.returncode != 0:
        sys.exit(
            "syncplay-server is not installed for /usr/bin/python3: run `bash bench/setup.sh` "
            "(apt-get install syncplay-server)"
        )


def main() -> None:
    p = argparse.ArgumentParser(
        prog="python -m bench.peers",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--servers", default=DEFAULT_PEERS, help=f"comma-separated of {list(PEERS)}")
    p.add_argument("--cases", default="rooms10,room500,idle", help="comma-separated")
    p.add_argument("--repeats", type=int, default=3, help="runs per case and server (1-20)")
    p.add_argument(
        "--duration", type=float, default=20.0, help="seconds of sending per step (3-600)"
    )
    p.add_argument("--idle-sizes", default="1000,10000", help="idle case connection counts")
    p.add_argument("--idle-s", type=float, default=20.0, help="idle case hold before RSS, s")
    p.add_argument(
        "--pre-idle-s",
        type=float,
        default=3.0,
        help="fan-out cases: idle hold before the steps for the idle server CPU, s",
    )
    p.add_argument("--max-minutes", type=float, default=180.0, help="no new run starts after this")
    p.add_argument("--verbose", action="store_true", help="show the load generator's progress")
    p.add_argument(
        "--server-root",
        default=str(ROOT),
        help="tree whose sync_server/ the watchparty server runs",
    )
    args = p.parse_args()
    if not 3 <= args.duration <= 600:
        p.error("--duration must be 3..600")
    if not 1 <= args.repeats <= 20:
        p.error("--repeats must be 1..20")
    if not 1 <= args.idle_s <= 600 or not 0 <= args.pre_idle_s <= 60:
        p.error("--idle-s must be 1..600 and --pre-idle-s 0..60")
    for peer in args.servers.split(","):
        if peer not in PEERS:
            p.error(f"unknown server {peer!r}; expected some of {list(PEERS)}")
    for case in args.cases.split(","):
        if case not in ("rooms10", "room500", "idle"):
            p.error(f"unknown case {case!r}; expected rooms10, room500, idle")
    sizes = [int(x) for x in args.idle_sizes.split(",")]
    if any(n % 10 or not 10 <= n <= 10_000 for n in sizes):
        p.error("--idle-sizes: multiples of 10, 10..10000")
    # Fields bench.fanout.run_scenario reads.
    args.playback_every = 0
    args.join_rate = 0.0
    args.profile = False
    args.profile_servers = ""
    if "syncplay" in args.servers.split(","):
        check_syncplay()
    nofile = raise_nofile(20_000)
    if nofile < 11_000:
        print(f"warning: ulimit -n is {nofile}; 10k connections need more", file=sys.stderr)
    env = environment()
    versions = {PEERS[peer][0]: versions_of(PEERS[peer][0]) for peer in args.servers.split(",")}
    tmp = Path(tempfile.mkdtemp(prefix="wp-peers-"))
    try:
        runs, notes = run_all(args, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    md = render(args, env, runs, notes, versions)
    print(md)
    path = write_result("peers", md, {"args": vars(args), "env": env, "runs": runs})
    print(f"\n(written to {path.relative_to(ROOT)})", file=sys.stderr)


if __name__ == "__main__":
    main()
