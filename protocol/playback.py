"""The server's authoritative playback state of a room (pure data and clock math).

Kept apart from :mod:`protocol.room`, which re-exports it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from protocol.clock import position_at


@dataclass(slots=True)
class PlaybackState:
    """The server's authoritative playback state.

    The position at any server time ``t`` is :func:`protocol.clock.position_at` of
    these fields: ``position_s`` at ``server_time_ms``, then advancing by ``rate``
    per second unless ``paused``. A ``server_time_ms`` in the future is a scheduled
    start: until then the position holds.

    Attributes:
        media: ``{"url", "title", "duration_s"}`` or ``None``.
        paused: Whether playback is paused.
        position_s: Position at ``server_time_ms``, seconds.
        rate: Playback rate.
        server_time_ms: The server instant ``position_s`` refers to, milliseconds.
        seq: Sequence number of the event that set this state.
        waiting: Held by wait-for-everyone: paused until all are ready or the ready
            timeout passes, then it plays by itself.
    """

    media: dict[str, Any] | None = None
    paused: bool = True
    position_s: float = 0.0
    rate: float = 1.0
    server_time_ms: float = 0.0
    seq: int = 0
    waiting: bool = False

    def duration_s(self) -> float | None:
        return self.media.get("duration_s") if self.media else None

    def position_at(self, at_ms: float) -> float:
        """Position at server time *at_ms*, seconds."""
        return position_at(
            position_s=self.position_s,
            paused=self.paused,
            rate=self.rate,
            reference_ms=self.server_time_ms,
            at_ms=at_ms,
            duration_s=self.duration_s(),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "media": dict(self.media) if self.media else None,
            "paused": self.paused,
            "position_s": self.position_s,
            "rate": self.rate,
            "server_time_ms": self.server_time_ms,
            "seq": self.seq,
            "waiting": self.waiting,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PlaybackState:
        return cls(
            media=data.get("media"),
            paused=bool(data.get("paused", True)),
            position_s=float(data.get("position_s", 0.0)),
            rate=float(data.get("rate", 1.0)),
            server_time_ms=float(data.get("server_time_ms", 0.0)),
            seq=int(data.get("seq", 0)),
            waiting=bool(data.get("waiting", False)),
        )


__all__ = ["PlaybackState"]
