"""sync_server.outbox: the per-connection send queue and the token bucket.

The queue never waits: the connection's flush task polls it."""

from __future__ import annotations

from typing import Any

import pytest

from protocol.codec import EncodedMessage
from sync_server.outbox import Outbox, OutboxOverflow, TokenBucket


def msg(n: int) -> EncodedMessage:
    return EncodedMessage({"type": "chat_message", "n": n})


# --- Outbox ------------------------------------------------------------------------------------


def test_fifo_order() -> None:
    outbox = Outbox(max_items=10)
    items = [msg(i) for i in range(5)]
    for item in items:
        outbox.put_nowait(item)
    assert len(outbox) == 5
    assert [outbox.take_nowait(1)[0] for _ in range(5)] == items
    assert len(outbox) == 0


def test_coalescing_moves_the_newest_to_the_back_without_growing() -> None:
    outbox = Outbox(max_items=10)
    first, chat, newer, newest, other = msg(1), msg(2), msg(3), msg(4), msg(5)
    outbox.put_nowait(first, coalesce_key="playback")
    outbox.put_nowait(chat)
    outbox.put_nowait(newer, coalesce_key="playback")
    outbox.put_nowait(other, coalesce_key="stats")
    outbox.put_nowait(newest, coalesce_key="playback")
    assert len(outbox) == 3
    # The newest playback state replaces the older ones at the back of the queue, so
    # sequence numbers stay in increasing order on the wire.
    assert [outbox.take_nowait(1)[0] for _ in range(3)] == [chat, other, newest]
    # Once sent, the key starts a new entry at the back.
    outbox.put_nowait(msg(6))
    again = msg(7)
    outbox.put_nowait(again, coalesce_key="playback")
    assert len(outbox) == 2
    assert (outbox.take_nowait(1)[0]).message["n"] == 6
    assert outbox.take_nowait(1)[0] is again


def test_coalescing_into_a_full_queue_does_not_overflow() -> None:
    outbox = Outbox(max_items=2)
    outbox.put_nowait(msg(1), coalesce_key="playback")
    outbox.put_nowait(msg(2))
    replacement = msg(3)
    outbox.put_nowait(replacement, coalesce_key="playback")
    assert len(outbox) == 2
    with pytest.raises(OutboxOverflow):
        outbox.put_nowait(msg(4), coalesce_key="stats")
    assert (outbox.take_nowait(1)[0]).message["n"] == 2
    assert outbox.take_nowait(1)[0] is replacement


def test_overflow_exactly_at_max_items() -> None:
    outbox = Outbox(max_items=4)
    for i in range(4):
        outbox.put_nowait(msg(i))
    with pytest.raises(OutboxOverflow, match="4 messages"):
        outbox.put_nowait(msg(99))
    assert len(outbox) == 4
    outbox.take_nowait(1)[0]
    outbox.put_nowait(msg(5))  # room again for exactly one
    with pytest.raises(OutboxOverflow):
        outbox.put_nowait(msg(6))


def test_callables_are_queued_as_is() -> None:
    outbox = Outbox(max_items=2)

    def build() -> dict[str, Any]:
        return {"type": "time_sync_reply"}

    outbox.put_nowait(build)
    assert outbox.take_nowait(1)[0] is build


def test_take_nowait_takes_up_to_n_in_order_and_empty_gives_nothing() -> None:
    outbox = Outbox(max_items=8)
    assert outbox.take_nowait(4) == []
    items = [msg(i) for i in range(5)]
    for item in items:
        outbox.put_nowait(item)
    assert outbox.take_nowait(3) == items[:3]
    assert outbox.take_nowait(3) == items[3:]
    assert outbox.take_nowait(3) == []


def test_close_keeps_what_is_queued_and_accepts_nothing_more() -> None:
    outbox = Outbox(max_items=4)
    items = [msg(i) for i in range(3)]
    for item in items:
        outbox.put_nowait(item)
    outbox.close()
    assert outbox.closed
    outbox.put_nowait(msg(99))  # accepted silently and dropped after close
    assert outbox.take_nowait(10) == items


def test_close_with_drop_discards_what_is_queued() -> None:
    outbox = Outbox(max_items=4)
    outbox.put_nowait(msg(1))
    outbox.put_nowait(msg(2), coalesce_key="playback")
    outbox.close(drop=True)
    assert len(outbox) == 0
    assert outbox.take_nowait(10) == []


def test_a_key_taken_out_starts_a_new_entry() -> None:
    outbox = Outbox(max_items=4)
    first = msg(1)
    outbox.put_nowait(first, coalesce_key="playback")
    assert outbox.take_nowait(1) == [first]
    second, third = msg(2), msg(3)
    outbox.put_nowait(second, coalesce_key="playback")
    outbox.put_nowait(third)
    assert outbox.take_nowait(5) == [second, third]


# --- TokenBucket --------------------------------------------------------------------------------


def test_burst_then_refusal_with_retry_ms() -> None:
    bucket = TokenBucket(rate_per_s=10.0, burst=3, now_s=100.0)
    assert [bucket.take(100.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    # Empty: one token takes 1 / 10 s.
    assert bucket.take(100.0) == pytest.approx(100.0)
    # 40 ms later 0.4 of a token has come back: 60 ms to go.
    assert bucket.take(100.04) == pytest.approx(60.0)


def test_refill_over_time_is_capped_at_burst() -> None:
    bucket = TokenBucket(rate_per_s=2.0, burst=4, now_s=0.0)
    for _ in range(4):
        assert bucket.take(0.0) == 0.0
    assert bucket.take(0.0) > 0.0
    assert bucket.take(0.5) == 0.0  # 0.5 s at 2 per s: one token
    assert bucket.take(0.5) == pytest.approx(500.0)
    # A long idle time refills to the burst, not beyond it.
    results = [bucket.take(1_000.0) for _ in range(5)]
    assert results[:4] == [0.0, 0.0, 0.0, 0.0]
    assert results[4] == pytest.approx(500.0)


def test_sustained_rate_is_allowed() -> None:
    # 1/16 s is exact in binary, so exactly one token comes back between takes.
    bucket = TokenBucket(rate_per_s=16.0, burst=1, now_s=0.0)
    assert all(bucket.take(i / 16) == 0.0 for i in range(100))
    assert bucket.take(99 / 16) == pytest.approx(1_000.0 / 16)


def test_time_going_backwards_refills_nothing() -> None:
    bucket = TokenBucket(rate_per_s=1.0, burst=1, now_s=10.0)
    assert bucket.take(10.0) == 0.0
    assert bucket.take(5.0) == pytest.approx(1_000.0)
