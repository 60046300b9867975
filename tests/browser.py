"""Browser-test helpers: the watch pages served for real, driven by Playwright.

The stack: a real sync server (``tests.conftest.run_server``) and a real web app serving
the pages (hypercorn on ``127.0.0.1:0``). Playwright's sync API drives Debian's Chromium
headless (``executable_path=/usr/bin/chromium``; never ``playwright install``).

Playwright's async API needs asyncio and fails under trio, and its sync objects belong
to the thread that made them, so a test runs its whole browser part as one function in
one worker thread (:func:`run_in_browser`), while trio keeps serving in the main thread.

Timing: pages are sampled with :data:`SAMPLE_JS`, which returns ``video.currentTime``
and the instant it was read on the browser's clock (``performance.timeOrigin`` plus the
page's *real* ``performance.now()``, saved before any test shifts the page's clocks).
Two pages' samples are aligned to one instant by extrapolating at the room's rate.
"""

from __future__ import annotations

import os
import shutil
import statistics
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import trio

CHROMIUM = os.environ.get("WATCHPARTY_CHROMIUM", "/usr/bin/chromium")

#: Flags this machine needs (no sandbox as root, no GPU, no calls home), plus autoplay.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
    # Pages of a test run side by side: no throttling of hidden or occluded ones.
    "--disable-background-timer-throttling",
    "--disable-renderer-backgrounding",
    "--disable-backgrounding-occluded-windows",
]

#: Playwright's default wait, milliseconds.
DEFAULT_TIMEOUT_MS = 15_000

DEMO_MEDIA = {"url": "/static/demo/demo.webm", "title": "Demo clip", "duration_s": 30.0}

#: Saved before anything else runs in a page, so a shifted clock can still be undone.
REAL_CLOCK_SCRIPT = "window.__wpRealNow = performance.now.bind(performance);"

#: One sample of a page's player: position and the browser-clock instant it was read.
SAMPLE_JS = """() => {
  const v = document.querySelector('video');
  const now = (window.__wpRealNow || performance.now.bind(performance))();
  const wp = window.watchparty;
  const s = wp && wp.client.playback;
  return {
    t_ms: performance.timeOrigin + now,
    position_s: v.currentTime,
    paused: v.paused,
    playback_rate: v.playbackRate,
    room_rate: s ? s.rate : 1,
    seq: s ? s.seq : 0,
    drift_ms: wp ? wp.player.driftMs : null,
  };
}"""


def have_browser() -> bool:
    """Whether Playwright (the Python package) and Chromium are installed."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return False
    return shutil.which(CHROMIUM) is not None or Path(CHROMIUM).exists()


def shifted_clock_script(offset_ms: float) -> str:
    """An init script moving the page's ``Date.now`` and ``performance.now`` by
    *offset_ms* (a laptop whose clock is an hour off, say)."""
    return f"""(() => {{
  const realPerf = performance.now.bind(performance);
  const realDate = Date.now;
  const offset = {float(offset_ms)!r};
  performance.now = () => realPerf() + offset;
  Date.now = () => realDate() + offset;
}})();"""


# --- the servers ---------------------------------------------------------------------------
@dataclass
class Stack:
    """A running sync server and web app (one database, one process)."""

    handle: Any  # tests.conftest.ServerHandle
    web: Any  # admin_app.WebServer

    @property
    def server(self) -> Any:
        return self.handle.server

    @property
    def base_url(self) -> str:
        return str(self.web.url)

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"


@asynccontextmanager
async def open_stack(db_path: Path, **overrides: Any) -> AsyncIterator[Stack]:
    """Start a sync server (settings *overrides*) and the web app on loopback.

    The web app is the real one (``admin_app.serve_web``: pages, REST API, static
    files) on the sync server's database, its rooms the sync server's live rooms, and
    the sync socket URL it gives the pages the server's real one (port 0 is resolved).
    """
    from admin_app import serve_web
    from sync_server.control import LocalRoomControl
    from tests.conftest import run_server
    from tests.web_helpers import FAST_HASHER

    async with run_server(db_path, **overrides) as handle:
        config = handle.server.config.with_changes(
            web_host="127.0.0.1", web_port=0, public_sync_url=handle.url
        )
        async with trio.open_nursery() as nursery:
            web = await nursery.start(
                lambda task_status: serve_web(
                    config,
                    db=handle.db,
                    rooms=LocalRoomControl(handle.server),
                    secret=handle.server.secret,
                    password_hasher=FAST_HASHER,
                    task_status=task_status,
                )
            )
            try:
                yield Stack(handle, web)
            finally:
                nursery.cancel_scope.cancel()


async def run_in_browser(fn: Callable[..., Any], *args: Any) -> Any:
    """Run ``fn(browser, *args)`` in a worker thread with a fresh Chromium.

    Everything Playwright does must happen inside *fn*: its objects belong to the
    thread that made them.
    """
    return await trio.to_thread.run_sync(partial(_with_browser, fn, *args))


def _with_browser(fn: Callable[..., Any], *args: Any) -> Any:
    with open_browser() as browser:
        return fn(browser, *args)


@contextmanager
def open_browser() -> Iterator[Any]:
    """A headless Chromium (Playwright gives it a fresh temporary user data dir)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield Browser(chromium)
        finally:
            chromium.close()


class Browser:
    """A Chromium in which each user gets a context of its own (own storage, own
    cookies), like separate people on separate machines."""

    def __init__(self, chromium: Any) -> None:
        self.chromium = chromium
        self.contexts: list[Any] = []

    def new_user(
        self, *, clock_offset_ms: float = 0.0, viewport: dict[str, int] | None = None
    ) -> Any:
        """A new page in a context of its own.

        Args:
            clock_offset_ms: Shift the page's Date.now and performance.now by this.
            viewport: Page size (default 1280x800).
        """
        context = self.chromium.new_context(viewport=viewport or {"width": 1280, "height": 800})
        context.set_default_timeout(DEFAULT_TIMEOUT_MS)
        script = REAL_CLOCK_SCRIPT
        if clock_offset_ms:
            script += "\n" + shifted_clock_script(clock_offset_ms)
        context.add_init_script(script)
        self.contexts.append(context)
        return context.new_page()


# --- driving the watch page -------------------------------------------------------------
def join(page: Any, base_url: str, room: str, name: str) -> None:
    """Open the watch page of *room*, type *name* in the join form, join, and wait
    until the page is connected with its clock synced."""
    page.goto(f"{base_url}/watch/{room}")
    page.get_by_label("Your name").fill(name)
    page.get_by_role("button", name="Join", exact=True).click()
    wait_connected(page)


def join_by_code(page: Any, base_url: str, room: str, name: str) -> None:
    """On the landing page, join *room* by its code as *name*; returns once the watch
    page is open (it may then connect, or ask for a password or the host's approval)."""
    page.goto(f"{base_url}/")
    page.get_by_label("Room code or link").fill(room)
    page.locator("#join-display-name").fill(name)
    page.get_by_role("button", name="Join room").click()
    page.wait_for_url(f"{base_url}/watch/{room}")


def sign_in(page: Any, base_url: str, token: str, name: str) -> None:
    """Store an access token and display name in the page's browser context, as a
    sign-in would (``identity.js``: localStorage, shared by the context's tabs)."""
    page.goto(f"{base_url}/")
    page.evaluate(
        """([token, name]) => {
          localStorage.setItem('watchparty.token', token);
          localStorage.setItem('watchparty.display_name', name);
        }""",
        [token, name],
    )


def wait_connected(page: Any, timeout_ms: float = DEFAULT_TIMEOUT_MS) -> None:
    page.wait_for_function(
        "() => document.getElementById('conn').dataset.state === 'connected'", timeout=timeout_ms
    )


def wait_playing_in_step(
    page: Any, *, ticks: int = 5, timeout_ms: float = DEFAULT_TIMEOUT_MS
) -> None:
    """Wait until the page plays and its own drift check has found it within 15 ms of
    the room position for *ticks* checks in a row (100 ms apart)."""
    page.wait_for_function(
        """(ticks) => {
          const wp = window.watchparty;
          const v = document.querySelector('video');
          return wp && wp.player.mode === 'playing' && !v.paused && !v.seeking
            && wp.player.steadyTicks >= ticks;
        }""",
        arg=ticks,
        timeout=timeout_ms,
    )


def sample(page: Any) -> dict[str, Any]:
    result: dict[str, Any] = page.evaluate(SAMPLE_JS)
    return result


@dataclass(frozen=True)
class SyncStats:
    """Absolute differences of two pages' positions at one instant, milliseconds."""

    samples: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    mean_signed_ms: float

    def __str__(self) -> str:
        return (
            f"{self.samples} samples: p50 {self.p50_ms:.1f} ms, p99 {self.p99_ms:.1f} ms, "
            f"max {self.max_ms:.1f} ms (mean a-b {self.mean_signed_ms:+.1f} ms)"
        )


def percentile(values: list[float], q: float) -> float:
    """The *q* quantile (0..1) of *values*, nearest rank."""
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def measure_sync(
    a: Any, b: Any, duration_s: float, *, interval_s: float = 0.05
) -> tuple[SyncStats, list[float]]:
    """Sample pages *a* and *b* for *duration_s* seconds of playback.

    Each round reads both pages (in alternating order, so the read delay does not bias
    one side) and aligns b's sample to a's instant at the room's rate. Sleeping
    between rounds is the sampling interval, not a wait for synchronisation.

    Returns:
        The statistics and the signed differences (a minus b, milliseconds).
    """
    diffs: list[float] = []
    deadline = time.monotonic() + duration_s
    flip = False
    while time.monotonic() < deadline:
        first, second = (b, a) if flip else (a, b)
        s1, s2 = sample(first), sample(second)
        sa, sb = (s2, s1) if flip else (s1, s2)
        flip = not flip
        if sa["paused"] or sb["paused"] or sa["seq"] != sb["seq"]:
            raise AssertionError(f"pages not playing the same state: {sa} {sb}")
        rate = sa["room_rate"]
        b_at_a = sb["position_s"] + (sa["t_ms"] - sb["t_ms"]) / 1000.0 * rate
        diffs.append((sa["position_s"] - b_at_a) * 1000.0)
        time.sleep(interval_s)
    absolute = [abs(d) for d in diffs]
    stats = SyncStats(
        samples=len(diffs),
        p50_ms=statistics.median(absolute),
        p99_ms=percentile(absolute, 0.99),
        max_ms=max(absolute),
        mean_signed_ms=statistics.fmean(diffs),
    )
    return stats, diffs


__all__ = [
    "CHROMIUM",
    "CHROMIUM_ARGS",
    "DEMO_MEDIA",
    "SAMPLE_JS",
    "Browser",
    "Stack",
    "SyncStats",
    "have_browser",
    "join",
    "join_by_code",
    "measure_sync",
    "open_browser",
    "open_stack",
    "run_in_browser",
    "sample",
    "shifted_clock_script",
    "sign_in",
    "wait_connected",
    "wait_playing_in_step",
]
