import trio
import trio.lowlevel


async def test_two_clients_chat_and_play(srv):
    async with srv.client("room1", "alice") as a, srv.client("room1", "bob", encoding="json") as b:
        assert a.welcome["participant"]["role"] == "host"
        assert b.welcome["participant"]["role"] == "viewer"
        await a.sync_time(samples=8, spacing_s=0.01)
        await b.sync_time(samples=8, spacing_s=0.01)
        mid = await b.chat("hi all")
        ev = await a.wait_for("chat_message")
        assert ev["message"]["id"] == mid
        await a.play(10.0)
        ev = await b.wait_for("playback")
        assert ev["state"]["paused"] is False
        await trio.lowlevel.checkpoint()
