"""The reference client's clock handling: injectable clocks, and a local clock that is
stepped (NTP, a laptop waking up) while it is synchronised."""

from __future__ import annotations

from sync_server.client import wall_clock_ms


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
