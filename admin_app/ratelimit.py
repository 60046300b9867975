"""In-memory token buckets, one per client address, for the auth endpoints.

A bucket holds up to ``per_min`` tokens and refills at ``per_min / 60`` tokens a
second; a request takes one token or is refused with the time until the next token.
State lives in this process only (a restart or a second process starts afresh),
which is enough to slow password guessing against one server.

Memory is bounded: at most ``max_keys`` addresses are tracked, the least recently
seen being forgotten first (forgetting only ever gives an address a full bucket).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable


class RateLimiter:
    """Token buckets keyed by client address.

    Args:
        per_min: Sustained requests per minute, also the burst; 0 or less turns the
            limiter off.
        clock: Monotonic time in seconds (``trio.current_time`` in the app).
        max_keys: Most addresses tracked at once.
    """

    def __init__(
        self, per_min: float, clock: Callable[[], float], *, max_keys: int = 10_000
    ) -> None:
        self.capacity = float(per_min)
        self.rate_per_s = float(per_min) / 60.0
        self._clock = clock
        self._max_keys = max_keys
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    @property
    def enabled(self) -> bool:
        return self.capacity > 0

    def hit(self, key: str) -> float | None:
        """Take a token for *key*.

        Returns:
            None when allowed; otherwise the seconds until a token is available.
        """
        if not self.enabled:
            return None
        now = self._clock()
        tokens, last = self._buckets.pop(key, (self.capacity, now))
        tokens = min(self.capacity, tokens + (now - last) * self.rate_per_s)
        if tokens >= 1.0:
            self._buckets[key] = (tokens - 1.0, now)
            retry_after = None
        else:
            self._buckets[key] = (tokens, now)
            retry_after = (1.0 - tokens) / self.rate_per_s
        while len(self._buckets) > self._max_keys:
            self._buckets.popitem(last=False)
        return retry_after

    def statistics(self) -> dict[str, int]:
        """How many addresses are tracked."""
        return {"tracked_keys": len(self._buckets)}
