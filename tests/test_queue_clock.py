"""The queue's end of item under a trio MockClock: no socket, the room's timer alone
decides when an item ended (the server's clock is trio's, which jumps ahead whenever
every task waits)."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from sync_server.control import LocalRoomControl
from tests.conftest import run_server
from tests.test_socket_queue import add


@pytest.fixture
def patient_clock() -> trio.testing.MockClock:
    """A MockClock that jumps only after 0.25 s of real idleness: waiting for a
    database worker thread is not idleness (with a threshold of 0, a busy machine let
    the clock jump past the item's end while the play was still being stored)."""
    return trio.testing.MockClock(autojump_threshold=0.25)


async def test_auto_advance_under_a_mock_clock(db_path, patient_clock):
    """A 20-second item ends after 20 seconds of the server's clock (a trio MockClock
    that jumps when all tasks wait): the room's timer plays the next one."""
    async with run_server(db_path, clock=lambda: trio.current_time() * 1000.0) as srv:
        control = LocalRoomControl(srv.server)
        code = (await control.create_room(name="Queue", owner_user_id="owner"))["code"]
        for title in ("long", "after"):
            await control.interact(
                code, user_id="owner", name="Owner", action=add(title, duration_s=20.0)
            )
        played = await control.act(code, user_id="owner", action={"type": "play"})
        live = srv.server.rooms[code]
        end_ms = played["playback"]["server_time_ms"] + 20_000.0
        assert live.room.queue_end_ms() == end_ms
        await trio.sleep_until(end_ms / 1000.0 - 0.001)
        assert live.room.playback.media["title"] == "long"
        await trio.sleep_until(end_ms / 1000.0 + 0.001)
        assert live.room.playback.media["title"] == "after"
        assert live.room.playback.paused is False
        assert live.room.queue.items == []
