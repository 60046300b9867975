"""The token bucket every rate limit of watchparty uses (sync socket messages, web app
auth endpoints). Pure: the caller passes the time in seconds."""

from __future__ import annotations


class TokenBucket:
    """Rate limit by token bucket: *rate_per_s* tokens a second, up to *burst*.

    The bucket starts full. Pure: the caller passes the time in seconds (any
    monotonic clock, the same one for every call).

    Args:
        rate_per_s: Sustained rate, tokens per second (> 0).
        burst: Capacity, tokens (at least 1 for anything to pass).
        now_s: The time of creation, seconds.
    """

    __slots__ = ("_last_s", "_tokens", "burst", "rate_per_s")

    def __init__(self, rate_per_s: float, burst: float, now_s: float) -> None:
        self.rate_per_s = rate_per_s
        self.burst = float(burst)
        self._tokens = float(burst)
        self._last_s = now_s

    def take(self, now_s: float) -> float:
        """Take one token.

        Args:
            now_s: The current time, seconds (a time before the last call counts as
                no time passing).

        Returns:
            0.0 when allowed, else the milliseconds until a token is available.
        """
        elapsed = max(0.0, now_s - self._last_s)
        self._last_s = now_s
        self._tokens = min(self.burst, self._tokens + elapsed * self.rate_per_s)
        if self._tokens >= 1.0 - 1e-9:  # tolerance: exactly the sustained rate passes
            self._tokens = max(0.0, self._tokens - 1.0)
            return 0.0
        return (1.0 - self._tokens) / self.rate_per_s * 1000.0
