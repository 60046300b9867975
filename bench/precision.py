"""Sync precision lab: K client processes with really wrong clocks behind bad links.

One command::

    python -m bench.precision --clients 20 --duration 60

For each case (``--cases sym,asym``) the lab

1. starts the sync server in its own process (``bench.precision_server``) with a
   clock anchored at a value the lab chose, so that the true server time at any
   instant is ``base_ms + CLOCK_MONOTONIC_ms`` in every process;
2. starts a delay proxy on 127.0.0.1 with one port per client: base delay per
   direction drawn from ``--delay-ms`` (20-300 ms), uniform jitter ``--jitter-ms``
   (±30 ms) per chunk, and in the ``asym`` case an asymmetry (up minus down) drawn
   from [-``--asymmetry-ms``, +``--asymmetry-ms``];
3. starts K client processes (``bench.precision_client``, the project's
   ``SyncClient``) under libfaketime with wall-clock offsets in [-1 h, +1 h] and
   rates in [-200, +200] ppm, CLOCK_MONOTONIC left true;
4. when every client has synced, has the host (an un-faked controller connected
   directly) play at 0 s, lets the room play for ``--duration`` seconds, starts a
   late joiner at ``--late-join-at`` of it and makes one client drop and resume at
   ``--reconnect-at``;
5. compares what the clients reported with the truth and prints a markdown block
   (also written to bench/results/).

Every process and every loop is bounded (``--duration`` plus fixed set-up limits) and
stops by itself; only 127.0.0.1 is used.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import trio

from bench.common import ROOT, Summary, command_line, env_block, environment, md_table, write_result
from bench.delayproxy import DelayProxy, Link
from protocol.clock import position_at
from sync_server.client import open_sync_client

FAKETIME_LIBS = (
    "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1",
    "/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1",
    "/usr/lib/faketime/libfaketime.so.1",
)
FRAME_60FPS_MS = 1000.0 / 60.0
HOUR_S = 3600.0


def find_libfaketime() -> str:
    for path in FAKETIME_LIBS:
        if os.path.exists(path):
            return path
    raise SystemExit("libfaketime not found: apt-get install -y faketime")


def mono_ms() -> float:
    return time.monotonic() * 1000.0


@dataclass
class ClientProc:
    """A client process and everything it reported."""

    index: int
    name: str
    link: Link
    offset_s: float
    skew_ppm: float
    late: bool = False
    proc: trio.Process | None = None
    samples: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    synced: trio.Event = field(default_factory=trio.Event)

    def first(self, kind: str, **match: Any) -> dict[str, Any] | None:
        for ev in self.events:
            if ev["k"] == kind and all(ev.get(k) == v for k, v in match.items()):
                return ev
        return None


@dataclass
class Case:
    name: str
    asymmetric: bool


async def read_lines(stream: trio.abc.ReceiveStream, on_line: Any) -> None:
    buf = b""
    async for chunk in stream:
        buf += chunk
        *lines, buf = buf.split(b"\n")
        for line in lines:
            if line.strip():
                on_line(line)


async def start_server(
    base_ms: float, db: Path, args: argparse.Namespace, nursery: trio.Nursery
) -> tuple[trio.Process, int]:
    proc = await trio.lowlevel.open_process(
        [
            sys.executable,
            "-m",
            "bench.precision_server",
            "--base-ms",
            repr(base_ms),
            "--db",
            str(db),
            "--drift-threshold-ms",
            str(args.drift_threshold_ms),
        ],
        cwd=ROOT,
        stdout=__import__("subprocess").PIPE,
    )
    assert proc.stdout is not None
    buf = b""
    with trio.fail_after(30):
        while b"\n" not in buf:
            chunk = await proc.stdout.receive_some(1024)
            if not chunk:
                raise RuntimeError("precision server exited before READY")
            buf += chunk
    line = buf.split(b"\n", 1)[0].decode()
    if not line.startswith("READY "):
        raise RuntimeError(f"unexpected server output {line!r}")
    return proc, int(line.split()[1])


async def spawn_client(
    c: ClientProc, url: str, room: str, args: argparse.Namespace, lib: str, nursery: trio.Nursery
) -> None:
    rate = 1.0 + c.skew_ppm * 1e-6
    env = dict(os.environ)
    env.update(
        LD_PRELOAD=lib,
        FAKETIME=f"{c.offset_s:+.3f}s x{rate:.9f}",
        FAKETIME_DONT_FAKE_MONOTONIC="1",
        PYTHONPATH=str(ROOT),
    )
    cmd = [
        sys.executable,
        "-m",
        "bench.precision_client",
        "--url",
        url,
        "--room",
        room,
        "--name",
        c.name,
        "--skew-ppm",
        f"{c.skew_ppm:.3f}",
        "--drift-factor",
        str(args.drift_factor),
        "--sync-interval-s",
        str(args.sync_interval_s),
        "--encoding",
        "msgpack" if c.index % 2 else "json",
        "--estimator",
        args.estimator,
        "--follow-ms",
        str(args.follow_ms),
        "--max-lifetime-s",
        str(args.duration + 300),
    ]
    import subprocess

    c.proc = await trio.lowlevel.open_process(
        cmd, cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )

    def on_line(line: bytes) -> None:
        try:
            obj = json.loads(line)
        except ValueError:
            return
        if obj.get("k") == "s":
            c.samples.append(obj)
        else:
            c.events.append(obj)
            if obj.get("k") == "synced":
                c.synced.set()

    assert c.proc.stdout is not None
    nursery.start_soon(read_lines, c.proc.stdout, on_line)


async def send_cmd(c: ClientProc, cmd: str) -> None:
    if c.proc is not None and c.proc.stdin is not None:
        try:
            await c.proc.stdin.send_all(cmd.encode() + b"\n")
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass


def make_clients(
    args: argparse.Namespace, case: Case, rng: random.Random, n: int, first: int = 0
) -> list[ClientProc]:
    lo, hi = args.delay_ms
    out = []
    for i in range(first, first + n):
        if case.asymmetric:
            a = rng.uniform(-args.asymmetry_ms, args.asymmetry_ms)
            base = rng.uniform(max(lo, abs(a) / 2 + args.jitter_ms), hi)
            link = Link(up_ms=base + a / 2, down_ms=base - a / 2, jitter_ms=args.jitter_ms)
        else:
            base = rng.uniform(lo, hi)
            link = Link(up_ms=base, down_ms=base, jitter_ms=args.jitter_ms)
        out.append(
            ClientProc(
                index=i,
                name=f"c{i}",
                link=link,
                offset_s=rng.uniform(-args.offset_s, args.offset_s),
                skew_ppm=rng.uniform(-args.skew_ppm, args.skew_ppm),
            )
        )
    return out


async def run_case(args: argparse.Namespace, case: Case, lib: str) -> dict[str, Any]:
    rng = random.Random(f"{args.seed}-{case.name}")
    base_ms = time.time() * 1000.0 - time.monotonic() * 1000.0
    tmp = Path(tempfile.mkdtemp(prefix="wp-precision-"))
    clients = make_clients(args, case, rng, args.clients)
    late = make_clients(args, case, rng, 1, first=args.clients)[0]
    late.late = True
    log: dict[str, Any] = {"case": case.name}
    try:
        async with trio.open_nursery() as nursery:
            server, port = await start_server(base_ms, tmp / "p.db", args, nursery)
            proxy = DelayProxy(port, rng, nursery)
            room = "precision"
            async with open_sync_client(
                f"ws://127.0.0.1:{port}/ws",
                room=room,
                display_name="host",
                create={
                    "name": "Precision lab",
                    "media": {
                        "url": "https://example.org/v.mp4",
                        "title": "lab",
                        "duration_s": 4 * HOUR_S,
                    },
                },
            ) as host:
                for c in clients:
                    url = f"ws://127.0.0.1:{await proxy.add_link(c.link)}/ws"
                    await spawn_client(c, url, room, args, lib, nursery)
                    await trio.sleep(0.05)
                with trio.fail_after(60):
                    for c in clients:
                        await c.synced.wait()
                # Let every client's first heartbeat pong reach the server (its RTT
                # sets the schedule lead).
                await trio.sleep(2.0)
                ack = await host.play(0.0)
                state = ack["playback"]
                log["play_state"] = state
                log["play_sent_m"] = mono_ms()
                start_m = state["server_time_ms"] - base_ms
                end_m = start_m + args.duration * 1000.0
                late_m = start_m + args.late_join_at * args.duration * 1000.0
                reconnect_m = start_m + args.reconnect_at * args.duration * 1000.0
                log.update(start_m=start_m, end_m=end_m)
                did_late = did_reconnect = False
                while mono_ms() < end_m:
                    now = mono_ms()
                    if not did_late and now >= late_m:
                        did_late = True
                        url = f"ws://127.0.0.1:{await proxy.add_link(late.link)}/ws"
                        await spawn_client(late, url, room, args, lib, nursery)
                        log["late_spawn_m"] = mono_ms()
                    if not did_reconnect and now >= reconnect_m:
                        did_reconnect = True
                        await send_cmd(clients[0], "reconnect")
                        log["reconnect_m"] = mono_ms()
                    await trio.sleep(0.1)
                for c in [*clients, late]:
                    await send_cmd(c, "quit")
                with trio.move_on_after(10):
                    for c in [*clients, late]:
                        if c.proc is not None:
                            await c.proc.wait()
            for c in [*clients, late]:
                if c.proc is not None and c.proc.returncode is None:
                    c.proc.kill()
            server.terminate()
            with trio.move_on_after(15):
                await server.wait()
            if server.returncode is None:
                server.kill()
            nursery.cancel_scope.cancel()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return analyse(args, case, clients, late, base_ms, log)


# --- analysis ------------------------------------------------------------------------------
def in_sync_at(
    samples: list[dict[str, Any]],
    since_m: float,
    base_ms: float,
    truth_pos: Any,
    thr: float,
    hold_ms: float,
    need_pos: bool,
) -> float | None:
    """The first sample instant after *since_m* from which the clock error (and, with
    *need_pos*, the position error) stays within *thr* ms for *hold_ms*."""
    cand: float | None = None
    for s in samples:
        if s["m"] < since_m:
            continue
        ok = s["e"] is not None and abs(s["e"] - (base_ms + s["m"])) <= thr
        if ok and need_pos:
            ok = s["p"] is not None and abs(s["p"] - truth_pos(s["m"])) * 1000.0 <= thr
        if ok:
            if cand is None:
                cand = s["m"]
            elif s["m"] - cand >= hold_ms:
                return cand
        else:
            cand = None
    return None


def analyse(
    args: argparse.Namespace,
    case: Case,
    clients: list[ClientProc],
    late: ClientProc,
    base_ms: float,
    log: dict[str, Any],
) -> dict[str, Any]:
    state = log["play_state"]
    start_m, end_m = log["start_m"], log["end_m"]
    thr = args.threshold_ms

    def truth_pos(m: float) -> float:
        return position_at(
            position_s=state["position_s"],
            paused=state["paused"],
            rate=state["rate"],
            reference_ms=state["server_time_ms"],
            at_ms=base_ms + m,
        )

    everyone = [*clients, late]
    # Clock errors, from each connection's first "synced" on.
    clock_err: list[float] = []
    residual: list[float] = []
    per_client: list[dict[str, Any]] = []
    for c in everyone:
        synced_at = {ev["c"]: ev["m"] for ev in c.events if ev["k"] == "synced"}
        errs = [
            s["e"] - (base_ms + s["m"])
            for s in c.samples
            if s["e"] is not None and s["c"] in synced_at and s["m"] >= synced_at[s["c"]]
        ]
        clock_err.extend(errs)
        bias = c.link.asymmetry_ms / 2.0
        residual.extend(e - bias for e in errs)
        # Realised clock: slope of client clock against CLOCK_MONOTONIC.
        pts = [(s["m"], s["l"]) for s in c.samples]
        ppm = math.nan
        if len(pts) > 10:
            (m0, l0), (m1, l1) = pts[0], pts[-1]
            ppm = ((l1 - l0) / (m1 - m0) - 1.0) * 1e6
        per_client.append(
            {
                "name": c.name,
                "up_ms": round(c.link.up_ms, 1),
                "down_ms": round(c.link.down_ms, 1),
                "offset_s": round(c.offset_s, 1),
                "skew_ppm_set": round(c.skew_ppm, 1),
                "skew_ppm_seen": round(ppm, 1),
                "skew_ppm_est": round(c.samples[-1]["sk"], 1)
                if c.samples and c.samples[-1]["sk"] is not None
                else None,
                "clock_err": Summary.of(abs(e) for e in errs),
                "bias_expected_ms": bias,
                "corrections": sum(1 for ev in c.events if ev["k"] == "corr"),
                "play_lead_ms": next(
                    (
                        ev.get("lead_ms")
                        for ev in c.events
                        if ev["k"] == "play" and ev.get("why") == "play"
                    ),
                    None,
                ),
            }
        )

    # Position errors per sampling instant; spread = max - min across clients.
    step = args.sample_ms
    buckets: dict[int, dict[str, float]] = {}
    for c in everyone:
        for s in c.samples:
            if s["p"] is None or s["m"] < start_m:
                continue
            b = round(s["m"] / step)
            buckets.setdefault(b, {})[c.name] = (s["p"] - truth_pos(s["m"])) * 1000.0
    originals = {c.name for c in clients}

    def spreads(lo_m: float, hi_m: float, names: set[str] | None = None) -> list[float]:
        out = []
        for b, errs in buckets.items():
            m = b * step
            if lo_m <= m < hi_m:
                vals = [v for k, v in errs.items() if names is None or k in names]
                if len(vals) >= 2:
                    out.append(max(vals) - min(vals))
        return out

    def abs_errs(lo_m: float, hi_m: float, names: set[str]) -> list[float]:
        return [
            abs(v)
            for b, errs in buckets.items()
            if lo_m <= b * step < hi_m
            for k, v in errs.items()
            if k in names
        ]

    result: dict[str, Any] = {"case": case.name, "per_client": per_client}
    result["clock_err_abs"] = Summary.of(abs(e) for e in clock_err)
    result["clock_err_signed"] = Summary.of(clock_err)
    result["residual_abs"] = Summary.of(abs(e) for e in residual)
    result["bound_ms"] = max(abs(c.link.asymmetry_ms) / 2 for c in everyone)
    result["spread_all"] = Summary.of(spreads(start_m, end_m))
    result["spread_originals"] = Summary.of(spreads(start_m, end_m, originals))
    result["spread_at_start"] = Summary.of(spreads(start_m, start_m + 1000.0, originals))
    result["pos_err_abs"] = Summary.of(abs_errs(start_m, end_m, originals))
    # Checkpoints of simulated playback: sim time = real time x drift factor.
    checkpoints: dict[int, Summary | None] = {}
    for minutes in (1, 10, 60):
        at = start_m + minutes * 60_000.0 / args.drift_factor
        if at <= end_m + 1.0:
            checkpoints[minutes] = Summary.of(spreads(at - 2000.0, at, originals))
        else:
            checkpoints[minutes] = None
    result["checkpoints"] = checkpoints
    # Join to in sync.
    joins = []
    for c in clients:
        ev = c.first("connect", c=1)
        if ev is None:
            continue
        t = in_sync_at(c.samples, ev["m"], base_ms, truth_pos, thr, args.hold_ms, need_pos=False)
        joins.append(math.inf if t is None else t - ev["m"])
    result["join_to_sync_ms"] = Summary.of(joins)
    # Late joiner: clock and position in sync, and the others around its arrival.
    ev = late.first("connect", c=1)
    if ev is not None:
        t = in_sync_at(late.samples, ev["m"], base_ms, truth_pos, thr, args.hold_ms, need_pos=True)
        result["late_join_to_sync_ms"] = None if t is None else t - ev["m"]
        j = late.first("joined", c=1)
        jm = j["m"] if j else ev["m"]
        result["late_others_before"] = Summary.of(abs_errs(jm - 5000, jm, originals))
        result["late_others_after"] = Summary.of(abs_errs(jm, jm + 5000, originals))
    # Reconnect of clients[0].
    rc = clients[0]
    ev = rc.first("connect", c=2)
    if ev is not None:
        t = in_sync_at(rc.samples, ev["m"], base_ms, truth_pos, thr, args.hold_ms, need_pos=False)
        result["reconnect_to_sync_ms"] = None if t is None else t - ev["m"]
        others = originals - {rc.name}
        result["reconnect_others_before"] = Summary.of(abs_errs(ev["m"] - 5000, ev["m"], others))
        result["reconnect_others_after"] = Summary.of(abs_errs(ev["m"], ev["m"] + 5000, others))
        result["reconnect_self_pos_err"] = Summary.of(
            abs_errs(ev["m"], ev["m"] + 10_000, {rc.name})
        )
    result["late_play_events"] = sum(
        1
        for c in clients
        for e in c.events
        if e["k"] == "play" and e.get("why") == "play" and e.get("late")
    )
    result["corrections"] = sum(p["corrections"] for p in per_client)
    result["lead_ms"] = state["server_time_ms"] - (base_ms + log["play_sent_m"])
    return result


def render(args: argparse.Namespace, env: dict[str, Any], results: list[dict[str, Any]]) -> str:
    lines = [
        "### Sync precision lab",
        "",
        env_block(env, command_line("bench.precision")),
        f"- {args.clients} client processes under libfaketime (offsets uniform in ±{args.offset_s:g} s, "
        f"rates uniform in ±{args.skew_ppm:g} ppm), each behind its own proxy link: base delay "
        f"{args.delay_ms[0]:g}-{args.delay_ms[1]:g} ms per direction, jitter ±{args.jitter_ms:g} ms per chunk; "
        f"asym case: asymmetry uniform in ±{args.asymmetry_ms:g} ms; playback {args.duration:g} s, "
        f"drift factor {args.drift_factor:g}; server drift_threshold_ms {args.drift_threshold_ms:g}; "
        + (
            f"players follow their own drift every {args.follow_ms:g} ms (follow_rate); "
            if args.follow_ms > 0
            else "players follow only the server's drift corrections; "
        )
        + f"in sync = within {args.threshold_ms:g} ms for {args.hold_ms / 1000:g} s; clients' estimator: {args.estimator}; "
        f"periodic sync: 4 samples every {args.sync_interval_s:g} s after a 32-sample burst at join",
        "",
    ]
    rows = []
    for r in results:

        def f(s: Summary | None) -> str:
            if s is None or s.n == 0:
                return "not reached"
            return f"{s.p50:.2f} / {s.p99:.2f} / {s.max:.2f}"

        cp = r["checkpoints"]
        rows.append(["clock error \\|est − truth\\| (ms)", r["case"], f(r["clock_err_abs"])])
        if r["case"] == "asym":
            rows.append(["clock error minus asymmetry/2 (ms)", r["case"], f(r["residual_abs"])])
            rows.append(
                ["bound: largest \\|asymmetry\\|/2 (ms)", r["case"], f"{r['bound_ms']:.2f}"]
            )
        rows.append(
            [
                "position spread at the scheduled start, first 1 s (ms)",
                r["case"],
                f(r["spread_at_start"]),
            ]
        )
        rows.append(
            ["position spread over the whole playback (ms)", r["case"], f(r["spread_originals"])]
        )
        rows.append(
            ["\\|position error\\| vs truth, all samples (ms)", r["case"], f(r["pos_err_abs"])]
        )
        for minutes in (1, 10, 60):
            rows.append(
                [
                    f"position spread at {minutes} min of (simulated) playback (ms)",
                    r["case"],
                    f(cp[minutes]),
                ]
            )
        rows.append(["join → in sync (ms)", r["case"], f(r["join_to_sync_ms"])])
        lj = r.get("late_join_to_sync_ms")
        rows.append(
            [
                "late joiner: join → clock and position in sync (ms)",
                r["case"],
                "not within the run" if lj is None else f"{lj:.0f}",
            ]
        )
        rows.append(
            [
                "others' \\|position error\\| 5 s before / after the late join (ms, p99)",
                r["case"],
                f"{r['late_others_before'].p99:.2f} / {r['late_others_after'].p99:.2f}"
                if "late_others_before" in r
                else "-",
            ]
        )
        rc = r.get("reconnect_to_sync_ms")
        rows.append(
            [
                "reconnect: connect → clock in sync again (ms)",
                r["case"],
                "not within the run" if rc is None else f"{rc:.0f}",
            ]
        )
        if "reconnect_others_before" in r:
            rows.append(
                [
                    "others' \\|position error\\| 5 s before / after the reconnect (ms, p99)",
                    r["case"],
                    f"{r['reconnect_others_before'].p99:.2f} / {r['reconnect_others_after'].p99:.2f}",
                ]
            )
            rows.append(
                [
                    "reconnecting client's \\|position error\\|, 10 s after (ms)",
                    r["case"],
                    f(r["reconnect_self_pos_err"]),
                ]
            )
        rows.append(
            ["plays received after their scheduled instant", r["case"], str(r["late_play_events"])]
        )
        rows.append(["drift corrections received (all clients)", r["case"], str(r["corrections"])])
    lines.append(md_table(["measure", "case", "p50 / p99 / max"], rows))
    lines.append("")
    for r in results:
        lines.append(f"<details><summary>per client, case {r['case']}</summary>\n")
        lines.append(
            md_table(
                [
                    "client",
                    "up ms",
                    "down ms",
                    "offset s",
                    "ppm set",
                    "ppm seen",
                    "ppm est",
                    "\\|clock err\\| p50/p99/max ms",
                    "asym/2 ms",
                    "corrections",
                    "play lead ms",
                ],
                [
                    [
                        p["name"],
                        p["up_ms"],
                        p["down_ms"],
                        p["offset_s"],
                        p["skew_ppm_set"],
                        p["skew_ppm_seen"],
                        p["skew_ppm_est"],
                        f"{p['clock_err'].p50:.2f}/{p['clock_err'].p99:.2f}/{p['clock_err'].max:.2f}",
                        f"{p['bias_expected_ms']:.1f}",
                        p["corrections"],
                        "-" if p["play_lead_ms"] is None else f"{p['play_lead_ms']:.0f}",
                    ]
                    for p in r["per_client"]
                ],
            )
        )
        lines.append("\n</details>\n")
    return "\n".join(lines)


def parse_range(text: str) -> tuple[float, float]:
    lo, hi = (float(x) for x in text.split(","))
    return lo, hi


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.precision",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--clients", type=int, default=20, help="client processes (a late joiner comes on top)"
    )
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of playback measured")
    parser.add_argument(
        "--cases", default="sym,asym", help="sym (symmetric jitter) and/or asym (asymmetric links)"
    )
    parser.add_argument(
        "--delay-ms", type=parse_range, default=(20.0, 300.0), help="base one-way delay range, ms"
    )
    parser.add_argument(
        "--jitter-ms", type=float, default=30.0, help="± uniform jitter per chunk, ms"
    )
    parser.add_argument(
        "--asymmetry-ms", type=float, default=100.0, help="asym case: up−down uniform in ±this, ms"
    )
    parser.add_argument(
        "--offset-s", type=float, default=HOUR_S, help="clock offsets uniform in ±this, s"
    )
    parser.add_argument(
        "--skew-ppm", type=float, default=200.0, help="clock rates uniform in ±this, ppm"
    )
    parser.add_argument(
        "--drift-factor",
        type=float,
        default=1.0,
        help="the simulated players' media clocks drift this many times the clock rate error; "
        "checkpoints are taken at real time x factor (pessimistic, see README)",
    )
    parser.add_argument(
        "--follow-ms",
        type=float,
        default=100.0,
        help="each player checks its drift this often and follows it with "
        "protocol.clock.follow_rate, as the watch page does (0: only the server's "
        "drift_correction messages)",
    )
    parser.add_argument(
        "--drift-threshold-ms", type=float, default=40.0, help="server setting drift_threshold_ms"
    )
    parser.add_argument(
        "--sync-interval-s",
        type=float,
        default=10.0,
        help="clients' periodic time-sync burst interval",
    )
    parser.add_argument(
        "--threshold-ms", type=float, default=FRAME_60FPS_MS, help="'in sync' means within this"
    )
    parser.add_argument(
        "--hold-ms", type=float, default=5000.0, help="... and staying within it this long"
    )
    parser.add_argument("--late-join-at", type=float, default=0.4, help="fraction of the playback")
    parser.add_argument("--reconnect-at", type=float, default=0.6, help="fraction of the playback")
    parser.add_argument(
        "--sample-ms",
        type=float,
        default=100.0,
        help="clients' sampling period (fixed in the client)",
    )
    parser.add_argument("--seed", default="20261121")
    parser.add_argument(
        "--estimator",
        default="project",
        help="clock estimator of the clients: project (protocol/clock.py) or a candidate in bench/estimators.py",
    )
    args = parser.parse_args()
    if not 1 <= args.clients <= 200:
        parser.error("--clients must be 1..200")
    if not 5 <= args.duration <= 4 * HOUR_S:
        parser.error("--duration must be 5..14400 s")
    lib = find_libfaketime()
    env = environment({"libfaketime": _faketime_version()})
    cases = {"sym": Case("sym", False), "asym": Case("asym", True)}
    results = []
    for name in args.cases.split(","):
        print(f"== case {name}", file=sys.stderr, flush=True)
        results.append(trio.run(run_case, args, cases[name], lib))
    md = render(args, env, results)
    print(md)
    path = write_result("precision", md, {"args": vars(args), "env": env, "results": results})
    print(f"\n(written to {path.relative_to(ROOT)})", file=sys.stderr)


def _faketime_version() -> str:
    import subprocess

    out = subprocess.run(
        ["dpkg-query", "-W", "-f=${Version}", "libfaketime"], capture_output=True, text=True
    )
    return out.stdout.strip() or "?"


if __name__ == "__main__":
    main()
