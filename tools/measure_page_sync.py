"""Measure how closely two browser watch pages play together.

Starts a sync server and the web app's pages on loopback, opens two headless Chromium
pages (separate contexts: two people) in one room playing the demo clip, has the host
press Play, waits until both pages have settled, then samples both players' positions
for ``--seconds`` of playback and prints p50, p99 and max of their difference (the
pages' samples aligned to one instant; see tests/browser.py).

Run from the repository root (Debian chromium, the playwright package)::

    .venv/bin/python -m tools.measure_page_sync --seconds 20
    .venv/bin/python -m tools.measure_page_sync --viewer-clock-offset-ms 3600000
    .venv/bin/python -m tools.measure_page_sync --screenshot docs/watch-page.png
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import trio

from tests.browser import (
    DEMO_MEDIA,
    Browser,
    join,
    measure_sync,
    open_stack,
    run_in_browser,
    sample,
    wait_playing_in_step,
)

ROOM = "measure"


def _scenario(browser: Browser, base_url: str, args: argparse.Namespace) -> dict[str, Any]:
    host = browser.new_user()
    viewer = browser.new_user(clock_offset_ms=args.viewer_clock_offset_ms)
    join(host, base_url, ROOM, "Alice")
    join(viewer, base_url, ROOM, "Bob")
    started = time.monotonic()
    host.get_by_role("button", name="Play", exact=True).click()
    for page in (host, viewer):
        wait_playing_in_step(page)
    settle_s = time.monotonic() - started
    stats, diffs = measure_sync(host, viewer, args.seconds)
    result: dict[str, Any] = {
        "seconds": args.seconds,
        "viewer_clock_offset_ms": args.viewer_clock_offset_ms,
        "settle_s": round(settle_s, 2),
        "samples": stats.samples,
        "p50_ms": round(stats.p50_ms, 2),
        "p99_ms": round(stats.p99_ms, 2),
        "max_ms": round(stats.max_ms, 2),
        "mean_signed_ms": round(stats.mean_signed_ms, 2),
        "host_end": sample(host),
        "viewer_end": sample(viewer),
        "chromium": browser.chromium.version,
    }
    if stats.max_ms >= args.explain_over_ms:
        # What the two players did around the worst moment.
        worst = max(range(len(diffs)), key=lambda i: abs(diffs[i]))
        result["worst_sample"] = worst
        result["diffs_around_worst_ms"] = [
            round(d, 1) for d in diffs[max(0, worst - 10) : worst + 10]
        ]
        result["host_log"] = host.evaluate("() => window.watchparty.player.log.slice(-40)")
        result["viewer_log"] = viewer.evaluate("() => window.watchparty.player.log.slice(-40)")
    if args.screenshot:
        host.get_by_label("Message").fill("Hi Bob, ready?")
        host.get_by_label("Message").press("Enter")
        viewer.get_by_label("Message").fill("Ready! Same frame here.")
        viewer.get_by_label("Message").press("Enter")
        host.get_by_text("Same frame here").wait_for()
        host.wait_for_function(
            "() => [...document.querySelectorAll('#participants .stats')]"
            ".every(e => !e.textContent.startsWith('drift –'))"
        )
        host.screenshot(path=str(args.screenshot), full_page=True)
    print("page sync:", stats, file=sys.stderr)
    return result


async def _main(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="wp-measure-") as tmp:
        async with open_stack(Path(tmp) / "watchparty.db", stats_interval_s=1.0) as stack:
            await stack.server.create_room(ROOM, "Movie night", media=DEMO_MEDIA)
            result: dict[str, Any] = await run_in_browser(_scenario, stack.base_url, args)
            return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--seconds", type=float, default=20.0, help="seconds of playback to sample (at most 25)"
    )
    parser.add_argument(
        "--viewer-clock-offset-ms",
        type=float,
        default=0.0,
        help="shift the second page's Date.now and performance.now by this many ms",
    )
    parser.add_argument(
        "--explain-over-ms",
        type=float,
        default=50.0,
        help="when the worst difference reaches this, add both players' recent decisions",
    )
    parser.add_argument("--screenshot", type=Path, help="save a screenshot of the host's page here")
    args = parser.parse_args(argv)
    if not 1.0 <= args.seconds <= 25.0:
        parser.error("--seconds must be between 1 and 25 (the demo clip lasts 30 s)")
    result = trio.run(_main, args)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
