"""Fan-out benchmark: the sync server on core 0, the load generator on core 1.

One command runs every scenario against every server given and prints a markdown
block (also written to bench/results/)::

    python -m bench.fanout                       # watchparty, targets + sweeps
    python -m bench.fanout --servers watchparty,channels-memory,channels-redis \\
        --scenarios targets --profile

Servers:

* ``watchparty``: ``watchparty serve-sync`` (the real CLI) with ``--no-demo
  --max-connections 25000 --max-rooms 5000 --max-participants-per-room 1000``.
* ``channels-memory`` / ``channels-redis``: the same room broadcast built on Django
  Channels under daphne (bench/baseline_channels/), with the in-memory channel layer
  or channels-redis against a ``redis-server`` the bench starts on 127.0.0.1 (both
  pinned to core 0, beside daphne).
* ``syncplay``: Debian's ``syncplay-server`` (bench/syncplay_server.py binds it to
  127.0.0.1) with ``--isolate-rooms``, no password and no MOTD, driven over its own
  protocol (``bench.loadgen --protocol syncplay``); ``bench.peers`` runs it beside
  watchparty in both encodings.

Server CPU is read from /proc/<pid>/stat over each step (daphne plus redis for the
Redis baseline); the load generator reports its own. ``--profile`` records the server
with py-spy (bench/.venv) during the last step of each scenario and prints the top
functions.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.common import (
    BENCH_DIR,
    BENCH_VENV,
    PROJECT_PYTHON,
    ROOT,
    CpuMeter,
    command_line,
    env_block,
    environment,
    free_port,
    free_port_in,
    md_table,
    proc_rss_kib,
    raise_nofile,
    write_result,
)


@dataclass(frozen=True)
class Scenario:
    name: str
    rooms: int
    room_size: int
    rates: tuple[float, ...]
    target: str = ""
    p99_target_ms: float | None = None
    #: Joins per second (0: as fast as 200 handshakes in flight allow). Big rooms join
    #: paced: every join is broadcast to every member, and an unpaced join storm makes
    #: the server close members with 4009 (see BENCHMARKS.md).
    join_rate: float = 0.0

    @property
    def connections(self) -> int:
        return self.rooms * self.room_size


SCENARIOS: dict[str, list[Scenario]] = {
    "targets": [
        Scenario(
            "1k conns, rooms of 10, 10 msgs/s/room",
            100,
            10,
            (10,),
            "10,000 deliveries/s in full, p99 < 20 ms",
            20.0,
        ),
        Scenario(
            "one room of 500, 40 msgs/s",
            1,
            500,
            (40,),
            "20,000 deliveries/s in full, p99 < 50 ms",
            50.0,
            50.0,
        ),
    ],
    "sweeps": [
        Scenario("1k conns, rooms of 10 (sweep)", 100, 10, (10, 20, 40, 80)),
        Scenario("5k conns, rooms of 10 (sweep)", 500, 10, (2, 4, 8)),
        Scenario("10k conns, rooms of 10 (sweep)", 1000, 10, (1, 2, 4)),
        Scenario("one room of 1,000 (sweep)", 1, 1000, (5, 10, 20, 40), join_rate=50.0),
    ],
}
SCENARIOS["all"] = SCENARIOS["targets"] + SCENARIOS["sweeps"]
SCENARIOS["sweep1k"] = SCENARIOS["sweeps"][:1]
SCENARIOS["sweep5k"] = SCENARIOS["sweeps"][1:2]
SCENARIOS["sweep10k"] = SCENARIOS["sweeps"][2:3]
SCENARIOS["compare"] = SCENARIOS["targets"] + SCENARIOS["sweep1k"]
# The same 1k rooms-of-10 workload at low rates, where the Channels baselines saturate.
SCENARIOS["sweep1k-low"] = [Scenario("1k conns, rooms of 10 (low sweep)", 100, 10, (1, 2, 4, 8))]
SCENARIOS["quick"] = [
    Scenario("quick: 200 conns, rooms of 10", 20, 10, (10,), "smoke test", 20.0),
]


def wait_port(port: int, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout_s} s")


#: The Python that Debian's syncplay-server package is installed for.
SYSTEM_PYTHON = "/usr/bin/python3"
#: Where a Syncplay server's port is chosen (inclusive).
SYNCPLAY_PORT_RANGE = (20000, 20999)


class ServerUnderTest:
    """A server process (and its helpers) pinned to core 0.

    *port_range* (lo, hi), when given, is where its port is chosen; otherwise any
    free port."""

    def __init__(
        self,
        kind: str,
        tmp: Path,
        root: Path = ROOT,
        port_range: tuple[int, int] | None = None,
    ) -> None:
        self.root = root
        self.kind = kind
        self.tmp = tmp
        if port_range is None and kind == "syncplay":
            port_range = SYNCPLAY_PORT_RANGE
        self.port_range = port_range
        self.port = self._pick_port()
        self.procs: list[subprocess.Popen[bytes]] = []
        self.main: subprocess.Popen[bytes] | None = None

    def _pick_port(self) -> int:
        return free_port_in(*self.port_range) if self.port_range else free_port()

    def start(self) -> None:
        """Start the server; one retry on a fresh port if it does not come up (the
        free port may have been taken meanwhile). Raises RuntimeError with the log."""
        try:
            self._start()
        except RuntimeError:
            self.stop()
            self.procs.clear()
            self.port = self._pick_port()
            try:
                self._start()
            except RuntimeError as exc:
                log = (self.tmp / f"{self.kind}.log").read_text(errors="replace")[-3000:]
                raise RuntimeError(f"{exc}; server log:\n{log}") from None

    def _start(self) -> None:
        log = open(self.tmp / f"{self.kind}.log", "ab")
        if self.kind == "watchparty":
            # python -m sync_server is the watchparty console script; run from
            # --server-root it serves that tree (a scratch copy with a candidate fix).
            cmd = [
                "taskset",
                "-c",
                "0",
                str(PROJECT_PYTHON),
                "-m",
                "sync_server",
                "serve-sync",
                "--port",
                str(self.port),
                "--db",
                str(self.tmp / "fanout.db"),
                "--no-demo",
                "--log-level",
                "WARNING",
                "--max-connections",
                "25000",
                "--max-rooms",
                "5000",
                "--max-participants-per-room",
                "1000",
            ]
            self.main = subprocess.Popen(cmd, cwd=self.root, stdout=log, stderr=log)
        elif self.kind == "syncplay":
            # No password (nor one from the environment), no MOTD file, a fixed salt
            # (only used for managed rooms); rooms isolated, so that a join is announced
            # to its own room, not to every connection on the server.
            env = {k: v for k, v in os.environ.items() if not k.startswith("SYNCPLAY_")}
            cmd = [
                "taskset",
                "-c",
                "0",
                SYSTEM_PYTHON,
                str(BENCH_DIR / "syncplay_server.py"),
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--isolate-rooms",
                "--salt",
                "bench",
            ]
            self.main = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=log)
        else:
            env = dict(
                os.environ,
                PYTHONPATH=str(ROOT),
                DJANGO_SETTINGS_MODULE="bench.baseline_channels.settings",
            )
            if self.kind == "channels-redis":
                rport = free_port()
                redis = subprocess.Popen(
                    [
                        "taskset",
                        "-c",
                        "0",
                        "redis-server",
                        "--port",
                        str(rport),
                        "--bind",
                        "127.0.0.1",
                        "--save",
                        "",
                        "--appendonly",
                        "no",
                        "--protected-mode",
                        "yes",
                    ],
                    stdout=log,
                    stderr=log,
                )
                self.procs.append(redis)
                wait_port(rport)
                env.update(BASELINE_LAYER="redis", BASELINE_REDIS_PORT=str(rport))
            else:
                env.update(BASELINE_LAYER="memory")
            cmd = [
                "taskset",
                "-c",
                "0",
                str(BENCH_VENV / "bin" / "daphne"),
                "-b",
                "127.0.0.1",
                "-p",
                str(self.port),
                "--verbosity",
                "0",
                "bench.baseline_channels.asgi:application",
            ]
            self.main = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=log)
        self.procs.append(self.main)
        wait_port(self.port)

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.procs if p.poll() is None]

    def stop(self) -> None:
        for p in reversed(self.procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in reversed(self.procs):
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def versions_of(kind: str) -> str:
    if kind == "watchparty":
        return "watchparty (this tree)"
    if kind == "syncplay":
        out = subprocess.run(
            [
                "dpkg-query",
                "-W",
                "-f",
                "${Package} ${Version}, ",
                "syncplay-server",
                "python3-twisted",
            ],
            capture_output=True,
            text=True,
        ).stdout.strip(" ,")
        return out or "syncplay-server not installed (bash bench/setup.sh)"
    out = subprocess.run(
        [
            str(BENCH_VENV / "bin" / "python"),
            "-c",
            "import importlib.metadata as m;print(' '.join(f'{d} {m.version(d)}' for d in "
            "('daphne','channels','channels-redis','Django','Twisted')))",
        ],
        capture_output=True,
        text=True,
    ).stdout.strip()
    if kind == "channels-redis":
        out += (
            " · "
            + subprocess.run(
                ["redis-server", "--version"], capture_output=True, text=True
            ).stdout.split(" sha")[0]
        )
    return out


def profile_summary(raw: Path, top: int = 14) -> dict[str, Any]:
    """Self and inclusive sample shares per function from py-spy's raw output."""
    self_c: Counter[str] = Counter()
    incl_c: Counter[str] = Counter()
    total = 0
    idle = 0
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count_s = line.rpartition(" ")
        if not stack or not count_s.isdigit():
            continue  # not a collapsed stack (a message py-spy wrote to the same file)
        n = int(count_s)
        frames = [
            f.split(" (")[0] + " (" + f.split(" (")[1].split(":")[0].split("/")[-1] + ")"
            if " (" in f
            else f
            for f in stack.split(";")
        ]
        total += n
        leaf = frames[-1]
        if (
            "poll (_io_epoll.py)" in leaf
            or leaf.startswith("epoll")
            or "select (selectors.py)" in leaf
        ):
            idle += n
        self_c[leaf] += n
        for f in set(frames):
            incl_c[f] += n
    return {
        "samples": total,
        "idle_share": idle / total if total else 0.0,
        "self": [(f, c / total) for f, c in self_c.most_common(top)],
        "inclusive": [(f, c / total) for f, c in incl_c.most_common(top + 10)],
    }


def run_scenario(
    kind: str,
    sc: Scenario,
    args: argparse.Namespace,
    tmp: Path,
    *,
    encoding: str = "msgpack",
    port_range: tuple[int, int] | None = None,
    idle_s: float = 0.0,
) -> dict[str, Any]:
    """One server process for one scenario: connect, then each rate as a step.

    Args:
        kind: ``watchparty``, ``channels-memory``, ``channels-redis`` or ``syncplay``.
        encoding: watchparty's encoding for the load generator (``msgpack`` or
            ``json``); the Channels baseline speaks msgpack only, Syncplay JSON lines.
        port_range: (lo, hi) for the server's port; any free port if None.
        idle_s: seconds to hold the joined connections idle before the steps (s); the
            result's ``idle`` then has the server's CPU (cores) and RSS (KiB) over it,
            and the start RSS is read after a 1 s settle.

    Returns:
        ``{"server", "scenario", "encoding", "steps": [step_end events + server
        CPU, RSS and the load average at the step's start], "connect", ...}``.
    """
    server = ServerUnderTest(kind, tmp, Path(args.server_root).resolve(), port_range)
    server.start()
    if idle_s:
        time.sleep(1.0)  # let the server finish starting before its baseline RSS
    rss0 = sum(proc_rss_kib(p) for p in server.pids)
    steps: list[dict[str, Any]] = []
    result: dict[str, Any] = {
        "server": kind,
        "encoding": encoding,
        "scenario": sc.name,
        "steps": steps,
    }
    cmd = [
        "taskset",
        "-c",
        "1",
        str(PROJECT_PYTHON),
        "-m",
        "bench.loadgen",
        "--port",
        str(server.port),
        "--rooms",
        str(sc.rooms),
        "--room-size",
        str(sc.room_size),
        "--rates",
        ",".join(f"{r:g}" for r in sc.rates),
        "--duration",
        str(args.duration),
        "--playback-every",
        str(args.playback_every),
        "--join-rate",
        str(args.join_rate or sc.join_rate),
        "--idle-s",
        str(idle_s),
    ]
    if kind == "syncplay":
        cmd[cmd.index("--playback-every") + 1] = "0"  # no plain-broadcast seek: chat only
        cmd += ["--protocol", "syncplay"]
    elif kind == "watchparty":
        cmd += ["--encoding", encoding]
    print(f"== {kind} ({encoding}): {sc.name}", file=sys.stderr, flush=True)
    gen = subprocess.Popen(
        cmd,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=sys.stderr if args.verbose else subprocess.DEVNULL,
    )
    meters: list[CpuMeter] = []
    loadavg: list[str] = []
    prof: subprocess.Popen[bytes] | None = None
    prof_path = tmp / f"profile-{kind}-{len(steps)}.txt"
    idle_meters: list[CpuMeter] = []
    deadline = time.monotonic() + 900 + idle_s + len(sc.rates) * (args.duration + 30)
    killer = threading.Timer(max(1.0, deadline - time.monotonic()), gen.kill)
    killer.start()
    try:
        assert gen.stdout is not None
        for raw in gen.stdout:
            ev = json.loads(raw)
            if ev["event"] == "connected":
                result["connect"] = ev
                result["rss_connected_kib"] = sum(proc_rss_kib(p) for p in server.pids)
            elif ev["event"] == "idle_start":
                idle_meters = [CpuMeter(p) for p in server.pids]
            elif ev["event"] == "idle_end":
                # The load generator holds its connections a moment after idle_end.
                cpu = [m.read() for m in idle_meters]
                result["idle"] = {
                    **ev,
                    "server_cpu_cores": sum(c["cores"] for c in cpu),
                    "server_rss_kib": sum(proc_rss_kib(p) for p in server.pids),
                }
            elif ev["event"] == "step_start":
                loadavg = Path("/proc/loadavg").read_text().split()[:3]
                meters = [CpuMeter(p) for p in server.pids]
                last = ev["rate_per_room"] == sc.rates[-1]
                if args.profile and last and kind in args.profile_servers.split(","):
                    spy = BENCH_VENV / "bin" / "py-spy"
                    prof = subprocess.Popen(
                        [
                            str(spy),
                            "record",
                            "-p",
                            str(server.main.pid),  # type: ignore[union-attr]
                            "-d",
                            str(max(3, int(args.duration) - 2)),
                            "-r",
                            "200",
                            "-f",
                            "raw",
                            "-o",
                            str(prof_path),
                            "--nonblocking",
                        ],
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL,
                    )
            elif ev["event"] == "step_end":
                cpu = [m.read() for m in meters]
                ev["server_cpu_cores"] = sum(c["cores"] for c in cpu)
                ev["server_cpu_s"] = sum(c["cores"] * c["wall_s"] for c in cpu)
                ev["loadavg"] = loadavg
                ev["server_cpu_parts"] = [round(c["cores"], 3) for c in cpu]
                ev["server_rss_kib"] = sum(proc_rss_kib(p) for p in server.pids)
                steps.append(ev)
                lat = ev["latency_ms"]
                print(
                    f"   {ev['rate_per_room']:g}/room: {ev['deliveries_per_s']:.0f} deliveries/s "
                    f"(offered {ev['offered_deliveries_per_s']:.0f}), "
                    f"p50 {lat['p50'] or 0:.1f} p99 {lat['p99'] or 0:.1f} "
                    f"max {lat['max'] or 0:.1f} ms, lost {ev['lost']}, "
                    f"resyncs {ev.get('resyncs', 0)}, server {ev['server_cpu_cores']:.2f} cores, "
                    f"loadgen {ev['loadgen_cpu_cores']:.2f}",
                    file=sys.stderr,
                    flush=True,
                )
        gen.wait()
    finally:
        killer.cancel()
        if gen.poll() is None:
            gen.kill()
        if prof is not None:
            try:
                prof.wait(timeout=60)
            except subprocess.TimeoutExpired:
                prof.kill()
        server.stop()
    result["rss_start_kib"] = rss0
    if prof is not None and prof_path.exists():
        result["profile"] = profile_summary(prof_path)
        keep = (
            ROOT
            / "bench"
            / "results"
            / f"profile-{kind}-{sc.rooms}x{sc.room_size}-{time.strftime('%Y%m%d-%H%M%S')}.txt"
        )
        keep.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(prof_path, keep)
        result["profile_file"] = str(keep.relative_to(ROOT))
    return result


def verdict(sc: Scenario, step: dict[str, Any]) -> str:
    if sc.p99_target_ms is None:
        return ""
    p99 = step["latency_ms"]["p99"] or float("inf")
    covered = (
        step.get("chat_recovered_by_resync", 0)
        + step.get("seeks_superseded_by_resync", 0)
        + step.get("seeks_coalesced", 0)
    )
    full = step["lost"] == 0 and step["deliveries"] + covered >= step["expected_deliveries"] > 0
    rate_ok = step["deliveries_per_s"] >= 0.95 * step["offered_deliveries_per_s"]
    ok = full and rate_ok and p99 < sc.p99_target_ms
    if ok and step.get("resyncs"):
        return f"met, with {step['resyncs']} resyncs"
    return "met" if ok else "**missed**"


def render(
    args: argparse.Namespace,
    env: dict[str, Any],
    results: list[dict[str, Any]],
    server_versions: dict[str, str],
) -> str:
    out = ["### Fan-out", "", env_block(env, command_line("bench.fanout"))]
    for kind, v in server_versions.items():
        out.append(f"- server `{kind}`: {v}")
    wp_env = {k: v for k, v in os.environ.items() if k.startswith("WATCHPARTY_")}
    if wp_env:
        out.append(
            "- **server settings from the environment** (not the defaults): "
            + ", ".join(f"`{k}={v}`" for k, v in sorted(wp_env.items()))
        )
    if Path(args.server_root).resolve() != ROOT:
        out.append(
            f"- **watchparty served from the scratch tree {args.server_root}, not this repository**"
        )
    out.append(
        f"- server pinned to core 0, load generator (bench/loadgen.py, one process) to core 1; "
        f"{args.duration:g} s of sending per step; every {args.playback_every}th message a seek, "
        "the rest chat"
    )
    out.append("")
    rows = []
    for r in results:
        sc = next(s for group in SCENARIOS.values() for s in group if s.name == r["scenario"])
        for st in r["steps"]:
            lat = st["latency_ms"]
            rows.append(
                [
                    r["server"],
                    r["scenario"],
                    f"{st['rate_per_room']:g}",
                    f"{st['offered_deliveries_per_s']:.0f}",
                    f"{st['deliveries_per_s']:.0f}",
                    f"{lat['p50'] or 0:.1f} / {lat['p99'] or 0:.1f} / {lat['max'] or 0:.0f}",
                    f"{st['lost']} of {st['expected_deliveries']}",
                    _resyncs(st),
                    _errs(st),
                    f"{st['server_cpu_cores']:.2f}",
                    f"{st['loadgen_cpu_cores']:.2f}",
                    f"{st['server_rss_kib'] / 1024:.0f}",
                    verdict(sc, st),
                ]
            )
    out.append(
        md_table(
            [
                "server",
                "scenario",
                "msgs/s/room",
                "offered deliveries/s",
                "delivered/s",
                "latency p50 / p99 / max ms",
                "lost",
                "seeks coalesced; resyncs (members): chat recovered, seeks superseded",
                "errors, closes",
                "server CPU (cores)",
                "loadgen CPU",
                "server RSS MiB",
                "target",
            ],
            rows,
        )
    )
    # Ratios against watchparty, scenario by scenario, step by step.
    base = {
        (r["scenario"], st["rate_per_room"]): st
        for r in results
        if r["server"] == "watchparty"
        for st in r["steps"]
    }
    ratio_rows = []
    for r in results:
        if r["server"] == "watchparty":
            continue
        for st in r["steps"]:
            w = base.get((r["scenario"], st["rate_per_room"]))
            if w is None:
                continue
            ratio_rows.append(
                [
                    r["server"],
                    r["scenario"],
                    f"{st['rate_per_room']:g}",
                    _ratio(w["deliveries_per_s"], st["deliveries_per_s"]),
                    _ratio(st["latency_ms"]["p99"], w["latency_ms"]["p99"]),
                    _ratio(
                        st["server_cpu_cores"] / max(1.0, st["deliveries_per_s"]),
                        w["server_cpu_cores"] / max(1.0, w["deliveries_per_s"]),
                    ),
                ]
            )
    if ratio_rows:
        out += [
            "",
            "Ratios (same run, same load generator): watchparty ÷ baseline for throughput, "
            "baseline ÷ watchparty for p99 latency and CPU per delivery "
            "(above 1: watchparty better).",
            "",
        ]
        out.append(
            md_table(
                [
                    "baseline",
                    "scenario",
                    "msgs/s/room",
                    "delivered/s ratio",
                    "p99 latency ratio",
                    "CPU per delivery ratio",
                ],
                ratio_rows,
            )
        )
    conn_rows = []
    for r in results:
        c = r.get("connect")
        if c:
            conn_rows.append(
                [
                    r["server"],
                    r["scenario"],
                    c["joined"],
                    c["failed"],
                    f"{c['seconds']:.1f}",
                    f"{(c['welcome_p50_ms'] or 0):.0f} / {(c['welcome_max_ms'] or 0):.0f}",
                    f"{r['rss_start_kib'] / 1024:.0f} → {r.get('rss_connected_kib', 0) / 1024:.0f}",
                ]
            )
    out += [
        "",
        md_table(
            [
                "server",
                "scenario",
                "joined",
                "failed",
                "connect phase s",
                "welcome p50 / max ms",
                "RSS MiB start → connected",
            ],
            conn_rows,
        ),
    ]
    for r in results:
        p = r.get("profile")
        if not p:
            continue
        out += [
            "",
            f"<details><summary>py-spy profile: {r['server']}, {r['scenario']}, last step "
            f"({p['samples']} samples of non-idle threads at 200 Hz; "
            f"epoll waits {p['idle_share']:.0%}; raw: {r.get('profile_file')})</summary>",
            "",
        ]
        out.append(
            md_table(["function (self)", "share"], [[f"`{f}`", f"{s:.1%}"] for f, s in p["self"]])
        )
        out.append("")
        out.append(
            md_table(
                ["function (inclusive)", "share"],
                [[f"`{f}`", f"{s:.1%}"] for f, s in p["inclusive"]],
            )
        )
        out += ["", "</details>"]
    return "\n".join(out)


def _resyncs(st: dict[str, Any]) -> str:
    """Resync ``state`` messages: queued events dropped for a member that kept reading,
    replaced by the whole room (dropped chat comes back in its recent chat, dropped
    seeks are superseded by its playback state)."""
    co = st.get("seeks_coalesced", 0)
    if not st.get("resyncs"):
        return f"{co}; -" if co else "-"
    return (
        f"{co}; {st['resyncs']} ({st['resynced_members']}): "
        f"{st['chat_recovered_by_resync']}, {st['seeks_superseded_by_resync']}"
    )


def _errs(st: dict[str, Any]) -> str:
    parts = [f"{k}×{v}" for k, v in st["errors"].items()] + [
        f"close {k}×{v}" for k, v in st["closes"].items()
    ]
    return ", ".join(parts) or "-"


def _ratio(a: float | None, b: float | None) -> str:
    if not a or not b:
        return "-"
    return f"{a / b:.2f}"


def main() -> None:
    p = argparse.ArgumentParser(
        prog="python -m bench.fanout",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument(
        "--servers",
        default="watchparty",
        help="comma-separated: watchparty, channels-memory, channels-redis, syncplay",
    )
    p.add_argument("--scenarios", default="all", help=f"one of {', '.join(SCENARIOS)}")
    p.add_argument(
        "--duration", type=float, default=20.0, help="seconds of sending per step (max 600)"
    )
    p.add_argument("--playback-every", type=int, default=5, help="every Nth message is a seek")
    p.add_argument(
        "--join-rate",
        type=float,
        default=0.0,
        help="override every scenario's join pacing (joins/s)",
    )
    p.add_argument(
        "--profile", action="store_true", help="py-spy the server during each scenario's last step"
    )
    p.add_argument(
        "--profile-servers", default="watchparty", help="which servers --profile applies to"
    )
    p.add_argument("--verbose", action="store_true", help="show the load generator's progress")
    p.add_argument(
        "--server-root",
        default=str(ROOT),
        help="tree whose sync_server/ the watchparty server runs "
        "(a scratch copy with a candidate fix)",
    )
    args = p.parse_args()
    if not 3 <= args.duration <= 600:
        p.error("--duration must be 3..600")
    nofile = raise_nofile(20_000)
    if nofile < 11_000:
        print(f"warning: ulimit -n is {nofile}; 10k connections need more", file=sys.stderr)
    env = environment()
    kinds = args.servers.split(",")
    server_versions = {k: versions_of(k) for k in kinds}
    results = []
    tmp = Path(tempfile.mkdtemp(prefix="wp-fanout-"))
    try:
        for sc in SCENARIOS[args.scenarios]:
            for kind in kinds:
                results.append(run_scenario(kind, sc, args, tmp))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    md = render(args, env, results, server_versions)
    print(md)
    path = write_result("fanout", md, {"args": vars(args), "env": env, "results": results})
    print(f"\n(written to {path.relative_to(ROOT)})", file=sys.stderr)


if __name__ == "__main__":
    main()
