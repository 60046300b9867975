"""Per-connection send queue: bounded, coalescing, shared-bytes friendly.

A message to a connection is written straight to its socket while the socket keeps
up; only what the kernel does not take at once waits here, in order, until the
connection's flush task drains it (:mod:`sync_server.connection`). So a broadcast
never waits on a slow socket, and a client that stops reading fills its own queue
and nobody else's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from protocol.codec import EncodedMessage
from protocol.ratelimit import TokenBucket as TokenBucket  # the one bucket; kept importable here

#: An item is a shared :class:`EncodedMessage`, or a callable building the message at
#: the moment of sending (used for time_sync replies, whose send timestamp must be
#: taken as late as possible).
Item = EncodedMessage | Callable[[], dict[str, Any]]


class OutboxOverflow(Exception):
    """Raised by :meth:`Outbox.put_nowait` when the queue is full: the client is too
    slow and must be resynchronised or closed (close code 4009)."""


class Outbox:
    """A bounded FIFO of outgoing messages with coalescing. Not thread-safe; it never
    waits (the connection's flush task polls it with :meth:`take_nowait`).

    Args:
        max_items: Most queued messages; one more raises :class:`OutboxOverflow`.
    """

    __slots__ = ("_closed", "_items", "_keys", "max_items")

    def __init__(self, max_items: int) -> None:
        self.max_items = max_items
        # [key, item] pairs, oldest first; key may be None. A list, not a deque: an
        # idle connection's empty list costs 56 bytes, a deque 600, and queues are short.
        self._items: list[list[Any]] = []
        self._keys: dict[str, list[Any]] | None = None
        self._closed = False

    def __len__(self) -> int:
        return len(self._items)

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called (nothing more is accepted)."""
        return self._closed

    def put_nowait(self, item: Item, coalesce_key: str | None = None) -> None:
        """Queue *item*; nothing happens after :meth:`close`.

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
        keys = self._keys
        if coalesce_key is not None and keys is not None:
            old = keys.pop(coalesce_key, None)
            if old is not None:
                self._items.remove(old)
        if len(self._items) >= self.max_items:
            raise OutboxOverflow(f"send queue full ({self.max_items} messages)")
        entry = [coalesce_key, item]
        self._items.append(entry)
        if coalesce_key is not None:
            if keys is None:
                keys = self._keys = {}
            keys[coalesce_key] = entry

    def take_nowait(self, max_items: int) -> list[Item]:
        """Remove and return up to *max_items*, oldest first (``[]`` when empty)."""
        if not self._items:
            return []
        taken = self._items[:max_items]
        del self._items[:max_items]
        keys = self._keys
        if keys:
            for key, _ in taken:
                if key is not None:
                    keys.pop(key, None)
        return [item for _, item in taken]

    def clear(self) -> None:
        """Drop everything queued (the caller queues a full resync instead)."""
        self._items.clear()
        self._keys = None

    def close(self, *, drop: bool = False) -> None:
        """Accept nothing more. With *drop*, what is queued is discarded too (a client
        that stopped reading gets no more than its close frame)."""
        self._closed = True
        if drop:
            self.clear()
