"""The reference client's clock handling: injectable clocks, and a local clock that is
stepped (NTP, a laptop waking up) while it is synchronised."""

from __future__ import annotations

import time

import pytest

import sync_server.client as client_module
from sync_server.client import anchored_clock, wall_clock_ms


async def test_a_stepped_local_clock_is_detected_and_resynchronised(srv):
    step_ms = [0.0]

    def clock() -> float:
        return wall_clock_ms() + 2_000.0 + step_ms[0]

    async with srv.client("room1", "stepper", clock=clock) as c:
        await c.sync_time(samples=16, spacing_s=0.01)
        assert abs(c.server_time_ms() - srv.server.now_ms()) < 5.0
        step_ms[0] = 900.0  # the local clock jumps 0.9 s ahead
        # Before new samples the estimate follows the jump: it is off by the step.
        assert abs(c.server_time_ms() - srv.server.now_ms() - 900.0) < 5.0
        await c.sync_time(samples=16, spacing_s=0.01)
        assert c.clock_steps == 1
        assert abs(c.server_time_ms() - srv.server.now_ms()) < 5.0


async def test_no_step_is_reported_for_a_steady_clock(srv):
    async with srv.client("room1", "steady", clock=lambda: wall_clock_ms() - 3_600_000.0) as c:
        for _ in range(3):
            await c.sync_time(samples=8, spacing_s=0.01)
        assert c.clock_steps == 0
        assert abs(c.server_time_ms() - srv.server.now_ms()) < 5.0


def test_the_anchored_clock_reads_unix_time_and_ignores_wall_clock_steps(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = anchored_clock()
    first = clock()
    assert abs(first - wall_clock_ms()) < 50.0
    real_time = time.time
    # The wall clock is stepped an hour ahead; the anchored clock keeps counting.
    monkeypatch.setattr(client_module.time, "time", lambda: real_time() + 3600.0)
    later = clock()
    assert 0.0 <= later - first < 1_000.0
    assert wall_clock_ms() - later > 3_500_000.0


async def test_a_wall_clock_step_does_not_disturb_a_default_client(
    srv, monkeypatch: pytest.MonkeyPatch
):
    async with srv.client("room1", "default") as c:
        await c.sync_time(samples=8, spacing_s=0.01)
        assert abs(c.server_time_ms() - srv.server.now_ms()) < 5.0
        real_time = time.time
        monkeypatch.setattr(client_module.time, "time", lambda: real_time() + 3600.0)
        # No step to detect: the estimate holds before and after new samples.
        assert abs(c.server_time_ms() - srv.server.now_ms()) < 5.0
        await c.sync_time(samples=8, spacing_s=0.01)
        assert c.clock_steps == 0
        assert abs(c.server_time_ms() - srv.server.now_ms()) < 5.0
