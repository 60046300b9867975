"""Reactions on the media timeline over real sockets, in both encodings: the position
is the server's, a person is rate-limited (an account over all its connections), the
timeline reads back at once and is stored (also what waits when the server stops)."""

from __future__ import annotations

import pytest

from data import reactions as reaction_store
from protocol.clock import position_at
from sync_server.client import ServerError
from tests.conftest import run_server

ENCODINGS = ["msgpack", "json"]
MEDIA = {"url": "https://example.org/v.mp4", "title": "V", "duration_s": 600.0}
KEY = f"url:{MEDIA['url']}"

pytestmark = pytest.mark.parametrize("encoding", ENCODINGS)


def room_position(pb: dict, at_ms: float) -> float:
    return position_at(
        position_s=pb["position_s"],
        paused=pb["paused"],
        rate=pb["rate"],
        reference_ms=pb["server_time_ms"],
        at_ms=at_ms,
        duration_s=600.0,
    )


async def test_position_is_the_servers_and_the_timeline_reads_back(db_path, encoding):
    async with run_server(db_path) as srv:
        await srv.server.create_room("room1", "Room one", media=MEDIA)
        async with (
            srv.client("room1", "alice", encoding=encoding) as a,
            srv.client("room1", "bob", encoding=encoding) as b,
        ):
            await a.seek(42.4)
            await b.request({"type": "reaction", "emoji": "😂"})
            seen = await a.wait_for("reaction")
            assert seen["participant_id"] == b.participant_id
            assert seen["position_s"] == 42.4  # paused: exactly where the room is
            await a.play()
            before = srv.server.now_ms()
            await b.request({"type": "reaction", "emoji": "🎉"})
            after = srv.server.now_ms()
            seen = await a.wait_for("reaction", lambda m: m["emoji"] == "🎉")
            pb = a.playback
            assert room_position(pb, before) <= seen["position_s"] <= room_position(pb, after)

            timeline = await a.request({"type": "get_reaction_timeline"})
            assert timeline["type"] == "reaction_timeline"
            assert (timeline["media_key"], timeline["bucket_s"]) == (KEY, 1)
            second = int(seen["position_s"])
            assert [42, "😂", 1] in timeline["counts"]
            assert [second, "🎉", 1] in timeline["counts"]
        # Stopping the server stores what waited for the room's timer.
    async with run_server(db_path) as srv:
        stored = await srv.db.read(lambda db: reaction_store.timeline(db, KEY, limit=100))
        assert (42, "😂", 1) in stored
        count, rows = await srv.db.read(
            lambda db: reaction_store.list_reactions(db, "room1", offset=0, limit=10)
        )
        assert count == 2
        assert rows[-1]["position_s"] == 42.4
        assert rows[-1]["display_name"] == "bob"
        # The timeline is the video's: counts add up over rooms and runs.
        async with srv.client("room1", "carol", encoding=encoding) as c:
            await c.request({"type": "reaction", "emoji": "😂"})
            timeline = await c.request({"type": "get_reaction_timeline"})
            assert [42, "😂", 2] in timeline["counts"]


async def test_reactions_are_rate_limited_per_person(db_path, encoding):
    async with run_server(db_path, reaction_rate_per_s=0.01, reaction_burst=3) as srv:
        await srv.server.create_room("room1", "Room one", media=MEDIA)
        token = srv.token("u-1", "Ann")
        async with (
            srv.client("room1", token=token, encoding=encoding) as tab1,
            srv.client("room1", token=token, encoding=encoding) as tab2,
            srv.client("room1", "bob", encoding=encoding) as bob,
        ):
            for tab in (tab1, tab2, tab1):
                await tab.request({"type": "reaction", "emoji": "👍"})
            # The account's burst is spent, from either connection.
            for tab in (tab2, tab1):
                with pytest.raises(ServerError) as info:
                    await tab.request({"type": "reaction", "emoji": "👍"})
                assert info.value.code == "rate_limited"
                assert info.value.details["retry_after_ms"] > 0
            # Someone else is not affected.
            await bob.request({"type": "reaction", "emoji": "👍"})
            timeline = await bob.request({"type": "get_reaction_timeline"})
            assert timeline["counts"] == [[0, "👍", 4]]  # refused ones are not counted


async def test_no_media_no_timeline(db_path, encoding):
    async with run_server(db_path) as srv:
        await srv.server.create_room("bare", "No media")
        async with srv.client("bare", "alice", encoding=encoding) as a:
            await a.request({"type": "reaction", "emoji": "👍"})
            reaction = await a.wait_for("reaction")
            assert reaction["position_s"] == 0.0
            timeline = await a.request({"type": "get_reaction_timeline"})
            assert (timeline["media_key"], timeline["counts"]) == (None, [])
