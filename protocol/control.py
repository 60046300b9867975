"""The one interface between the two servers: what the web app may do to live rooms.

The sync server owns live room state; the web app reads and changes it only through a
:class:`RoomControl`. The sync server implements it (``sync_server/control.py``: direct
calls in one process, or the same calls over its control socket, ``/control``); the web
app calls it and never imports the sync server. Pure declarations: no I/O, no trio.

Every method raises :class:`ControlError`, whose ``code`` is one of the keys of
:data:`CONTROL_ERROR_STATUS` (the web app answers with that HTTP status).
"""

from __future__ import annotations

from typing import Any, Protocol, TypedDict

from .errors import (
    E_ALREADY_VOTED,
    E_FORBIDDEN,
    E_INVALID_MESSAGE,
    E_MUTED,
    E_NO_MEDIA,
    E_NOT_FOUND,
    E_POLL_CLOSED,
    E_ROOM_NOT_FOUND,
    E_SERVER_FULL,
    E_STALE_QUEUE,
    WatchpartyError,
)

#: ``typ`` of the tokens the control socket accepts (signed with the shared secret).
TYP_SERVICE = "service"
#: Path of the sync server's control socket.
CONTROL_PATH = "/control"
#: Error code of a control call that could not reach the sync server.
E_UNAVAILABLE = "unavailable"

#: Error codes a RoomControl raises (``ControlError.code``), with the HTTP status the
#: web app answers them with.
CONTROL_ERROR_STATUS: dict[str, int] = {
    E_ROOM_NOT_FOUND: 404,
    E_FORBIDDEN: 403,
    E_NO_MEDIA: 409,
    E_NOT_FOUND: 404,
    E_POLL_CLOSED: 409,
    E_STALE_QUEUE: 409,
    E_ALREADY_VOTED: 409,
    E_MUTED: 403,
    E_INVALID_MESSAGE: 422,
    E_SERVER_FULL: 503,
    E_UNAVAILABLE: 503,
}

#: ``type`` values of the actions :meth:`RoomControl.act` applies.
ACTIONS = ("play", "pause", "seek", "set_rate", "change_media")

#: ``type`` values of the in-room actions :meth:`RoomControl.interact` applies.
INTERACTIONS = (
    "poll_create",
    "poll_vote",
    "poll_close",
    "queue_add",
    "queue_remove",
    "queue_move",
    "queue_skip",
    "vote_skip",
)

#: ``join_request.status`` values: a new request, or one its account took back.
JOIN_REQUEST_STATUSES = ("pending", "withdrawn")


class ControlError(WatchpartyError):
    """A room operation was refused.

    Attributes:
        code: ``room_not_found``, ``forbidden``, ``no_media``, ``invalid_message``,
            ``server_full`` or ``unavailable`` (the sync server cannot be reached).
        message: Why, for people.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class LiveRoom(TypedDict):
    """A live room as the web app sees it.

    Attributes:
        code: The room code.
        name: Its title.
        settings: Its settings (``RoomSettings.to_dict()``).
        host_id: Participant id of the host, or None.
        owner_user_id: Account that owns it, or None.
        created_at_ms: Creation time, server clock, milliseconds since the epoch.
        participants: Public participant dicts (``Room.public_participants()``).
        participant_count: Connected participants.
        playback: Playback state (``Playback.to_dict()``: ``media``, ``paused``, ...).
        polls: Open and recently closed polls with their results now
            (``PollBook.public()``).
        queue: The shared queue (``Room.queue_public()``).
        seq: Sequence number of the room's last event.
    """

    code: str
    name: str
    settings: dict[str, Any]
    host_id: str | None
    owner_user_id: str | None
    created_at_ms: float
    participants: list[dict[str, Any]]
    participant_count: int
    playback: dict[str, Any]
    polls: list[dict[str, Any]]
    queue: dict[str, Any]
    seq: int


class ActResult(TypedDict):
    """What :meth:`RoomControl.act` returns: the room's sequence number after the
    action and its playback state (``Playback.to_dict()``)."""

    seq: int
    playback: dict[str, Any]


class RoomControl(Protocol):
    """What the web app may do to live rooms; every method raises :class:`ControlError`."""

    async def create_room(
        self,
        *,
        name: str,
        code: str | None = None,
        settings: dict[str, Any] | None = None,
        media: dict[str, Any] | None = None,
        owner_user_id: str | None = None,
    ) -> LiveRoom:
        """Create a live room (a free code is picked when *code* is None)."""
        ...

    async def get_room(self, code: str) -> LiveRoom:
        """The live room *code* (``room_not_found`` when it is not live)."""
        ...

    async def list_rooms(self) -> list[LiveRoom]:
        """Every live room, in no particular order."""
        ...

    async def act(self, code: str, *, user_id: str, action: dict[str, Any]) -> ActResult:
        """Apply a playback *action* (``{"type": <one of ACTIONS>, ...}``) as *user_id*,
        with that account's rights in the room, exactly as the sync socket would."""
        ...

    async def interact(
        self, code: str, *, user_id: str, name: str, action: dict[str, Any]
    ) -> dict[str, Any]:
        """Apply an in-room *action* (``{"type": <one of INTERACTIONS>, ...}``, the
        fields of the socket message of that type) as *user_id*, shown as *name*,
        with that account's rights in the room, exactly as the sync socket would.

        Returns:
            ``poll_create`` and ``poll_close``: ``{"poll": <Poll>, "seq"}``;
            ``poll_vote``: ``{"poll_id", "choices"}``; the queue actions:
            ``{"seq", "queue"}``.
        """
        ...

    async def remove_user(self, code: str, user_id: str) -> int:
        """Remove every participant of *user_id* from room *code*; returns how many."""
        ...

    async def delete_room(self, code: str) -> bool:
        """Close room *code* and delete it; False when it did not exist."""
        ...

    async def statistics(self) -> dict[str, Any]:
        """Counters of the sync server (connections, rooms, ...)."""
        ...

    async def notify_join_request(
        self,
        code: str,
        *,
        user_id: str,
        display_name: str,
        requested_at_ms: float,
        status: str = "pending",
    ) -> int:
        """Push a ``join_request`` (*status* one of :data:`JOIN_REQUEST_STATUSES`) to
        the room's connected moderators; returns how many connections were told."""
        ...


__all__ = [
    "ACTIONS",
    "CONTROL_ERROR_STATUS",
    "CONTROL_PATH",
    "E_UNAVAILABLE",
    "INTERACTIONS",
    "JOIN_REQUEST_STATUSES",
    "TYP_SERVICE",
    "ActResult",
    "ControlError",
    "LiveRoom",
    "RoomControl",
]
