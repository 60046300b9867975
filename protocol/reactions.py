"""Reactions pinned to the media timeline: a rate limit per person, and the rows a
room hands to storage (counted per second of media, per video).

Pure code: time comes in as ``now_ms`` (milliseconds). The position of a reaction is
the room's playback position at the server instant it arrived, never a client's
claim. Rows are not written one by one: they wait (at most ``flush_delay_ms``) and
the room's timer stores them in one transaction (:meth:`ReactionLog.take_due`).
"""

from __future__ import annotations

import math
from typing import Any

from protocol.errors import E_RATE_LIMITED, ProtocolError
from protocol.ratelimit import TokenBucket

#: Width of a timeline bucket, seconds of media.
BUCKET_S = 1
#: Longest wait of a reaction before it is stored, milliseconds.
FLUSH_DELAY_MS = 1_000.0
#: Rate-limit buckets kept per room before the oldest are forgotten.
MAX_BUCKETS = 4_096
#: Timeline entries (second, emoji) sent at most.
MAX_TIMELINE_ENTRIES = 50_000


def media_key(media: dict[str, Any] | None) -> str | None:
    """The key a media's timeline is stored under: ``video:<id>`` for a library
    video, ``url:<url>`` otherwise; ``None`` without media."""
    if not media:
        return None
    if media.get("video_id"):
        return f"video:{media['video_id']}"
    return f"url:{media['url']}"


def second_of(position_s: float) -> int:
    """The timeline bucket of a media position (seconds)."""
    return math.floor(max(0.0, position_s) / BUCKET_S) * BUCKET_S


class ReactionLog:
    """Rate limits and unsaved reactions of one room.

    Args:
        rate_per_s: Sustained reactions per second per person.
        burst: Reactions a person may send at once.
        flush_delay_ms: Longest wait before a reaction is stored, milliseconds.
    """

    def __init__(
        self, rate_per_s: float, burst: int, flush_delay_ms: float = FLUSH_DELAY_MS
    ) -> None:
        self.rate_per_s = rate_per_s
        self.burst = burst
        self.flush_delay_ms = flush_delay_ms
        self._buckets: dict[str, TokenBucket] = {}
        self.pending: list[dict[str, Any]] = []
        self.flush_due_ms: float | None = None

    def admit(self, key: str, now_ms: float) -> None:
        """Take one reaction from *key*'s allowance.

        Raises:
            ProtocolError: ``rate_limited`` with ``details.retry_after_ms``.
        """
        now_s = now_ms / 1000.0
        bucket = self._buckets.pop(key, None)  # popped and put back: the newest last
        if bucket is None:
            bucket = TokenBucket(self.rate_per_s, self.burst, now_s)
            if len(self._buckets) >= MAX_BUCKETS:
                del self._buckets[next(iter(self._buckets))]
        self._buckets[key] = bucket
        wait_ms = bucket.take(now_s)
        if wait_ms > 0:
            raise ProtocolError(
                E_RATE_LIMITED,
                f"more than {self.rate_per_s:g} reactions per second; slow down",
                {"retry_after_ms": round(wait_ms)},
            )

    def add(self, row: dict[str, Any], now_ms: float) -> bool:
        """Queue a reaction row for storage; True when a flush became due (wake the
        room's timer)."""
        self.pending.append(row)
        if self.flush_due_ms is None:
            self.flush_due_ms = now_ms + self.flush_delay_ms
            return True
        return False

    def take_due(self, now_ms: float) -> list[dict[str, Any]]:
        """The rows to store now (all of them once the flush is due), else ``[]``."""
        if self.flush_due_ms is None or now_ms < self.flush_due_ms:
            return []
        rows, self.pending, self.flush_due_ms = self.pending, [], None
        return rows

    def pending_counts(self, key: str) -> dict[tuple[int, str], int]:
        """Counts of the unsaved reactions of media *key*, by (second, emoji)."""
        counts: dict[tuple[int, str], int] = {}
        for row in self.pending:
            if row["media_key"] == key:
                k = (row["second"], row["emoji"])
                counts[k] = counts.get(k, 0) + 1
        return counts


__all__ = [
    "BUCKET_S",
    "FLUSH_DELAY_MS",
    "MAX_TIMELINE_ENTRIES",
    "ReactionLog",
    "media_key",
    "second_of",
]
