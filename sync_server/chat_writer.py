"""Group commit of chat messages: one transaction for many messages.

Every chat message is stored before anyone sees it (the sender gets its stored id
back). One transaction per message through the single writer thread caps a busy
server at a few thousand messages a second, so one task collects what is pending and
stores up to ``max_batch`` messages in one transaction, then publishes them in
storage order.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import trio

import data
from data import chat as chat_store

logger = logging.getLogger(__name__)


@dataclass
class _Pending:
    fields: dict[str, Any]
    publish: Callable[[dict[str, Any]], int]
    done: trio.Event = field(default_factory=trio.Event)
    row: dict[str, Any] | None = None
    seq: int = 0
    error: BaseException | None = None


def _insert_one(conn: Any, fields: dict[str, Any]) -> Any:
    return chat_store.insert_message(conn, **fields)


class ChatWriter:
    """Stores chat messages in batches; run :meth:`run` in a nursery.

    Args:
        db: The database.
        max_batch: Most messages in one transaction.
        max_pending: Most messages waiting; :meth:`store` waits for room beyond it.
    """

    def __init__(self, db: data.Database, *, max_batch: int = 32, max_pending: int = 1024) -> None:
        self.db = db
        self.max_batch = max_batch
        self._send, self._recv = trio.open_memory_channel[_Pending](max_pending)
        self.batches = 0
        self.messages = 0

    async def store(
        self, fields: dict[str, Any], publish: Callable[[dict[str, Any]], int]
    ) -> tuple[dict[str, Any], int]:
        """Store one message and publish it.

        Args:
            fields: Keyword arguments of :func:`data.chat.insert_message`.
            publish: Called with the stored row, in storage order, by the writer task
                (adds it to the room and broadcasts it); returns the event's sequence
                number.

        Returns:
            ``(row, seq)``: the stored message and its event's sequence number.

        Raises:
            data.NotFoundError: the room's row is gone (the message was not stored).
        """
        pending = _Pending(fields, publish)
        await self._send.send(pending)
        await pending.done.wait()
        if pending.error is not None:
            raise pending.error
        assert pending.row is not None
        return pending.row, pending.seq

    async def run(self) -> None:
        """Store and publish batches until cancelled."""
        async for first in self._recv:
            batch = [first]
            while len(batch) < self.max_batch:
                try:
                    batch.append(self._recv.receive_nowait())
                except trio.WouldBlock:
                    break
            await self._write(batch)

    async def _write(self, batch: list[_Pending]) -> None:
        rows: list[Any]  # each a stored row, or the exception its insert raised
        try:
            stored: list[Any] = await self.db.write(
                chat_store.insert_messages, [p.fields for p in batch]
            )
            rows = stored
        except Exception:
            # One bad message (its room just deleted) must not fail the others: store
            # each alone to find it.
            rows = []
            for p in batch:
                try:
                    rows.append(await self.db.write(_insert_one, p.fields))
                except Exception as exc:
                    rows.append(exc)
        self.batches += 1
        for p, row in zip(batch, rows, strict=True):
            if isinstance(row, BaseException):
                p.error = row
            else:
                p.row = row
                self.messages += 1
                try:
                    p.seq = p.publish(row)
                except Exception as exc:  # a publisher bug must not stall the others
                    logger.exception("publishing chat message %s failed", row.get("id"))
                    p.error = exc
            p.done.set()
