"""Polls over real sockets, in both encodings: open, vote, change a vote, close, a
duration that runs out on the server's clock, coalesced live results, the errors, the
final results in SQLite, and open polls surviving a restart.

Waits are for messages, never for time; the one poll with a duration waits for its
``poll_closed`` (1 s, the shortest duration there is).
"""

from __future__ import annotations

from typing import Any

import pytest

from data import polls as poll_store
from sync_server.client import ServerError, SyncClient
from tests.conftest import run_server

ENCODINGS = ["msgpack", "json"]
MEDIA = {"url": "https://example.org/v.mp4", "title": "V", "duration_s": 600.0}

pytestmark = pytest.mark.parametrize("encoding", ENCODINGS)


def poll_msg(**fields: Any) -> dict[str, Any]:
    return {"type": "poll_create", "question": "Next film?", "options": ["A", "B", "C"], **fields}


async def results_where(client: SyncClient, poll_id: int, counts: list[int]) -> dict[str, Any]:
    """The first ``poll_results`` of *poll_id* with these *counts* (coalescing may skip
    intermediate counts, never the last ones)."""
    return await client.wait_for(
        "poll_results", lambda m: m["poll_id"] == poll_id and m["results"]["counts"] == counts
    )


async def test_open_vote_change_and_close(srv, encoding):
    async with (
        srv.client("room1", "alice", encoding=encoding) as a,
        srv.client("room1", "bob", encoding=encoding) as b,
    ):
        ack = await a.request(poll_msg())
        poll_id = ack["poll_id"]
        for c in (a, b):
            opened = await c.wait_for("poll_opened")
            assert opened["seq"] == ack["seq"]
            assert opened["poll"]["id"] == poll_id
            assert opened["poll"]["options"] == ["A", "B", "C"]
            assert opened["poll"]["created_by"] == a.participant_id
            assert opened["poll"]["results"]["counts"] == [0, 0, 0]

        vote = await b.request({"type": "poll_vote", "poll_id": poll_id, "choices": [2]})
        assert (vote["poll_id"], vote["choices"]) == (poll_id, [2])
        await a.request({"type": "poll_vote", "poll_id": poll_id, "choices": [0]})
        seen = await results_where(a, poll_id, [1, 0, 1])
        assert seen["results"]["voter_count"] == 2
        voters = seen["results"]["voters"]
        assert [v["name"] for v in voters[0]] == ["alice"]
        assert [v["name"] for v in voters[2]] == ["bob"]
        await results_where(b, poll_id, [1, 0, 1])

        # Bob changes his mind: his vote moves, it is not added.
        await b.request({"type": "poll_vote", "poll_id": poll_id, "choices": [0]})
        await results_where(a, poll_id, [2, 0, 0])

        close = await a.request({"type": "poll_close", "poll_id": poll_id})
        for c in (a, b):
            closed = await c.wait_for("poll_closed")
            assert closed["seq"] == close["seq"]
            poll = closed["poll"]
            assert (poll["closed"], poll["close_reason"], poll["closed_by"]) == (
                True,
                "closed",
                a.participant_id,
            )
            assert poll["results"]["counts"] == [2, 0, 0]

        with pytest.raises(ServerError) as info:
            await b.request({"type": "poll_vote", "poll_id": poll_id, "choices": [1]})
        assert info.value.code == "poll_closed"

        stored = await srv.db.read(poll_store.get_poll, poll_id)
        assert stored["room_code"] == "room1"
        assert stored["counts"] == [2, 0, 0]
        assert stored["voter_count"] == 2
        assert stored["close_reason"] == "closed"
        assert sorted(v["name"] for v in stored["voters"][0]) == ["alice", "bob"]

        # A late joiner sees the closed poll and its results in the room state.
        async with srv.client("room1", "carol", encoding=encoding) as c:
            (poll,) = c.welcome["polls"]
            assert (poll["id"], poll["closed"]) == (poll_id, True)
            assert poll["results"]["counts"] == [2, 0, 0]


async def test_anonymous_multiple_choice_poll(srv, encoding):
    async with (
        srv.client("room1", "alice", encoding=encoding) as a,
        srv.client("room1", "bob", encoding=encoding) as b,
    ):
        poll_id = (await a.request(poll_msg(anonymous=True, multiple=True)))["poll_id"]
        ack = await b.request({"type": "poll_vote", "poll_id": poll_id, "choices": [2, 0]})
        assert ack["choices"] == [0, 2]
        seen = await results_where(a, poll_id, [1, 0, 1])
        assert seen["results"] == {"counts": [1, 0, 1], "voter_count": 1, "voters": None}
        # A voter sees its own votes again when it reconnects.
        async with srv.client("room1", resume={"session": b.session, "last_seq": b.seq}) as b2:
            assert b2.welcome["poll_votes"] == [{"poll_id": poll_id, "choices": [0, 2]}]
            # An empty vote withdraws it.
            await b2.request({"type": "poll_vote", "poll_id": poll_id, "choices": []})
            await results_where(a, poll_id, [0, 0, 0])


async def test_poll_errors(srv, encoding):
    async with (
        srv.client("room1", "alice", encoding=encoding) as a,
        srv.client("room1", "bob", encoding=encoding) as b,
    ):
        # Viewers may not open polls while the setting is "cohosts" (the default).
        with pytest.raises(ServerError) as info:
            await b.request(poll_msg())
        assert info.value.code == "forbidden"
        for bad in (
            poll_msg(options=["only one"]),
            poll_msg(options=["same", "Same"]),
            poll_msg(options=[str(i) for i in range(11)]),
            poll_msg(question="   "),
            poll_msg(duration_s=0.5),
        ):
            with pytest.raises(ServerError) as info:
                await a.request(bad)
            assert info.value.code == "invalid_message", bad
        single = (await a.request(poll_msg()))["poll_id"]
        for choices in ([3], [0, 1], [1, 1]):
            with pytest.raises(ServerError) as info:
                await b.request({"type": "poll_vote", "poll_id": single, "choices": choices})
            assert info.value.code == "invalid_message", choices
        with pytest.raises(ServerError) as info:
            await b.request({"type": "poll_vote", "poll_id": single + 1000, "choices": [0]})
        assert info.value.code == "not_found"
        with pytest.raises(ServerError) as info:
            await b.request({"type": "poll_close", "poll_id": single})
        assert info.value.code == "forbidden"

        # With "everyone", a viewer opens a poll and may close its own.
        await a.request({"type": "update_settings", "settings": {"polls": "everyone"}})
        own = (await b.request(poll_msg()))["poll_id"]
        await b.request({"type": "poll_close", "poll_id": own})
        with pytest.raises(ServerError) as info:
            await b.request({"type": "poll_close", "poll_id": own})
        assert info.value.code == "poll_closed"
        # Nothing refused was stored: two polls were opened.
        count, rows = await srv.db.read(
            lambda db: poll_store.list_polls(db, "room1", offset=0, limit=10)
        )
        assert count == 2
        assert [r["id"] for r in rows] == [own, single]


async def test_a_poll_closes_itself_when_its_duration_ends(srv, encoding):
    async with srv.client("room1", "alice", encoding=encoding) as a:
        ack = await a.request(poll_msg(duration_s=1.0))
        opened = await a.wait_for("poll_opened")
        await a.request({"type": "poll_vote", "poll_id": ack["poll_id"], "choices": [1]})
        closed = await a.wait_for("poll_closed")
        poll = closed["poll"]
        assert (poll["close_reason"], poll["closed_by"]) == ("expired", None)
        assert poll["closed_at_ms"] >= opened["poll"]["closes_at_ms"]
        assert poll["results"]["counts"] == [0, 1, 0]
        # The room's timer queued the write of the final results before it sent
        # poll_closed; the one writer takes writes in order, so after this one it is done.
        await srv.db.write(lambda db: None)
        stored = await srv.db.read(poll_store.get_poll, ack["poll_id"])
        assert (stored["close_reason"], stored["counts"]) == ("expired", [0, 1, 0])


async def test_open_polls_and_votes_survive_a_restart(db_path, encoding):
    async with run_server(db_path) as srv:
        await srv.server.create_room("room1", "Room one", media=MEDIA)
        async with srv.client("room1", "alice", encoding=encoding) as a:
            poll_id = (await a.request(poll_msg()))["poll_id"]
            await a.request({"type": "poll_vote", "poll_id": poll_id, "choices": [1]})
            session = a.session
    async with run_server(db_path) as srv:
        async with srv.client(
            "room1", resume={"session": session, "last_seq": 0}, encoding=encoding
        ) as a:
            (poll,) = a.welcome["polls"]
            assert (poll["id"], poll["closed"]) == (poll_id, False)
            assert poll["results"]["counts"] == [0, 1, 0]
            assert a.welcome["poll_votes"] == [{"poll_id": poll_id, "choices": [1]}]
            await a.request({"type": "poll_close", "poll_id": poll_id})
        stored = await srv.db.read(poll_store.get_poll, poll_id)
        assert stored["counts"] == [0, 1, 0]


async def test_many_votes_make_few_results_messages(srv, encoding):
    """Twenty voters: everyone gets the final count, and never more results messages
    than votes (none is sent per vote: the room's timer sends them; that a storm
    becomes one message per interval is shown without sockets in
    tests/test_protocol_room.py)."""
    from contextlib import AsyncExitStack

    async with AsyncExitStack() as stack:
        host = await stack.enter_async_context(srv.client("room1", "host", encoding=encoding))
        voters = [
            await stack.enter_async_context(srv.client("room1", f"v{i}", encoding=encoding))
            for i in range(20)
        ]
        poll_id = (await host.request(poll_msg()))["poll_id"]
        mark = host.mark()
        for i, v in enumerate(voters):
            await v.request({"type": "poll_vote", "poll_id": poll_id, "choices": [i % 3]})
        await results_where(host, poll_id, [7, 7, 6])
        for v in voters:
            await results_where(v, poll_id, [7, 7, 6])
        sent = [
            m for m in list(host.events)[-(host.mark() - mark) :] if m["type"] == "poll_results"
        ]
        assert 1 <= len(sent) <= 20
