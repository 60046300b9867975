"""A client that stops reading costs its room nothing.

The slow client is a raw trio-websocket connection with ``message_queue_size=1``: once
that one slot is full its reader stops taking bytes off the socket, the kernel
buffers fill up, and the server's writer for it blocks. Large chat messages (40 kB
each) fill those buffers quickly; the server's per-connection queue of
``send_queue_max`` messages then overflows and the connection is closed (4009),
while everyone else keeps getting every message on time.
"""

from __future__ import annotations

import pytest
import trio
from trio_websocket import ConnectionClosed, WebSocketConnection, open_websocket_url

from protocol.codec import SUBPROTOCOL_JSON, SUBPROTOCOL_MSGPACK, decode, encode
from protocol.messages import PROTOCOL_VERSION
from sync_server.client import SyncClient
from tests.conftest import ServerHandle, run_server

ENCODINGS = ["msgpack", "json"]
SLOW_CLOSE_S = 1.0
#: Longest a receiver may wait for a message after the sender's ack. A server that
#: let the slow client hold up the broadcast would take slow_close_timeout_s.
ON_TIME_S = SLOW_CLOSE_S / 4
MORE_AFTER_OVERFLOW = 20
MAX_MESSAGES = 2_000  # far more than the buffers of a loopback connection hold
TEXT_CHARS = 10_000
EMOJI = "\U0001f3ac"  # 4 bytes in UTF-8: a 10,000-character text is 40 kB


def other(encoding: str) -> str:
    return "json" if encoding == "msgpack" else "msgpack"


def seqs(client: SyncClient) -> list[int]:
    return [m["seq"] for m in client.events if "seq" in m]


async def read_until_closed(ws: WebSocketConnection, encoding: str) -> tuple[list[int], int | None]:
    """Read everything left; return the chat message ids seen and the close code."""
    received: list[int] = []
    try:
        while True:
            msg = decode(await ws.get_message(), encoding)
            if msg["type"] == "chat_message":
                received.append(msg["message"]["id"])
    except ConnectionClosed as exc:
        return received, exc.reason.code if exc.reason else None


@pytest.mark.parametrize("encoding", ENCODINGS)
async def test_slow_reader_is_closed_and_delays_nobody(db_path, encoding):
    async with run_server(
        db_path,
        send_queue_max=8,
        slow_close_timeout_s=SLOW_CLOSE_S,
        max_chat_chars=TEXT_CHARS,
        rate_limit_per_s=100_000.0,
        rate_limit_burst=100_000,
    ) as srv:
        await srv.server.create_room("room1", "Room one")
        subprotocol = SUBPROTOCOL_MSGPACK if encoding == "msgpack" else SUBPROTOCOL_JSON
        async with (
            srv.client("room1", "sender", encoding=encoding) as sender,
            open_websocket_url(
                srv.url, subprotocols=[subprotocol], message_queue_size=1, disconnect_timeout=1.0
            ) as slow,
        ):
            hello = {"type": "hello", "protocol": PROTOCOL_VERSION, "room": "room1"}
            await slow.send_message(encode({**hello, "display_name": "slow"}, encoding))
            welcome = decode(await slow.get_message(), encoding)
            slow_pid = welcome["participant"]["id"]
            # The slow one joins before the receivers, so every broadcast reaches it
            # before them.
            async with (
                srv.client("room1", "same", encoding=encoding) as r1,
                srv.client("room1", "other", encoding=other(encoding)) as r2,
            ):
                assert list(srv.server.rooms["room1"].members) == [
                    sender.participant_id,
                    slow_pid,
                    r1.participant_id,
                    r2.participant_id,
                ]
                await check_slow_reader(srv, sender, slow, slow_pid, r1, r2, encoding)


async def check_slow_reader(
    srv: ServerHandle,
    sender: SyncClient,
    slow: WebSocketConnection,
    slow_pid: str,
    r1: SyncClient,
    r2: SyncClient,
    encoding: str,
) -> None:
    # From here on the slow client never reads.
    ids: list[int] = []
    sent_after_overflow = 0
    for i in range(MAX_MESSAGES):
        text = f"{i:05d}" + EMOJI * (TEXT_CHARS - 5)
        mid = await sender.chat(text)
        ids.append(mid)
        for receiver in (r1, r2):
            with trio.fail_after(ON_TIME_S):
                ev = await receiver.wait_for(
                    "chat_message", lambda m, mid=mid: m["message"]["id"] == mid
                )
            assert ev["message"]["text"] == text
        if srv.server.counters["closed_too_slow"]:
            sent_after_overflow += 1
            if sent_after_overflow > MORE_AFTER_OVERFLOW:
                break
    else:
        pytest.fail(f"{MAX_MESSAGES} messages of 40 kB never overflowed the queue")
    assert srv.server.counters["closed_too_slow"] == 1
    overflowed_at = len(ids) - sent_after_overflow
    assert overflowed_at > 8  # the kernel buffers took some first

    # Everyone else got every message, in order, each one on time.
    for receiver in (r1, r2):
        got = [m["message"]["id"] for m in receiver.events if m["type"] == "chat_message"]
        assert got == ids
        assert [m["id"] for m in receiver.chat_log] == ids
        assert seqs(receiver) == sorted(set(seqs(receiver)))  # no gap-fill, no reorder
    # The slow one is out of the room; the others were told.
    gone = await r1.wait_for(
        "participant_updated",
        lambda m: m["participant"]["id"] == slow_pid,
        since=0,
    )
    assert gone["participant"]["connected"] is False

    # Reading now, the slow client finds a prefix of the messages, then the end.
    with trio.fail_after(3 * SLOW_CLOSE_S + 2.0):
        received, code = await read_until_closed(slow, encoding)
    assert code in (4009, 1006), code
    assert received == ids[: len(received)]
    assert len(received) < overflowed_at

    # The room goes on.
    mid = await sender.chat("after")
    await r2.wait_for("chat_message", lambda m: m["message"]["id"] == mid)
    stats = srv.server.statistics()
    assert stats["closed_too_slow"] == 1
    assert stats["participants"] == 3


async def test_a_reading_client_behind_a_burst_is_resynced_not_closed(db_path):
    """A burst faster than any socket (here: 30 events of 400 kB broadcast with no
    checkpoint in between, more than the kernel buffers hold) fills a small queue while
    its client reads normally: the server drops the queued events and sends one
    `state` with `resync: true` instead of closing."""
    async with run_server(db_path, send_queue_max=4) as srv:
        await srv.server.create_room("burst", "Burst")
        async with srv.client("burst", "host") as host, srv.client("burst", "viewer") as viewer:
            live = srv.server.rooms["burst"]
            for i in range(30):
                message = {
                    "id": 1000 + i,
                    "participant_id": host.participant_id,
                    "user_id": None,
                    "name": "host",
                    "text": f"burst {i} " + "x" * 400_000,
                    "sent_at_ms": srv.server.now_ms(),
                    "edited_at_ms": None,
                }
                live.broadcast(live.room.add_chat(message))
            resync = await viewer.wait_for("state", lambda m: m.get("resync") is True)
            # The resync is the room at its time; the events after it follow as usual.
            assert resync["seq"] <= live.room.seq
            texts = [m["text"].split()[:2] for m in resync["chat"]]
            assert texts == [["burst", str(i)] for i in range(len(texts))]
            assert srv.server.counters["resyncs"] >= 1
            assert srv.server.counters["closed_too_slow"] == 0
            # Still joined and served, and caught up with every message of the burst.
            reply = await viewer.request({"type": "get_state"})
            assert reply["seq"] == live.room.seq == viewer.seq
            assert [m["text"].split()[:2] for m in viewer.chat_log] == [
                ["burst", str(i)] for i in range(30)
            ]
            assert viewer.close_code is None
