"""A live room: the :class:`protocol.room.Room` state machine with its members'
connections, its timer task and its fan-out.

Broadcasting encodes each event once per encoding (:class:`protocol.codec.EncodedMessage`)
and writes the same frame to every member's socket in the broadcasting call
(:meth:`sync_server.connection.Connection.send`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import trio

from protocol import events as ev
from protocol.codec import EncodedMessage
from protocol.room import Room
from sync_server.polls import store_closed_polls
from sync_server.reactions import store_reactions

logger = logging.getLogger(__name__)

if TYPE_CHECKING:
    from sync_server.connection import Connection
    from sync_server.server import SyncServer

#: Coalescing keys: a queued message with the same key is replaced by the newer one.
COALESCE_STATS = "participant_stats"
COALESCE_PLAYBACK = "playback"
#: Prefix of a poll's results key (``poll_results:<id>``): a member that is behind
#: gets only the newest results of each poll.
COALESCE_POLL = "poll_results:"


#: Room events that never move a room timer's deadline (no participant connects or
#: leaves, no wait starts or ends): broadcasting them does not wake the timer task.
_TIMER_NEUTRAL = (ev.ChatMessage, ev.ChatEdited, ev.ChatDeleted)


class LiveRoom:
    """A :class:`protocol.room.Room` with its connections and timer.

    Attributes:
        room: The room state machine.
        members: Connections by participant id.
    """

    def __init__(self, server: SyncServer, room: Room) -> None:
        self.server = server
        self.room = room
        self.members: dict[str, Connection] = {}
        self._wake = trio.Event()
        self.cancel_scope = trio.CancelScope()
        self._last_stats: dict[str, Any] = {}
        self._resync: tuple[int, EncodedMessage] | None = None
        #: Server time of the last event, milliseconds (idle-room cleanup).
        self.last_active_ms = server.now_ms()

    @property
    def code(self) -> str:
        return self.room.code

    def broadcast(self, events: list[ev.RoomEvent], *, exclude: Connection | None = None) -> None:
        """Send room events to every member (each encoded once per encoding)."""
        for event in events:
            # A client that is behind needs only the newest playback state.
            key = COALESCE_PLAYBACK if isinstance(event, ev.Playback) else None
            self.send_all(EncodedMessage(event), exclude=exclude, coalesce_key=key)
        if events:
            self.last_active_ms = self.server.now_ms()
            if len(events) > 1 or not isinstance(events[-1], _TIMER_NEUTRAL):
                self._wake.set()

    def send_all(
        self,
        message: EncodedMessage,
        *,
        exclude: Connection | None = None,
        coalesce_key: str | None = None,
    ) -> None:
        """Send *message* to every member but *exclude*: the same frame bytes to all
        members of one encoding, written to each socket in this call."""
        sent = 0
        for conn in list(self.members.values()):
            if conn is not exclude:
                conn.send(message, coalesce_key)
                sent += 1
        self.server.counters["deliveries"] += sent

    def poke(self) -> None:
        """Re-check the room's timers now (after a change that moved a deadline)."""
        self._wake.set()

    async def run_timers(self) -> None:
        """Apply grace expiries, ready timeouts and poll durations when they fall due,
        and send the coalesced ``poll_results`` (runs until the room is closed)."""
        with self.cancel_scope:
            while True:
                deadline = self.room.next_deadline_ms()
                self._wake = trio.Event()
                if deadline is None:
                    await self._wake.wait()
                else:
                    delay_s = max(0.0, (deadline - self.server.now_ms()) / 1000.0)
                    with trio.move_on_after(delay_s):
                        await self._wake.wait()
                now = self.server.now_ms()
                events = self.room.expire(now)
                if events:
                    self.broadcast(events)
                for results in self.room.due_poll_results(now):
                    self.send_all(
                        EncodedMessage(results),
                        coalesce_key=f"{COALESCE_POLL}{results['poll_id']}",
                    )
                if any(isinstance(e, ev.PollClosed) for e in events):
                    await self._store_closed_polls(events)
                rows = self.room.reactions.take_due(now)
                if rows:
                    await self._store_reactions(rows)

    async def _store_reactions(self, rows: list[dict[str, Any]]) -> None:
        try:
            await store_reactions(self.server, rows)
        except Exception:
            # Lost from the timeline, not from anyone's screen: they were shown.
            logger.exception("room %s: storing %d reactions failed", self.code, len(rows))

    async def _store_closed_polls(self, events: list[ev.RoomEvent]) -> None:
        try:
            await store_closed_polls(self, events)
        except Exception:
            # The room's timers must go on; the closed poll stays in the room's state.
            logger.exception("room %s: storing closed polls failed", self.code)

    def resync_message(self) -> EncodedMessage:
        """A ``state`` message with ``resync: true`` and the recent chat, for a member
        whose queued events were dropped; built once per room sequence number."""
        cached = self._resync
        if cached is not None and cached[0] == self.room.seq:
            return cached[1]
        message = EncodedMessage(
            ev.State(
                request_id=None,
                resync=True,
                server_time_ms=self.server.now_ms(),
                **self.room.state(),
                chat=self.room.chat_history(),
            )
        )
        self._resync = (self.room.seq, message)
        return message

    def stats_message(self) -> EncodedMessage | None:
        """A ``participant_stats`` message if drift, RTT or buffering changed since the
        last one, else ``None``."""
        stats = {
            p.id: {"drift_ms": p.drift_ms, "rtt_ms": p.rtt_ms, "buffering": p.buffering}
            for p in self.room.participants.values()
            if p.connected
        }
        if stats == self._last_stats:
            return None
        self._last_stats = stats
        return EncodedMessage(ev.ParticipantStats(server_time_ms=self.server.now_ms(), stats=stats))


def chat_message_public(row: Mapping[str, Any]) -> dict[str, Any]:
    """A stored chat row as sent on the socket."""
    return {
        "id": row["id"],
        "participant_id": row["participant_id"],
        "user_id": row["user_id"],
        "name": row["display_name"],
        "text": row["text"],
        "sent_at_ms": row["created_at_ms"],
        "edited_at_ms": row["edited_at_ms"],
    }


__all__ = [
    "COALESCE_PLAYBACK",
    "COALESCE_POLL",
    "COALESCE_STATS",
    "LiveRoom",
    "chat_message_public",
]
