"""Group commit of chat: many messages in one transaction, published in storage order,
one bad message never failing the others."""

from __future__ import annotations

import pytest
import trio

import data
from data import NotFoundError
from data import chat as chat_store
from data import rooms as room_store
from sync_server.chat_writer import ChatWriter
from tests.conftest import run_server


def fields(room: str, text: str) -> dict:
    return {
        "room_code": room,
        "participant_id": "p",
        "user_id": None,
        "display_name": "P",
        "text": text,
        "created_at_ms": 1,
    }


async def test_concurrent_messages_are_batched_and_published_in_id_order(db_path):
    db = await trio.to_thread.run_sync(data.open_database, db_path)
    try:
        await db.write(
            room_store.upsert_room_snapshots,
            [
                {
                    "code": code,
                    "name": code,
                    "settings": {},
                    "state": {},
                    "last_seq": 0,
                    "created_at_ms": 0,
                    "updated_at_ms": 0,
                }
                for code in ("a", "b")
            ],
        )
        writer = ChatWriter(db, max_batch=8)
        published: list[int] = []
        results: dict[str, object] = {}

        async def send(text: str, room: str = "a") -> None:
            try:
                row, seq = await writer.store(
                    fields(room, text), lambda row: published.append(row["id"]) or len(published)
                )
                results[text] = (row["id"], seq)
            except NotFoundError as exc:
                results[text] = exc

        async with trio.open_nursery() as nursery:
            nursery.start_soon(writer.run)
            async with trio.open_nursery() as senders:
                for i in range(40):
                    senders.start_soon(send, f"m{i}")
                senders.start_soon(send, "lost", "no-such-room")
            nursery.cancel_scope.cancel()

        assert isinstance(results["lost"], NotFoundError)
        ids = [results[f"m{i}"][0] for i in range(40)]
        assert len(set(ids)) == 40
        assert published == sorted(published)  # published in storage order
        assert sorted(published) == sorted(ids)
        # seq handed back is the publisher's answer for that very row
        for i in range(40):
            row_id, seq = results[f"m{i}"]
            assert published[seq - 1] == row_id
        assert writer.messages == 40
        assert writer.batches < 40  # grouped
        assert await db.read(chat_store.count_messages, "a") == 40
    finally:
        db.close()


async def test_chat_from_many_clients_is_stored_and_seen_in_seq_order(db_path):
    async with run_server(db_path, rate_limit_burst=100) as srv:
        await srv.server.create_room("busy", "Busy")
        async with srv.client("busy", "watcher") as watcher:
            async with trio.open_nursery() as nursery:
                for n in range(5):

                    async def talk(n: int = n) -> None:
                        async with srv.client("busy", f"talker{n}") as c:
                            for i in range(6):
                                await c.chat(f"{n}-{i}")

                    nursery.start_soon(talk)
            await watcher.wait_for(
                "chat_message", lambda m: len(watcher.chat_log) == 30, timeout_s=10
            )
            ids = [m["id"] for m in watcher.chat_log]
            assert ids == sorted(ids)  # the room's order is storage order
            for n in range(5):
                mine = [m["text"] for m in watcher.chat_log if m["text"].startswith(f"{n}-")]
                assert mine == [f"{n}-{i}" for i in range(6)]
        assert await srv.db.read(chat_store.count_messages, "busy") == 30


@pytest.mark.parametrize("max_batch", [1, 32])
async def test_batch_size_does_not_change_what_is_stored(db_path, max_batch):
    db = await trio.to_thread.run_sync(data.open_database, db_path)
    try:
        await db.write(
            room_store.upsert_room_snapshots,
            [
                {
                    "code": "a",
                    "name": "a",
                    "settings": {},
                    "state": {},
                    "last_seq": 0,
                    "created_at_ms": 0,
                    "updated_at_ms": 0,
                }
            ],
        )
        writer = ChatWriter(db, max_batch=max_batch)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(writer.run)
            rows = [(await writer.store(fields("a", f"t{i}"), lambda row: 0))[0] for i in range(5)]
            nursery.cancel_scope.cancel()
        stored = await db.read(chat_store.recent_messages, "a", 10)
        assert [r["text"] for r in stored] == [f"t{i}" for i in range(5)]
        assert [r["id"] for r in rows] == [r["id"] for r in stored]
    finally:
        db.close()
