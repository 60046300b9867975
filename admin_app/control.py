"""The interface the web app drives live rooms through, and the app's shared state.

:class:`RoomControl` is implemented by the sync server (``sync_server/control.py``)
and, in tests, by an in-memory fake. The web app never imports sync server
internals: it only calls these methods, and reads the ``code`` of the errors they
raise (``ControlError`` or the sync protocol's ``ProtocolError``, both
``WatchpartyError`` subclasses; see ``errors.CONTROL_ERROR_STATUS``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import trio
from quart import current_app

from data import Database

from .passwords import Passwords
from .ratelimit import RateLimiter
from .settings import WebSettings


class RoomControl(Protocol):
    """Live rooms, as the web app sees them.

    Room dicts: ``{"code", "name", "settings": {"control", "chat_enabled",
    "wait_for_everyone", "allow_guests"}, "host_id", "owner_user_id",
    "created_at_ms", "participants": [...], "participant_count", "playback":
    {"media", "paused", "position_s", "rate", "server_time_ms", "seq", "waiting"},
    "seq"}``.
    """

    async def create_room(
        self,
        *,
        name: str,
        code: str | None = None,
        settings: dict[str, Any] | None = None,
        media: dict[str, Any] | None = None,
        owner_user_id: str | None = None,
    ) -> dict[str, Any]:
        """Create a live room (stored at once) and return it."""
        ...

    async def get_room(self, code: str) -> dict[str, Any]:
        """Return a live room; raises ``ControlError("room_not_found")``."""
        ...

    async def list_rooms(self) -> list[dict[str, Any]]:
        """Return every live room."""
        ...

    async def act(self, code: str, *, user_id: str, action: dict[str, Any]) -> dict[str, Any]:
        """Apply a playback action with *user_id*'s rights; return ``{"seq", "playback"}``."""
        ...

    async def remove_user(self, code: str, user_id: str) -> int:
        """Remove *user_id*'s participants from a room; return how many."""
        ...

    async def delete_room(self, code: str) -> bool:
        """Close and delete a room; return whether it existed."""
        ...

    async def statistics(self) -> dict[str, Any]:
        """Counters of the sync server (rooms, connections, ...)."""
        ...


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
