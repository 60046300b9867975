"""Per-connection send queue: bounded, coalescing, shared-bytes friendly.

Every connection has one :class:`Outbox` and one writer task draining it, so a
broadcast never waits on a slow socket: it only appends to queues. A client that
stops reading fills its own queue and nobody else's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import trio

from protocol.codec import EncodedMessage
from protocol.ratelimit import TokenBucket as TokenBucket  # the one bucket; kept importable here

#: An item is a shared :class:`EncodedMessage`, or a callable building the message at
#: the moment of sending (used for time_sync replies, whose send timestamp must be
#: taken as late as possible).
Item = EncodedMessage | Callable[[], dict[str, Any]]


class OutboxOverflow(Exception):
    """Raised by :meth:`Outbox.put_nowait` when the queue is full: the client is too
    slow and must be closed (close code 4009)."""


class Outbox:
    """A bounded FIFO of outgoing messages with coalescing.

    Args:
        max_items: Most queued messages; one more raises :class:`OutboxOverflow`.
    """

    __slots__ = ("_closed", "_dropped", "_items", "_keys", "_lot", "max_items")

    def __init__(self, max_items: int) -> None:
        self.max_items = max_items
        # [key, item] pairs, oldest first; key may be None. A list, not a deque: an
        # idle connection's empty list costs 56 bytes, a deque 600, and queues are short.
        self._items: list[list[Any]] = []
        self._keys: dict[str, list[Any]] = {}
        self._lot = trio.lowlevel.ParkingLot()
        self._closed = False
        self._dropped = False

    def __len__(self) -> int:
        return len(self._items)

    def put_nowait(self, item: Item, coalesce_key: str | None = None) -> None:
        """Queue *item*.

        Args:
            item: What to send.
            coalesce_key: If a queued item has the same key, it is dropped and *item*
                goes to the back instead (the client only needs the newest, for example
                of the playback state), so the queue does not grow. Moving to the back
                keeps room sequence numbers in increasing order on the wire.

        Raises:
            OutboxOverflow: the queue already holds ``max_items``.
        """
        if self._closed:
            return
        if coalesce_key is not None:
            old = self._keys.pop(coalesce_key, None)
            if old is not None:
                self._items.remove(old)
        if len(self._items) >= self.max_items:
            raise OutboxOverflow(f"send queue full ({self.max_items} messages)")
        entry = [coalesce_key, item]
        self._items.append(entry)
        if coalesce_key is not None:
            self._keys[coalesce_key] = entry
        self._lot.unpark()

    async def get(self) -> Item:
        """Wait for and remove the oldest item.

        Raises:
            trio.EndOfChannel: after :meth:`close`, once what it kept is sent.
        """
        while not self._items:
            if self._closed:
                raise trio.EndOfChannel
            await self._lot.park()
        key, item = self._items.pop(0)
        if key is not None:
            self._keys.pop(key, None)
        return item

    async def get_batch(self, max_items: int) -> list[Item]:
        """Wait for at least one item, then remove and return up to *max_items*,
        oldest first (the writer sends them in one write).

        Raises:
            trio.EndOfChannel: after :meth:`close`, once what it kept is sent.
        """
        while not self._items:
            if self._closed:
                raise trio.EndOfChannel
            await self._lot.park()
        taken = self._items[:max_items]
        del self._items[:max_items]
        for key, _ in taken:
            if key is not None:
                self._keys.pop(key, None)
        return [item for _, item in taken]

    def clear(self) -> None:
        """Drop everything queued (the caller queues a full resync instead)."""
        self._items.clear()
        self._keys.clear()

    def close(self, *, drop: bool = False) -> None:
        """Accept nothing more; the writer drains what is queued, then gets
        EndOfChannel. With *drop*, what is queued is discarded too (a client that
        stopped reading gets no more than its close frame)."""
        self._closed = True
        if drop:
            self._dropped = True
            self._items.clear()
            self._keys.clear()
        self._lot.unpark_all()
