"""Client-to-server message types of the sync protocol, validated with pydantic.

Every message is a map with a ``type`` field. A client may add an ``id`` (an integer,
or a string of at most 64 characters) to any request; the server's answer (``ack``,
``error``, ``time_sync_reply``, ``state``, ``participants``) carries it back as
``request_id``. Unknown extra fields are ignored, so newer clients can talk to older
servers. The full reference, with server-to-client messages and examples in both
encodings, is ``protocol/PROTOCOL.md``.

Units: ``*_s`` fields are seconds, ``*_ms`` fields milliseconds.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    model_validator,
)

from protocol import moderation, polls
from protocol.errors import E_INVALID_MESSAGE, E_UNKNOWN_TYPE, ProtocolError

#: Protocol version spoken by this code. A ``hello`` with another version is refused
#: with ``unsupported_version`` (close 4005).
PROTOCOL_VERSION = 1

#: Room codes: letters, digits, ``_`` and ``-``, 3 to 32 characters.
ROOM_CODE_PATTERN = r"^[A-Za-z0-9_-]{3,32}$"

MAX_POSITION_S = 10_000_000.0  # about 115 days of media
MIN_RATE = 0.25
MAX_RATE = 4.0
MAX_TEXT_CHARS = 10_000  # absolute cap; the configured chat limit is usually lower


def _finite(value: float) -> float:
    if not math.isfinite(value):
        raise ValueError("must be a finite number")
    return value


Finite = Annotated[float, AfterValidator(_finite)]
PositionS = Annotated[float, Field(ge=0.0, le=MAX_POSITION_S), AfterValidator(_finite)]
Rate = Annotated[float, Field(ge=MIN_RATE, le=MAX_RATE), AfterValidator(_finite)]
#: Bounds of every integer field: what msgpack and SQLite hold (signed 64-bit).
MIN_INT = -(2**63)
MAX_INT = 2**63 - 1
Int64 = Annotated[int, Field(ge=MIN_INT, le=MAX_INT)]
RequestId = Int64 | Annotated[str, Field(max_length=64)]
RoomCode = Annotated[str, Field(pattern=ROOM_CODE_PATTERN)]


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return value.strip()


def _media_url(value: str) -> str:
    # Only what a player can load: no javascript:, data: or file: URLs handed to every
    # browser in the room.
    lowered = value.strip().lower()
    if not (lowered.startswith(("http://", "https://")) or value.startswith("/")):
        raise ValueError("must be an http(s) URL or a path starting with /")
    if value.startswith("//"):
        raise ValueError("must be an http(s) URL or a path starting with /")
    return value.strip()


#: Library video ids: 32 lowercase hex digits.
VideoId = Annotated[str, Field(pattern=r"^[0-9a-f]{32}$")]

DisplayName = Annotated[str, Field(min_length=1, max_length=40), AfterValidator(_not_blank)]


class _Model(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)


class Media(_Model):
    """What a room plays.

    Attributes:
        url: Absolute http(s) URL or a path on the web app (``/media/...``), at most
            2048 characters; other schemes (``javascript:``, ``data:``) are refused.
        title: Shown to participants, at most 200 characters.
        duration_s: Length in seconds, when known; positions never pass it.
        video_id: The library video it plays, when it is one (set by the server).
    """

    url: Annotated[str, Field(min_length=1, max_length=2048), AfterValidator(_media_url)]
    title: Annotated[str, Field(max_length=200)] = ""
    duration_s: Annotated[float, Field(ge=0.0, le=MAX_POSITION_S)] | None = None
    video_id: VideoId | None = None


def media_dict(media: Media) -> dict[str, Any]:
    """A media as the room state carries it: ``url``, ``title``, ``duration_s`` and,
    for a library video, ``video_id``."""
    out: dict[str, Any] = {"url": media.url, "title": media.title, "duration_s": media.duration_s}
    if media.video_id is not None:
        out["video_id"] = media.video_id
    return out


class RoomSettingsPatch(_Model):
    """Room settings a host may change; absent fields stay as they are.

    Attributes:
        control: Who may control playback: ``host`` (the host only), ``cohosts``
            (host and co-hosts) or ``everyone``.
        chat_enabled: Whether chat messages are accepted.
        wait_for_everyone: Whether play waits (at most ``ready_timeout_s``) until every
            connected participant reports ready.
        allow_guests: Whether guests (no account) may join.
        polls: Who may open polls: ``host``, ``cohosts`` (host and co-hosts) or
            ``everyone``.
        voteskip_ratio: Share of the connected participants (above 0, at most 1)
            whose ``vote_skip`` skips what plays.
        slow_mode_s: Least seconds between two chat messages of one person (0: off;
            moderators and above are exempt). Changing it needs ``slow_mode``.
        permissions: The least role for each moderation action (``mute``, ``ban``,
            ``slow_mode``, ``delete_chat``); the actions given replace theirs.
    """

    control: Literal["host", "cohosts", "everyone"] | None = None
    chat_enabled: bool | None = None
    wait_for_everyone: bool | None = None
    allow_guests: bool | None = None
    polls: Literal["host", "cohosts", "everyone"] | None = None
    voteskip_ratio: Annotated[float, Field(gt=0.0, le=1.0), AfterValidator(_finite)] | None = None
    slow_mode_s: (
        Annotated[float, Field(ge=0.0, le=moderation.MAX_SLOW_MODE_S), AfterValidator(_finite)]
        | None
    ) = None
    permissions: (
        dict[
            Literal["mute", "ban", "slow_mode", "delete_chat"],
            Literal["host", "cohost", "moderator", "viewer"],
        ]
        | None
    ) = None


class Resume(_Model):
    session: Annotated[str, Field(min_length=1, max_length=4096)]
    last_seq: Annotated[int, Field(ge=0, le=MAX_INT)]


class CreateRoom(_Model):
    name: Annotated[str, Field(min_length=1, max_length=100), AfterValidator(_not_blank)]
    settings: RoomSettingsPatch = RoomSettingsPatch()
    media: Media | None = None


class Hello(_Model):
    type: Literal["hello"]
    id: RequestId | None = None
    protocol: Int64
    room: RoomCode
    token: Annotated[str, Field(max_length=4096)] | None = None
    display_name: DisplayName | None = None
    resume: Resume | None = None
    create: CreateRoom | None = None
    client: Annotated[str, Field(max_length=100)] | None = None


class Leave(_Model):
    type: Literal["leave"]
    id: RequestId | None = None


class TimeSync(_Model):
    type: Literal["time_sync"]
    id: RequestId | None = None
    client_send_ms: Finite
    rtt_ms: Annotated[float, Field(ge=0.0), AfterValidator(_finite)] | None = None
    offset_ms: Finite | None = None


class Ping(_Model):
    type: Literal["ping"]
    id: RequestId | None = None
    nonce: Int64 | Annotated[str, Field(max_length=64)] | None = None


class Pong(_Model):
    type: Literal["pong"]
    id: RequestId | None = None
    nonce: Int64 | Annotated[str, Field(max_length=64)]


class Play(_Model):
    type: Literal["play"]
    id: RequestId | None = None
    position_s: PositionS | None = None


class Pause(_Model):
    type: Literal["pause"]
    id: RequestId | None = None


class Seek(_Model):
    type: Literal["seek"]
    id: RequestId | None = None
    position_s: PositionS


class SetRate(_Model):
    type: Literal["set_rate"]
    id: RequestId | None = None
    rate: Rate


class ChangeMedia(_Model):
    """New media: a URL (``media``) or a library video (``video_id``), exactly one."""

    type: Literal["change_media"]
    id: RequestId | None = None
    media: Media | None = None
    video_id: VideoId | None = None

    @model_validator(mode="after")
    def _one_source(self) -> ChangeMedia:
        if (self.media is None) == (self.video_id is None):
            raise ValueError("give exactly one of media and video_id")
        return self


class PositionReport(_Model):
    type: Literal["position_report"]
    id: RequestId | None = None
    position_s: PositionS
    server_time_ms: Finite
    paused: bool | None = None


class BufferState(_Model):
    type: Literal["buffer_state"]
    id: RequestId | None = None
    buffering: bool


class ChatSend(_Model):
    type: Literal["chat_send"]
    id: RequestId | None = None
    text: Annotated[str, Field(min_length=1, max_length=MAX_TEXT_CHARS)]


class ChatEdit(_Model):
    type: Literal["chat_edit"]
    id: RequestId | None = None
    message_id: Annotated[int, Field(ge=1, le=MAX_INT)]
    text: Annotated[str, Field(min_length=1, max_length=MAX_TEXT_CHARS)]


class ChatDelete(_Model):
    type: Literal["chat_delete"]
    id: RequestId | None = None
    message_id: Annotated[int, Field(ge=1, le=MAX_INT)]


class Typing(_Model):
    type: Literal["typing"]
    id: RequestId | None = None
    typing: bool


class Reaction(_Model):
    type: Literal["reaction"]
    id: RequestId | None = None
    emoji: Annotated[str, Field(min_length=1, max_length=16)]


class UpdateSettings(_Model):
    type: Literal["update_settings"]
    id: RequestId | None = None
    settings: RoomSettingsPatch


class SetRole(_Model):
    type: Literal["set_role"]
    id: RequestId | None = None
    participant_id: Annotated[str, Field(min_length=1, max_length=64)]
    role: Literal["host", "cohost", "moderator", "viewer"]


class Kick(_Model):
    type: Literal["kick"]
    id: RequestId | None = None
    participant_id: Annotated[str, Field(min_length=1, max_length=64)]


def _options(value: list[str]) -> list[str]:
    cleaned = [o.strip() for o in value]
    if any(not o for o in cleaned):
        raise ValueError("options must not be blank")
    if len({o.casefold() for o in cleaned}) != len(cleaned):
        raise ValueError("options must differ from one another")
    return cleaned


PollOption = Annotated[str, Field(min_length=1, max_length=polls.MAX_OPTION_CHARS)]


class PollCreate(_Model):
    """Open a poll (who may: the room's ``polls`` setting).

    Attributes:
        question: 1 to 300 characters.
        options: 2 to 10 distinct options, each 1 to 100 characters.
        multiple: Whether a vote may choose several options.
        anonymous: Whether results hide who chose what.
        duration_s: Seconds after which it closes by itself (1 to 604800), or none.
    """

    type: Literal["poll_create"]
    id: RequestId | None = None
    question: Annotated[
        str, Field(min_length=1, max_length=polls.MAX_QUESTION_CHARS), AfterValidator(_not_blank)
    ]
    options: Annotated[
        list[PollOption],
        Field(min_length=polls.MIN_OPTIONS, max_length=polls.MAX_OPTIONS),
        AfterValidator(_options),
    ]
    multiple: bool = False
    anonymous: bool = False
    duration_s: (
        Annotated[
            float,
            Field(ge=polls.MIN_DURATION_S, le=polls.MAX_DURATION_S),
            AfterValidator(_finite),
        ]
        | None
    ) = None


class PollVote(_Model):
    """Vote, or change one's vote, in an open poll: *choices* are option indexes
    (exactly one in a single-choice poll; none withdraws the vote)."""

    type: Literal["poll_vote"]
    id: RequestId | None = None
    poll_id: Annotated[int, Field(ge=1, le=MAX_INT)]
    choices: Annotated[
        list[Annotated[int, Field(ge=0, le=polls.MAX_OPTIONS - 1)]],
        Field(max_length=polls.MAX_OPTIONS),
    ]


class PollClose(_Model):
    """Close a poll (its creator, the host or a co-host)."""

    type: Literal["poll_close"]
    id: RequestId | None = None
    poll_id: Annotated[int, Field(ge=1, le=MAX_INT)]


class QueueAdd(_Model):
    """Queue a media at the end: a URL (``media``) or a library video (``video_id``),
    exactly one."""

    type: Literal["queue_add"]
    id: RequestId | None = None
    media: Media | None = None
    video_id: VideoId | None = None

    @model_validator(mode="after")
    def _one_source(self) -> QueueAdd:
        if (self.media is None) == (self.video_id is None):
            raise ValueError("give exactly one of media and video_id")
        return self


QueueItemId = Annotated[int, Field(ge=1, le=MAX_INT)]


class QueueRemove(_Model):
    type: Literal["queue_remove"]
    id: RequestId | None = None
    item_id: QueueItemId


class QueueMove(_Model):
    """Move a queued item to ``to_index`` (0: next), as of queue ``version``."""

    type: Literal["queue_move"]
    id: RequestId | None = None
    item_id: QueueItemId
    to_index: Annotated[int, Field(ge=0, le=10_000)]
    version: Annotated[int, Field(ge=0, le=MAX_INT)]


class QueueSkip(_Model):
    type: Literal["queue_skip"]
    id: RequestId | None = None


class VoteSkip(_Model):
    type: Literal["vote_skip"]
    id: RequestId | None = None


Sanction = Annotated[float, Field(ge=1.0, le=moderation.MAX_SANCTION_S), AfterValidator(_finite)]
ParticipantRef = Annotated[str, Field(min_length=1, max_length=64)]


class Mute(_Model):
    """Mute a participant (no chat, reactions or votes) for ``duration_s`` seconds, or
    until ``unmute``."""

    type: Literal["mute"]
    id: RequestId | None = None
    participant_id: ParticipantRef
    duration_s: Sanction | None = None


class Unmute(_Model):
    """Lift a mute: ``participant_id`` is a participant id or ``user:<account id>``."""

    type: Literal["unmute"]
    id: RequestId | None = None
    participant_id: Annotated[str, Field(min_length=1, max_length=80)]


class Ban(_Model):
    """Remove a participant and bar its account and session for ``duration_s``
    seconds, or until ``unban``."""

    type: Literal["ban"]
    id: RequestId | None = None
    participant_id: ParticipantRef
    duration_s: Sanction | None = None


class Unban(_Model):
    """Lift a ban held under ``key``: a participant id or ``user:<account id>``."""

    type: Literal["unban"]
    id: RequestId | None = None
    key: Annotated[str, Field(min_length=1, max_length=80)]


class GetReactionTimeline(_Model):
    """Ask for the reaction timeline of the media the room plays now."""

    type: Literal["get_reaction_timeline"]
    id: RequestId | None = None


class GetState(_Model):
    type: Literal["get_state"]
    id: RequestId | None = None


class GetParticipants(_Model):
    type: Literal["get_participants"]
    id: RequestId | None = None


ClientMessage = Annotated[
    Hello
    | Leave
    | TimeSync
    | Ping
    | Pong
    | Play
    | Pause
    | Seek
    | SetRate
    | ChangeMedia
    | PositionReport
    | BufferState
    | ChatSend
    | ChatEdit
    | ChatDelete
    | Typing
    | Reaction
    | UpdateSettings
    | SetRole
    | Kick
    | PollCreate
    | PollVote
    | PollClose
    | GetReactionTimeline
    | QueueAdd
    | QueueRemove
    | QueueMove
    | QueueSkip
    | VoteSkip
    | Mute
    | Unmute
    | Ban
    | Unban
    | GetState
    | GetParticipants,
    Field(discriminator="type"),
]

_ADAPTER: TypeAdapter[Any] = TypeAdapter(ClientMessage)

#: Every client-to-server message type, by name.
CLIENT_TYPES: dict[str, type[_Model]] = {
    cls.model_fields["type"].annotation.__args__[0]: cls  # type: ignore[union-attr]
    for cls in (
        Hello,
        Leave,
        TimeSync,
        Ping,
        Pong,
        Play,
        Pause,
        Seek,
        SetRate,
        ChangeMedia,
        PositionReport,
        BufferState,
        ChatSend,
        ChatEdit,
        ChatDelete,
        Typing,
        Reaction,
        UpdateSettings,
        SetRole,
        Kick,
        PollCreate,
        PollVote,
        PollClose,
        GetReactionTimeline,
        QueueAdd,
        QueueRemove,
        QueueMove,
        QueueSkip,
        VoteSkip,
        Mute,
        Unmute,
        Ban,
        Unban,
        GetState,
        GetParticipants,
    )
}

#: Server-to-client message types (documented in protocol/PROTOCOL.md).
SERVER_TYPES = (
    "welcome",
    "ack",
    "error",
    "time_sync_reply",
    "ping",
    "pong",
    "state",
    "participants",
    "participant_joined",
    "participant_left",
    "participant_updated",
    "host_changed",
    "playback",
    "chat_message",
    "chat_edited",
    "chat_deleted",
    "settings_changed",
    "typing",
    "reaction",
    "participant_stats",
    "drift_correction",
    "join_request",
    "poll_opened",
    "poll_results",
    "poll_closed",
    "reaction_timeline",
    "queue_changed",
    "moderation",
)


def request_id_of(raw: Any) -> int | str | None:
    """The ``id`` of a decoded message if it is a valid request id, else ``None``.

    Used to answer even a message that fails validation with the id it carried. A
    string no encoder can send back (a lone surrogate from a JSON ``\\ud800`` escape)
    is not a valid id.
    """
    if isinstance(raw, dict):
        rid = raw.get("id")
        if isinstance(rid, bool):
            return None
        if isinstance(rid, int):
            return rid if MIN_INT <= rid <= MAX_INT else None
        if isinstance(rid, str) and len(rid) <= 64:
            try:
                rid.encode("utf-8")
            except UnicodeEncodeError:
                return None
            return rid
    return None


def parse_client_message(raw: Any) -> Any:
    """Validate a decoded frame as a client-to-server message.

    Args:
        raw: What the codec decoded (normally a dict).

    Returns:
        The typed message (one of the classes in :data:`CLIENT_TYPES`).

    Raises:
        ProtocolError: ``unknown_type`` when ``type`` is missing or not a client type;
            ``invalid_message`` with ``details`` (a list of ``{"field", "error"}``)
            when a field is missing, of the wrong type or out of range.
    """
    if not isinstance(raw, dict):
        raise ProtocolError(E_INVALID_MESSAGE, f"a message must be a map, got {type(raw).__name__}")
    kind = raw.get("type")
    if not isinstance(kind, str) or kind not in CLIENT_TYPES:
        shown = repr(kind)[:40]
        raise ProtocolError(
            E_UNKNOWN_TYPE,
            f"unknown message type {shown}; expected one of: {', '.join(CLIENT_TYPES)}",
        )
    try:
        return _ADAPTER.validate_python(raw)
    except ValidationError as exc:
        details = [
            {
                "field": ".".join(str(p) for p in err["loc"][1:]) or "type",
                "error": err["msg"],
            }
            for err in exc.errors(include_url=False)
        ]
        summary = "; ".join(f"{d['field']}: {d['error']}" for d in details[:5])
        raise ProtocolError(E_INVALID_MESSAGE, f"invalid {kind}: {summary}", details) from None
