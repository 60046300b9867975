"""Server-to-client messages as typed events (protocol/PROTOCOL.md sections 5 and 6).

One class per message type. Each is a ``dict`` subclass whose items are exactly its
wire form, so the codec encodes it as it is (once per broadcast,
:class:`protocol.codec.EncodedMessage`) while code dispatches on the class
(``match event: case Playback(): ...``), as wsproto's ``Connection`` yields typed
events. Constructors take the fields by keyword; units are in the field names
(``server_time_ms`` milliseconds, ``position_s`` seconds).

Room events (:class:`RoomEvent`) carry the room's sequence number ``seq`` and are
kept for resume; the other messages go to one connection or are not sequenced.
"""

from __future__ import annotations

from typing import Any, ClassVar


class ServerMessage(dict[str, Any]):
    """A message from the server; the dict is the wire form, ``type`` included."""

    __slots__ = ()
    type: ClassVar[str] = ""

    def __init__(self, **fields: Any) -> None:
        super().__init__(type=self.type, **fields)

    def to_wire(self) -> dict[str, Any]:
        """The message as sent (the codec's input)."""
        return self


class RoomEvent(ServerMessage):
    """A sequenced room event, broadcast to the room's members and kept for resume."""

    __slots__ = ()

    @property
    def seq(self) -> int:
        """The room sequence number of this event (1, 2, ...)."""
        return int(self["seq"])


# --- room events ----------------------------------------------------------------------
class Playback(RoomEvent):
    """The playback state changed; ``state`` is the full playback state."""

    __slots__ = ()
    type = "playback"

    def __init__(self, *, seq: int, action: str, by: str | None, state: dict[str, Any]) -> None:
        super().__init__(seq=seq, action=action, by=by, state=state)


class ParticipantJoined(RoomEvent):
    __slots__ = ()
    type = "participant_joined"

    def __init__(self, *, seq: int, participant: dict[str, Any]) -> None:
        super().__init__(seq=seq, participant=participant)


class ParticipantUpdated(RoomEvent):
    """A participant's role, name, connection or readiness changed."""

    __slots__ = ()
    type = "participant_updated"

    def __init__(self, *, seq: int, participant: dict[str, Any]) -> None:
        super().__init__(seq=seq, participant=participant)


class ParticipantLeft(RoomEvent):
    __slots__ = ()
    type = "participant_left"

    def __init__(self, *, seq: int, participant_id: str, reason: str) -> None:
        super().__init__(seq=seq, participant_id=participant_id, reason=reason)


class HostChanged(RoomEvent):
    __slots__ = ()
    type = "host_changed"

    def __init__(self, *, seq: int, host_id: str | None, previous_host_id: str | None) -> None:
        super().__init__(seq=seq, host_id=host_id, previous_host_id=previous_host_id)


class ChatMessage(RoomEvent):
    __slots__ = ()
    type = "chat_message"

    def __init__(self, *, seq: int, message: dict[str, Any]) -> None:
        super().__init__(seq=seq, message=message)


class ChatEdited(RoomEvent):
    __slots__ = ()
    type = "chat_edited"

    def __init__(self, *, seq: int, message: dict[str, Any]) -> None:
        super().__init__(seq=seq, message=message)


class ChatDeleted(RoomEvent):
    __slots__ = ()
    type = "chat_deleted"

    def __init__(self, *, seq: int, message_id: int, by: str | None) -> None:
        super().__init__(seq=seq, message_id=message_id, by=by)


class SettingsChanged(RoomEvent):
    __slots__ = ()
    type = "settings_changed"

    def __init__(self, *, seq: int, settings: dict[str, Any], changed: list[str]) -> None:
        super().__init__(seq=seq, settings=settings, changed=changed)


class PollOpened(RoomEvent):
    """A poll opened; ``poll`` is the poll as :meth:`protocol.polls.Poll.public` gives it."""

    __slots__ = ()
    type = "poll_opened"

    def __init__(self, *, seq: int, poll: dict[str, Any]) -> None:
        super().__init__(seq=seq, poll=poll)


class PollClosed(RoomEvent):
    """A poll closed (``poll.close_reason``: ``closed`` or ``expired``); ``poll``
    carries the final results."""

    __slots__ = ()
    type = "poll_closed"

    def __init__(self, *, seq: int, poll: dict[str, Any]) -> None:
        super().__init__(seq=seq, poll=poll)


class QueueChanged(RoomEvent):
    """The shared queue changed (``action``: ``add``, ``remove``, ``move``, ``skip``,
    ``vote_skip``, ``advance``); ``queue`` is the whole queue after it."""

    __slots__ = ()
    type = "queue_changed"

    def __init__(
        self,
        *,
        seq: int,
        action: str,
        by: str | None,
        item_id: int | None,
        queue: dict[str, Any],
    ) -> None:
        super().__init__(seq=seq, action=action, by=by, item_id=item_id, queue=queue)


class Moderation(RoomEvent):
    """A person was muted, unmuted, banned or unbanned (``action``); ``until_ms`` is
    when it ends (server clock, milliseconds) or null until lifted."""

    __slots__ = ()
    type = "moderation"

    def __init__(
        self,
        *,
        seq: int,
        action: str,
        by: str,
        participant_id: str | None,
        user_id: str | None,
        until_ms: float | None,
    ) -> None:
        super().__init__(
            seq=seq,
            action=action,
            by=by,
            participant_id=participant_id,
            user_id=user_id,
            until_ms=until_ms,
        )


#: Room event classes by wire type.
ROOM_EVENTS: dict[str, type[RoomEvent]] = {
    cls.type: cls
    for cls in (
        Playback,
        ParticipantJoined,
        ParticipantUpdated,
        ParticipantLeft,
        HostChanged,
        ChatMessage,
        ChatEdited,
        ChatDeleted,
        SettingsChanged,
        PollOpened,
        PollClosed,
        QueueChanged,
        Moderation,
    )
}


# --- messages to one connection, or not sequenced --------------------------------------
class Welcome(ServerMessage):
    """The answer to an accepted ``hello``: the participant, its session token, the
    room's full state, recent chat and the server's limits (PROTOCOL.md)."""

    __slots__ = ()
    type = "welcome"


class State(ServerMessage):
    """The room's full state: the answer to ``get_state``, or with ``resync: true``
    instead of events a slow member's queue dropped."""

    __slots__ = ()
    type = "state"


class Error(ServerMessage):
    """A request was refused or malformed; the connection stays open."""

    __slots__ = ()
    type = "error"

    def __init__(self, *, code: str, message: str, request_id: Any, details: Any = None) -> None:
        if details is None:
            super().__init__(code=code, message=message, request_id=request_id)
        else:
            super().__init__(code=code, message=message, request_id=request_id, details=details)


class Ack(ServerMessage):
    """A request with an ``id`` was applied; extra fields depend on the request."""

    __slots__ = ()
    type = "ack"

    def __init__(self, *, request_id: Any, **fields: Any) -> None:
        super().__init__(request_id=request_id, **fields)


class Ping(ServerMessage):
    __slots__ = ()
    type = "ping"

    def __init__(self, *, nonce: int, server_time_ms: float) -> None:
        super().__init__(nonce=nonce, server_time_ms=server_time_ms)


class Pong(ServerMessage):
    __slots__ = ()
    type = "pong"

    def __init__(self, *, nonce: Any, request_id: Any, server_time_ms: float) -> None:
        super().__init__(nonce=nonce, request_id=request_id, server_time_ms=server_time_ms)


class TimeSyncReply(ServerMessage):
    """RFC 5905 on-wire exchange: t1 (``client_send_ms``), t2 (``server_recv_ms``) and
    t3 (``server_send_ms``), all milliseconds."""

    __slots__ = ()
    type = "time_sync_reply"

    def __init__(
        self,
        *,
        request_id: Any,
        client_send_ms: float,
        server_recv_ms: float,
        server_send_ms: float,
    ) -> None:
        super().__init__(
            request_id=request_id,
            client_send_ms=client_send_ms,
            server_recv_ms=server_recv_ms,
            server_send_ms=server_send_ms,
        )


class DriftCorrection(ServerMessage):
    """Nudge (``action: "rate"``, with ``rate`` and ``duration_ms``) or ``seek`` a
    player whose reported position drifted; ``position_s`` is where the room is at
    ``server_time_ms``."""

    __slots__ = ()
    type = "drift_correction"


class Typing(ServerMessage):
    __slots__ = ()
    type = "typing"

    def __init__(self, *, participant_id: str, typing: bool) -> None:
        super().__init__(participant_id=participant_id, typing=typing)


class Reaction(ServerMessage):
    """An emoji reaction at media position ``position_s`` (seconds, server-computed)."""

    __slots__ = ()
    type = "reaction"

    def __init__(self, *, participant_id: str, emoji: str, position_s: float) -> None:
        super().__init__(participant_id=participant_id, emoji=emoji, position_s=position_s)


class Participants(ServerMessage):
    __slots__ = ()
    type = "participants"

    def __init__(
        self,
        *,
        request_id: Any,
        seq: int,
        host_id: str | None,
        participants: list[dict[str, Any]],
    ) -> None:
        super().__init__(request_id=request_id, seq=seq, host_id=host_id, participants=participants)


class ParticipantStats(ServerMessage):
    """Drift, RTT (milliseconds) and buffering of each connected participant."""

    __slots__ = ()
    type = "participant_stats"

    def __init__(self, *, server_time_ms: float, stats: dict[str, Any]) -> None:
        super().__init__(server_time_ms=server_time_ms, stats=stats)


class JoinRequest(ServerMessage):
    """Someone asked to enter an approval room (to its host and owner)."""

    __slots__ = ()
    type = "join_request"


class PollResults(ServerMessage):
    """Live results of an open poll, coalesced: at most one per poll per
    ``RESULTS_INTERVAL_MS`` (250 ms), whatever the number of votes. Not sequenced:
    the room state's ``polls`` carries the latest results for a joiner."""

    __slots__ = ()
    type = "poll_results"

    def __init__(self, *, poll_id: int, results: dict[str, Any], server_time_ms: float) -> None:
        super().__init__(poll_id=poll_id, results=results, server_time_ms=server_time_ms)


class ReactionTimeline(ServerMessage):
    """The answer to ``get_reaction_timeline``: how many of each emoji the current
    media got per second of media, over every room that played it."""

    __slots__ = ()
    type = "reaction_timeline"

    def __init__(
        self,
        *,
        request_id: Any,
        media_key: str | None,
        bucket_s: int,
        counts: list[list[Any]],
    ) -> None:
        super().__init__(
            request_id=request_id, media_key=media_key, bucket_s=bucket_s, counts=counts
        )


#: Every server-to-client message class by wire type.
SERVER_MESSAGES: dict[str, type[ServerMessage]] = {
    **ROOM_EVENTS,
    **{
        cls.type: cls
        for cls in (
            Welcome,
            State,
            Error,
            Ack,
            Ping,
            Pong,
            TimeSyncReply,
            DriftCorrection,
            Typing,
            Reaction,
            Participants,
            ParticipantStats,
            JoinRequest,
            PollResults,
            ReactionTimeline,
        )
    },
}

__all__ = [name for name in dir() if not name.startswith("_")]
