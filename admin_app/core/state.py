"""The app's shared state: what every view needs, kept in ``app.extensions``.

Live rooms are reached through ``WebState.rooms``, a
:class:`protocol.control.RoomControl` implemented by the sync server
(``sync_server/control.py``) and, in tests, by an in-memory fake. The web app never
imports the sync server: it only calls these methods, and reads the ``code`` of the
errors they raise (``ControlError`` or the sync protocol's ``ProtocolError``, both
``WatchpartyError`` subclasses; see ``errors.CONTROL_ERROR_STATUS``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import trio
from quart import current_app

from data import Database
from protocol.control import RoomControl  # the one shared interface of the two servers

from .passwords import Passwords
from .ratelimit import RateLimiter
from .settings import WebSettings


@dataclass
class WebState:
    """What every view needs, kept in ``app.extensions["watchparty"]``.

    Attributes:
        config: The ``Config`` the app was made with.
        settings: The web settings read from it.
        db: The open database.
        rooms: Live rooms.
        secret: HS256 key of every token.
        passwords: Password hashing off the event loop.
        clock: Wall clock, Unix seconds (token issue and expiry times).
        limiters: Rate limiters by endpoint name.
    """

    config: Any
    settings: WebSettings
    db: Database
    rooms: RoomControl
    secret: str
    passwords: Passwords
    clock: Callable[[], float] = time.time
    limiters: dict[str, RateLimiter] = field(default_factory=dict)

    def now_s(self) -> float:
        return self.clock()

    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    def limiter(self, name: str) -> RateLimiter:
        """The rate limiter of auth endpoint *name* (created on first use)."""
        limiter = self.limiters.get(name)
        if limiter is None:
            limiter = RateLimiter(self.settings.auth_rate_limit_per_min, trio.current_time)
            self.limiters[name] = limiter
        return limiter


def state() -> WebState:
    """The :class:`WebState` of the current app."""
    return current_app.extensions["watchparty"]  # type: ignore[no-any-return]


__all__ = ["WebState", "state"]
