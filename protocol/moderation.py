"""Moderation that lasts: the moderator role's place, the per-room permission table,
and mutes and bans with an optional expiry (pure data; the rules are
:mod:`protocol.room_moderation`).

A sanction is held by a *person*: an account (``user:<id>``, whatever connection or
participant id it comes back with) or a guest's participant id (which its session
token carries, so a guest cannot shake it off by reconnecting). Sanctions travel in
the room snapshot, so they survive restarts. Expiry is checked when it matters (a
message, a hello); nothing wakes up for it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from protocol.roles import ROLE_COHOST, ROLE_HOST, ROLE_MODERATOR, ROLE_VIEWER

#: Rank of each role: lower is more.
RANK = {ROLE_HOST: 0, ROLE_COHOST: 1, ROLE_MODERATOR: 2, ROLE_VIEWER: 3}

#: What the permission table covers, and who may by default (the least role).
DEFAULT_PERMISSIONS: dict[str, str] = {
    "mute": ROLE_MODERATOR,
    "ban": ROLE_COHOST,
    "slow_mode": ROLE_MODERATOR,
    "delete_chat": ROLE_MODERATOR,
}
PERMISSION_ACTIONS = tuple(DEFAULT_PERMISSIONS)

#: Longest mute or ban with an expiry, seconds (without one: until lifted).
MAX_SANCTION_S = 365 * 24 * 3600.0
#: Longest slow mode, seconds between two chat messages of one person.
MAX_SLOW_MODE_S = 3600.0


def allows(role: str | None, least: str) -> bool:
    """Whether *role* is at least *least* (host > cohost > moderator > viewer)."""
    return role is not None and RANK.get(role, 99) <= RANK[least]


def normalise_permissions(table: dict[str, Any] | None) -> dict[str, str]:
    """The full table: defaults, overridden by the known actions of *table*."""
    out = dict(DEFAULT_PERMISSIONS)
    for action, role in (table or {}).items():
        if action in out and role in RANK:
            out[action] = role
    return out


@dataclass(slots=True)
class Sanctions:
    """Mutes and bans of a room by person key, each with its end (server time,
    milliseconds) or ``None`` (until lifted); the last chat instant per person (for
    slow mode)."""

    mutes: dict[str, float | None] = field(default_factory=dict)
    bans: dict[str, float | None] = field(default_factory=dict)
    last_chat_ms: dict[str, float] = field(default_factory=dict)

    @staticmethod
    def _active(table: dict[str, float | None], key: str, now_ms: float) -> bool:
        if key not in table:
            return False
        until = table[key]
        if until is not None and now_ms >= until:
            del table[key]
            return False
        return True

    def muted(self, key: str, now_ms: float) -> bool:
        return self._active(self.mutes, key, now_ms)

    def banned(self, key: str, now_ms: float) -> bool:
        return self._active(self.bans, key, now_ms)

    def public(self, now_ms: float) -> dict[str, Any]:
        """``{"mutes": [{"key", "until_ms"}], "bans": [...]}``, expired ones left out."""
        return {
            name: [
                {"key": k, "until_ms": u}
                for k, u in sorted(table.items())
                if u is None or u > now_ms
            ]
            for name, table in (("mutes", self.mutes), ("bans", self.bans))
        }

    def snapshot(self) -> dict[str, Any]:
        return {"mutes": dict(self.mutes), "bans": dict(self.bans)}

    @classmethod
    def restore(cls, data: dict[str, Any] | None) -> Sanctions:
        data = data or {}
        return cls(mutes=dict(data.get("mutes") or {}), bans=dict(data.get("bans") or {}))


__all__ = [
    "DEFAULT_PERMISSIONS",
    "MAX_SANCTION_S",
    "MAX_SLOW_MODE_S",
    "PERMISSION_ACTIONS",
    "RANK",
    "Sanctions",
    "allows",
    "normalise_permissions",
]
