"""Shared helpers of the benchmarks: percentiles, /proc readings, the machine and
version description every result carries, and markdown output.

Nothing here reads a clock other than the un-faked CLOCK_MONOTONIC and wall clock of
the calling process.
"""

from __future__ import annotations

import datetime as _dt
import math
import os
import platform
import shlex
import socket
import subprocess
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = ROOT / "bench"
RESULTS_DIR = BENCH_DIR / "results"
#: Python of the project (load generator, precision lab, watchparty server).
PROJECT_PYTHON = ROOT / ".venv" / "bin" / "python"
#: Python of bench/.venv (py-spy, Django Channels baseline); see bench/setup.sh.
BENCH_VENV = BENCH_DIR / ".venv"
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


def percentile(values: Sequence[float], q: float) -> float:
    """The *q*-th percentile (0-100) of *values* by linear interpolation; NaN if empty.

    *values* must already be sorted ascending.
    """
    n = len(values)
    if n == 0:
        return math.nan
    if n == 1:
        return float(values[0])
    pos = (n - 1) * q / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, n - 1)
    return float(values[lo] + (values[hi] - values[lo]) * (pos - lo))


@dataclass(frozen=True)
class Summary:
    """p50, p99 and max of a sample (NaN when empty), and its size."""

    n: int
    p50: float
    p99: float
    max: float

    @classmethod
    def of(cls, values: Iterable[float]) -> Summary:
        data = sorted(values)
        return cls(
            n=len(data),
            p50=percentile(data, 50),
            p99=percentile(data, 99),
            max=float(data[-1]) if data else math.nan,
        )

    def fmt(self, unit: str = "ms", digits: int = 2) -> str:
        return (
            f"p50 {self.p50:.{digits}f} {unit}, p99 {self.p99:.{digits}f} {unit}, "
            f"max {self.max:.{digits}f} {unit} (n={self.n})"
        )


# --- /proc ---------------------------------------------------------------------------
def proc_cpu_s(pid: int) -> float:
    """User plus system CPU seconds used so far by process *pid* (all its threads)."""
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    # After the comm field: state is fields[0]; utime is field 14 of stat, index 11 here.
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def proc_rss_kib(pid: int) -> int:
    """Resident set size of process *pid*, KiB (VmRSS)."""
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def proc_threads(pid: int) -> int:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("Threads:"):
                return int(line.split()[1])
    return 0


def machine_cpu_s() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far, from /proc/stat."""
    with open("/proc/stat") as fh:
        parts = [int(x) for x in fh.readline().split()[1:]]
    idle = parts[3] + parts[4]
    total = sum(parts[:8])
    return (total - idle) / CLK_TCK, total / CLK_TCK


class CpuMeter:
    """CPU use of a process over an interval, as a fraction of one core."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self._t0 = _mono()
        self._c0 = proc_cpu_s(pid)
        self._m0 = machine_cpu_s()

    def read(self) -> dict[str, float]:
        """{"cores": process CPU / wall, "machine_busy": fraction of all cores busy}."""
        t1, c1, m1 = _mono(), proc_cpu_s(self.pid), machine_cpu_s()
        wall = max(1e-9, t1 - self._t0)
        busy = (m1[0] - self._m0[0]) / max(1e-9, m1[1] - self._m0[1])
        return {"cores": (c1 - self._c0) / wall, "machine_busy": busy, "wall_s": wall}


def _mono() -> float:
    import time

    return time.monotonic()


# --- environment ---------------------------------------------------------------------
def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def free_port_in(lo: int, hi: int) -> int:
    """A TCP port in lo..hi (inclusive) on 127.0.0.1 that was free a moment ago.

    Raises RuntimeError if every port of the range is taken."""
    import random

    ports = list(range(lo, hi + 1))
    random.shuffle(ports)
    for port in ports:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free TCP port in {lo}..{hi} on 127.0.0.1")


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "-"


def _cmd_out(cmd: list[str]) -> str:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "-"


def environment(extra_versions: dict[str, str] | None = None) -> dict[str, Any]:
    """Machine, OS, Python and package versions, and the current load, for a report."""
    cpu = "-"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_kib = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            mem_kib = int(line.split()[1])
    versions = {
        d: _version(d)
        for d in ("trio", "trio-websocket", "wsproto", "msgpack", "pydantic", "sqlite-utils")
    }
    git = _cmd_out(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"])
    dirty = _cmd_out(
        ["git", "-C", str(ROOT), "status", "--porcelain", "--", "protocol", "sync_server", "data"]
    )
    return {
        "date": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{os.cpu_count()} cores ({cpu}), {mem_kib / 1048576:.1f} GiB",
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "versions": {**versions, **(extra_versions or {})},
        "git": git
        + (
            " + uncommitted changes in "
            + ", ".join(line.split(maxsplit=1)[-1] for line in dirty.splitlines() if line.strip())
            if dirty
            else ""
        ),
        "loadavg": Path("/proc/loadavg").read_text().split()[:3],
        "ulimit_n": _nofile(),
    }


def _nofile() -> int:
    import resource

    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def raise_nofile(want: int = 20_000) -> int:
    """Raise this process's open-file limit towards *want* (children inherit it)."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = min(want, hard) if hard != resource.RLIM_INFINITY else want
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def command_line(module: str) -> str:
    """The command that started this run, as one would type it from the repo root."""
    return f"python -m {module} {shlex.join(sys.argv[1:])}".strip()


def env_block(env: dict[str, Any], command: str) -> str:
    """The markdown lines naming when, where and how a result was taken."""
    v = ", ".join(f"{k} {val}" for k, val in env["versions"].items())
    return "\n".join(
        [
            f"- date: {env['date']}; machine: {env['machine']}; {env['os']}; "
            f"Python {env['python']}",
            f"- versions: {v}; watchparty git {env['git']}",
            f"- load average at start: {' '.join(env['loadavg'])}; ulimit -n {env['ulimit_n']}",
            f"- command: `{command}`",
        ]
    )


def md_table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        lines.append("| " + " | ".join(str(c) for c in row) + " |")
    return "\n".join(lines)


def write_result(name: str, markdown: str, data: dict[str, Any]) -> Path:
    """Write bench/results/<name>-<timestamp>.md and .json; return the .md path."""
    import json

    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    md_path = RESULTS_DIR / f"{name}-{stamp}.md"
    md_path.write_text(markdown + "\n")
    (RESULTS_DIR / f"{name}-{stamp}.json").write_text(
        json.dumps(data, indent=1, default=str) + "\n"
    )
    return md_path
