"""Rate limits of the web app: one :class:`protocol.ratelimit.TokenBucket` per client
address and endpoint.

A bucket holds up to ``per_min`` tokens and refills at ``per_min / 60`` tokens a
second; a request takes one token or is refused with the time until the next token.
State lives in this process only (a restart or a second process starts afresh),
which is enough to slow password guessing against one server.

Memory is bounded: at most ``max_keys`` addresses are tracked, the least recently
seen being forgotten first (forgetting only ever gives an address a full bucket).
"""

from __future__ import annotations

import functools
import math
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from quart import request

from protocol.ratelimit import TokenBucket

from .errors import ApiError

F = TypeVar("F", bound=Callable[..., Awaitable[Any]])


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
        self._buckets: OrderedDict[str, TokenBucket] = OrderedDict()

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
        now_s = self._clock()
        bucket = self._buckets.pop(key, None)
        if bucket is None:
            bucket = TokenBucket(self.rate_per_s, self.capacity, now_s)
        self._buckets[key] = bucket  # most recently seen last
        wait_ms = bucket.take(now_s)
        while len(self._buckets) > self._max_keys:
            self._buckets.popitem(last=False)
        return None if wait_ms == 0.0 else wait_ms / 1000.0

    def statistics(self) -> dict[str, int]:
        """How many addresses are tracked."""
        return {"tracked_keys": len(self._buckets)}


def rate_limited(name: str) -> Callable[[F], F]:
    """Refuse a client address over ``auth_rate_limit_per_min`` requests to the
    endpoint *name* with 429 ``rate_limited`` and ``Retry-After`` (whole seconds,
    rounded up)."""

    def decorator(func: F) -> F:
        @functools.wraps(func)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            from .state import state  # state imports this module

            retry_after = state().limiter(name).hit(request.remote_addr or "?")
            if retry_after is not None:
                seconds = max(1, math.ceil(retry_after))
                raise ApiError(
                    429,
                    "rate_limited",
                    f"too many requests to {request.path} from this address; "
                    f"retry after {seconds} s",
                    headers={"Retry-After": str(seconds)},
                )
            return await func(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorator
