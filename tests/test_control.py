import pytest
from sync_server.control import LocalRoomControl, RemoteRoomControl, ControlError

async def test_remote_and_local(srv):
    remote = RemoteRoomControl(f"ws://127.0.0.1:{srv.server.port}/control", srv.server.secret)
    local = LocalRoomControl(srv.server)
    try:
        r = await remote.create_room(name="Over control", owner_user_id="u1", media={"url": "https://e/x.mp4", "title": "x", "duration_s": 100.0})
        code = r["code"]
        async with srv.client(code, "bob") as bob:
            res = await remote.act(code, user_id="u1", action={"type": "play", "position_s": 5.0})
            ev = await bob.wait_for("playback")
            assert ev["state"]["paused"] is False and ev["by"] == "user:u1"
            with pytest.raises(ControlError) as ei:
                await remote.act(code, user_id="u2", action={"type": "pause"})
            assert ei.value.code == "forbidden"
            assert (await local.get_room(code))["participant_count"] == 1
            assert len(await remote.list_rooms()) == 2
            with pytest.raises(ControlError) as ei:
                await remote.get_room("nope")
            assert ei.value.code == "room_not_found"
    finally:
        await remote.aclose()
