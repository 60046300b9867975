"""Request and response models of the room endpoints (pydantic; quart-schema validates
requests against them and documents both in ``/api/openapi.json``).

Request bodies are strict (a string is no number, a number no boolean) and ignore
unknown fields. Where SyncPlay Backend and StreamIt name a field differently both names
are accepted (``name``/``room_name``, ``room_code``/``room_id``/``code``,
``position_s``/``position``/``time``, ``url``/``video_url``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from admin_app.core.pagination import PageQuery
from admin_app.core.passwords import MAX_PASSWORD_CHARS
from admin_app.core.schemas import Body, one_of
from protocol.messages import MAX_POSITION_S, MAX_RATE, MIN_RATE, ROOM_CODE_PATTERN

MIN_ROOM_PASSWORD_CHARS = 4

#: An absolute http(s) URL or a path on this server, without spaces or control characters.
MEDIA_URL_PATTERN = r"^(https?://|/)[^\s\x00-\x1f\x7f]*$"

RoomCode = Annotated[str, Field(pattern=ROOM_CODE_PATTERN)]
UserId = Annotated[str, Field(min_length=1, max_length=64)]
RoomName = Annotated[str, Field(min_length=1, max_length=100)]
MediaUrl = Annotated[str, Field(min_length=1, max_length=2048, pattern=MEDIA_URL_PATTERN)]
MediaTitle = Annotated[str, Field(max_length=200)]
Duration = Annotated[float, Field(ge=0.0, le=MAX_POSITION_S)]
Position = Annotated[float, Field(ge=0.0, le=MAX_POSITION_S)]
Rate = Annotated[float, Field(ge=MIN_RATE, le=MAX_RATE)]


# --- rooms: requests ----------------------------------------------------------------


class MediaIn(Body):
    url: MediaUrl
    title: MediaTitle = ""
    duration_s: Duration | None = None


class RoomSettingsIn(Body):
    control: Literal["host", "cohosts", "everyone"] | None = None
    chat_enabled: bool | None = None
    wait_for_everyone: bool | None = None
    allow_guests: bool | None = None


class CreateRoomIn(Body):
    name: RoomName | None = None
    room_name: RoomName | None = None
    visibility: Literal["public", "private"] = "public"
    entry_mode: Literal["open", "password", "approval"] = "open"
    password: (
        Annotated[str, Field(min_length=MIN_ROOM_PASSWORD_CHARS, max_length=MAX_PASSWORD_CHARS)]
        | None
    ) = None
    media: MediaIn | None = None
    video_url: MediaUrl | None = None
    video_title: MediaTitle | None = None
    duration_s: Duration | None = None
    settings: RoomSettingsIn | None = None

    @model_validator(mode="after")
    def _check(self) -> CreateRoomIn:
        if self.room_name is not None and self.name is not None and self.room_name != self.name:
            raise ValueError("give only one of name, room_name (they differ)")
        if (self.name or self.room_name) is None:
            raise ValueError("name (or room_name) is required")
        if self.entry_mode == "password" and self.password is None:
            raise ValueError("password is required when entry_mode is 'password'")
        if self.entry_mode != "password" and self.password is not None:
            raise ValueError("password is only used when entry_mode is 'password'")
        if self.media is not None and self.video_url is not None:
            raise ValueError("give only one of media, video_url")
        if self.video_url is None and (self.video_title is not None or self.duration_s is not None):
            raise ValueError("video_title and duration_s need video_url")
        return self

    @property
    def room_title(self) -> str:
        return (self.name or self.room_name or "").strip() or "Room"

    def media_dict(self) -> dict[str, Any] | None:
        if self.media is not None:
            return self.media.model_dump()
        if self.video_url is not None:
            return {
                "url": self.video_url,
                "title": self.video_title or "",
                "duration_s": self.duration_s,
            }
        return None


class _RoomRef(Body):
    room_code: RoomCode | None = None
    room_id: RoomCode | None = None
    code: RoomCode | None = None

    @model_validator(mode="before")
    @classmethod
    def _need_code(cls, data: Any) -> Any:
        if isinstance(data, dict):
            one_of(data, ("room_code", "room_id", "code"))
            if all(data.get(k) is None for k in ("room_code", "room_id", "code")):
                raise ValueError("room_code (or room_id, or code) is required")
        return data

    @property
    def room(self) -> str:
        return self.room_code or self.room_id or self.code or ""


class JoinIn(_RoomRef):
    password: Annotated[str, Field(max_length=MAX_PASSWORD_CHARS)] | None = None


class DecideIn(_RoomRef):
    user_id: UserId


class ControlIn(Body):
    action: Literal["play", "pause", "seek", "set_rate"]
    position_s: Position | None = None
    position: Position | None = None
    time: Position | None = None
    rate: Rate | None = None

    @model_validator(mode="before")
    @classmethod
    def _aliases(cls, data: Any) -> Any:
        if isinstance(data, dict):
            one_of(data, ("position_s", "position", "time"))
        return data

    @model_validator(mode="after")
    def _check(self) -> ControlIn:
        if self.action == "seek" and self.target_s is None:
            raise ValueError("seek needs position_s (or position, or time)")
        if self.action == "set_rate" and self.rate is None:
            raise ValueError("set_rate needs rate")
        return self

    @property
    def target_s(self) -> float | None:
        for value in (self.position_s, self.position, self.time):
            if value is not None:
                return value
        return None

    def action_dict(self) -> dict[str, Any]:
        if self.action == "play":
            target = self.target_s
            return {"type": "play"} if target is None else {"type": "play", "position_s": target}
        if self.action == "pause":
            return {"type": "pause"}
        if self.action == "seek":
            return {"type": "seek", "position_s": self.target_s}
        return {"type": "set_rate", "rate": self.rate}


class ChangeVideoIn(Body):
    url: MediaUrl | None = None
    video_url: MediaUrl | None = None
    title: MediaTitle | None = None
    video_title: MediaTitle | None = None
    duration_s: Duration | None = None
    video_id: Annotated[str, Field(min_length=1, max_length=64)] | None = Field(
        None, description="A library video instead of a URL (its title and duration go along)."
    )

    @model_validator(mode="before")
    @classmethod
    def _aliases(cls, data: Any) -> Any:
        if isinstance(data, dict):
            one_of(data, ("url", "video_url"))
            one_of(data, ("title", "video_title"))
            has_url = data.get("url") is not None or data.get("video_url") is not None
            if has_url and data.get("video_id") is not None:
                raise ValueError("give either video_id or video_url (or url), not both")
            if not has_url and data.get("video_id") is None:
                raise ValueError("video_url (or url, or video_id) is required")
        return data

    def media_dict(self) -> dict[str, Any]:
        return {
            "url": self.url or self.video_url,
            "title": (self.title if self.title is not None else self.video_title) or "",
            "duration_s": self.duration_s,
        }


class MembersQuery(PageQuery):
    status: Literal["pending", "approved", "denied"] = "pending"


# --- rooms: responses ---------------------------------------------------------------


class MediaOut(BaseModel):
    url: str
    title: str
    duration_s: float | None = None


class RoomSettingsOut(BaseModel):
    control: Literal["host", "cohosts", "everyone"]
    chat_enabled: bool
    wait_for_everyone: bool
    allow_guests: bool


class PlaybackOut(BaseModel):
    """The room's playback state at ``server_time_ms``."""

    model_config = ConfigDict(extra="allow")

    media: MediaOut | None
    paused: bool
    position_s: float
    rate: float
    server_time_ms: float
    seq: int
    waiting: bool


class ParticipantOut(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str
    name: str
    role: str
    user_id: str | None
    guest: bool
    connected: bool
    buffering: bool
    drift_ms: float | None
    rtt_ms: float | None


class RoomSummaryOut(BaseModel):
    """A room in a list."""

    code: str
    name: str
    url: str = Field(description="This room's detail URL.")
    visibility: Literal["public", "private"]
    entry_mode: Literal["open", "password", "approval"]
    owner_user_id: str | None
    host_id: str | None
    settings: RoomSettingsOut
    created_at: datetime
    participant_count: int
    media: MediaOut | None
    paused: bool


class RoomOut(RoomSummaryOut):
    """A room with its participants and playback."""

    sync_url: str = Field(description="The sync socket URL to connect to (ws:// or wss://).")
    join_url: str | None = Field(description="The room's watch page, when the app serves one.")
    participants: list[ParticipantOut]
    playback: PlaybackOut
    seq: int


class JoinedOut(BaseModel):
    """Admitted: connect to ``room.sync_url`` with your access token."""

    status: Literal["joined"]
    room: RoomOut


class PendingOut(BaseModel):
    """Waiting for the host's approval."""

    status: Literal["pending"]
    room_code: str
    message: str


class MemberOut(BaseModel):
    """Someone's standing in a room."""

    room_code: str
    user_id: str
    display_name: str | None = None
    status: Literal["pending", "approved", "denied"]
    requested_at: datetime
    decided_at: datetime | None


class ControlOut(BaseModel):
    """The result of a playback action."""

    seq: int
    playback: PlaybackOut


class MessageOut(BaseModel):
    """A chat message."""

    id: int
    participant_id: str
    user_id: str | None
    display_name: str
    text: str
    created_at: datetime
    edited_at: datetime | None
