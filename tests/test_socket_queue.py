"""The shared queue over real sockets, in both encodings: add, remove, reorder with a
version (a stale one is refused), skip, vote-skip at the threshold, the server clock
advancing to the next item, and the queue surviving a restart."""

from __future__ import annotations

from typing import Any

import pytest

from sync_server.client import ServerError
from tests.conftest import run_server

ENCODINGS = ["msgpack", "json"]
MEDIA = {"url": "https://example.org/v.mp4", "title": "V", "duration_s": 600.0}

pytestmark = pytest.mark.parametrize("encoding", ENCODINGS)


def add(title: str, duration_s: float | None = 60.0) -> dict[str, Any]:
    return {
        "type": "queue_add",
        "media": {
            "url": f"https://example.org/{title}.mp4",
            "title": title,
            "duration_s": duration_s,
        },
    }


async def refused(client: Any, message: dict[str, Any], code: str) -> ServerError:
    with pytest.raises(ServerError) as info:
        await client.request(message)
    assert info.value.code == code, (message, info.value)
    return info.value


async def test_add_remove_and_reorder(db_path, encoding):
    async with run_server(db_path) as srv:
        await srv.server.create_room("room1", "Room one", media=MEDIA)
        async with (
            srv.client("room1", "alice", encoding=encoding) as a,
            srv.client("room1", "bob", encoding=encoding) as b,
        ):
            assert a.welcome["queue"] == {
                "version": 0,
                "items": [],
                "skip_votes": 0,
                "skip_needed": 1,
            }
            ack = await b.request(add("one"))
            changed = await a.wait_for("queue_changed")
            assert changed["seq"] == ack["seq"]
            assert (changed["action"], changed["by"]) == ("add", b.participant_id)
            (item,) = changed["queue"]["items"]
            assert item["media"]["title"] == "one"
            assert item["added_by_name"] == "bob"
            await a.request(add("two"))
            await a.request(add("three"))
            version = (await a.request(add("four")))["version"]
            assert version == 4

            bad = {"type": "queue_add", "media": {"url": "javascript:alert(1)"}}
            await refused(b, bad, "invalid_message")
            # Bob may remove his own item, not Alice's; Alice (host) removes any.
            queue = (await b.request({"type": "get_state"}))["queue"]
            ids = [i["id"] for i in queue["items"]]
            await refused(b, {"type": "queue_remove", "item_id": ids[1]}, "forbidden")
            await b.request({"type": "queue_remove", "item_id": ids[0]})
            await a.request({"type": "queue_remove", "item_id": ids[1]})
            state = (await a.request({"type": "get_state"}))["queue"]
            assert [i["media"]["title"] for i in state["items"]] == ["three", "four"]
            assert state["version"] == 6

            # Reordering names the version it saw; a stale one is refused, not applied.
            move = {"type": "queue_move", "item_id": ids[3], "to_index": 0}
            error = await refused(a, {**move, "version": 5}, "stale_queue")
            assert error.details == {"version": 6}
            await refused(b, {**move, "version": 6}, "forbidden")  # viewers don't control
            await refused(a, {**move, "version": 6, "to_index": 2}, "invalid_message")
            await refused(a, {**move, "version": 6, "item_id": 999}, "not_found")
            ack = await a.request({**move, "version": 6})
            assert ack["version"] == 7
            moved = await b.wait_for("queue_changed", lambda m: m["action"] == "move")
            assert [i["media"]["title"] for i in moved["queue"]["items"]] == ["four", "three"]


async def test_limit_of_the_queue(db_path, encoding):
    async with run_server(db_path, rate_limit_per_s=10_000.0, rate_limit_burst=10_000) as srv:
        await srv.server.create_room("room1", "Room one", media=MEDIA)
        async with srv.client("room1", "alice", encoding=encoding) as a:
            for i in range(100):
                await a.request(add(f"n{i}"))
            await refused(a, add("one too many"), "invalid_message")
            assert len((await a.request({"type": "get_state"}))["queue"]["items"]) == 100


async def test_skip_and_vote_skip_at_the_threshold(db_path, encoding):
    async with run_server(db_path) as srv:
        await srv.server.create_room("room1", "Room one", media=MEDIA)
        async with (
            srv.client("room1", "alice", encoding=encoding) as a,
            srv.client("room1", "bob", encoding=encoding) as b,
            srv.client("room1", "carol", encoding=encoding) as c,
        ):
            await refused(b, {"type": "vote_skip"}, "invalid_message")  # nothing queued
            for title in ("one", "two"):
                await a.request(add(title))
            await refused(b, {"type": "queue_skip"}, "forbidden")
            await a.request({"type": "queue_skip"})
            playback = await b.wait_for("playback", lambda m: m["action"] == "skip")
            assert playback["state"]["media"]["title"] == "one"
            assert playback["state"]["paused"] is False

            # 3 connected, ratio 0.5: two votes skip.
            vote = await b.request({"type": "vote_skip"})
            progress = await a.wait_for("queue_changed", lambda m: m["seq"] == vote["seq"])
            assert progress["action"] == "vote_skip"
            assert (progress["queue"]["skip_votes"], progress["queue"]["skip_needed"]) == (1, 2)
            await refused(b, {"type": "vote_skip"}, "already_voted")  # counted once
            await c.request({"type": "vote_skip"})
            advanced = await a.wait_for("playback", lambda m: m["action"] == "vote_skip")
            assert advanced["state"]["media"]["title"] == "two"
            state = (await a.request({"type": "get_state"}))["queue"]
            assert (state["items"], state["skip_votes"]) == ([], 0)

            await a.request({"type": "update_settings", "settings": {"voteskip_ratio": 1.0}})
            assert (await a.request({"type": "get_state"}))["queue"]["skip_needed"] == 3


async def test_the_server_clock_plays_the_next_item(db_path, encoding):
    async with run_server(db_path) as srv:
        await srv.server.create_room("room1", "Room one")
        async with srv.client("room1", "alice", encoding=encoding) as a:
            # With nothing loaded, the first item is loaded at once (paused).
            await a.request(add("short", duration_s=1.0))
            loaded = await a.wait_for("playback", lambda m: m["action"] == "advance")
            assert (loaded["state"]["media"]["title"], loaded["state"]["paused"]) == ("short", True)
            await a.request(add("next"))
            await a.play()
            # Nobody says the item ended: the room's timer does, at its end.
            changed = await a.wait_for("queue_changed", lambda m: m["action"] == "advance")
            playback = await a.wait_for("playback", lambda m: m["seq"] == changed["seq"] + 1)
            assert playback["action"] == "advance"
            assert playback["by"] is None
            assert playback["state"]["media"]["title"] == "next"
            assert playback["state"]["paused"] is False
            started = loaded["state"]["server_time_ms"]
            assert playback["state"]["server_time_ms"] >= started + 1000.0


async def test_the_queue_survives_a_restart(db_path, encoding):
    async with run_server(db_path) as srv:
        await srv.server.create_room("room1", "Room one", media=MEDIA)
        async with srv.client("room1", "alice", encoding=encoding) as a:
            for title in ("one", "two"):
                await a.request(add(title))
            before = (await a.request({"type": "get_state"}))["queue"]
    async with run_server(db_path) as srv, srv.client("room1", "bob", encoding=encoding) as b:
        after = b.welcome["queue"]
        assert [i["media"]["title"] for i in after["items"]] == ["one", "two"]
        assert after["version"] == before["version"]
        # Ids go on from where they were.
        ack = await b.request(add("three"))
        state = (await b.request({"type": "get_state"}))["queue"]
        assert state["version"] == ack["version"] == before["version"] + 1
        assert state["items"][-1]["id"] == max(i["id"] for i in before["items"]) + 1
