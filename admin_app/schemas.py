"""Request and response models of the REST API (pydantic; quart-schema validates
requests against them and documents both in ``/api/openapi.json``).

Request bodies are strict (a string is no number, a number no boolean) and ignore
unknown fields. Where SyncPlay Backend and StreamIt name a field differently both names
are accepted (``name``/``room_name``, ``room_code``/``room_id``/``code``,
``position_s``/``position``/``time``, ``url``/``video_url``).
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    model_validator,
)

from protocol.messages import MAX_POSITION_S, MAX_RATE, MIN_RATE, ROOM_CODE_PATTERN

from .pagination import PageQuery
from .passwords import MAX_PASSWORD_CHARS

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
MIN_PASSWORD_CHARS = 8
MIN_ROOM_PASSWORD_CHARS = 4


def check_email(value: str) -> str:
    """An email, trimmed; raises ValueError unless it looks like ``name@host.tld``."""
    value = value.strip()
    if len(value) > 254 or not _EMAIL.match(value):
        raise ValueError("must be an email address like name@example.org (at most 254 characters)")
    return value


def check_password(value: str) -> str:
    """A password of 8 to 1024 characters, unchanged; raises ValueError otherwise."""
    if not MIN_PASSWORD_CHARS <= len(value) <= MAX_PASSWORD_CHARS:
        raise ValueError(
            f"must be {MIN_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS} characters, got {len(value)}"
        )
    return value


def check_display_name(value: str) -> str:
    """A display name, trimmed, 1 to 40 characters without control characters."""
    value = value.strip()
    if not 1 <= len(value) <= 40:
        raise ValueError("must be 1 to 40 characters (after trimming spaces)")
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in value):
        raise ValueError("must not contain control or invisible formatting characters")
    return value


#: An absolute http(s) URL or a path on this server, without spaces or control characters.
MEDIA_URL_PATTERN = r"^(https?://|/)[^\s\x00-\x1f\x7f]*$"
EMAIL_PATTERN = r"^\s*[^@\s]+@[^@\s]+\.[^@\s.]+\s*$"

Email = Annotated[str, Field(max_length=254, pattern=EMAIL_PATTERN), AfterValidator(check_email)]
AccountPassword = Annotated[
    str, Field(min_length=MIN_PASSWORD_CHARS, max_length=MAX_PASSWORD_CHARS)
]
DisplayName = Annotated[str, Field(min_length=1, max_length=40), AfterValidator(check_display_name)]
RoomCode = Annotated[str, Field(pattern=ROOM_CODE_PATTERN)]
UserId = Annotated[str, Field(min_length=1, max_length=64)]
RoomName = Annotated[str, Field(min_length=1, max_length=100)]
MediaUrl = Annotated[str, Field(min_length=1, max_length=2048, pattern=MEDIA_URL_PATTERN)]
MediaTitle = Annotated[str, Field(max_length=200)]
Duration = Annotated[float, Field(ge=0.0, le=MAX_POSITION_S)]
Position = Annotated[float, Field(ge=0.0, le=MAX_POSITION_S)]
Rate = Annotated[float, Field(ge=MIN_RATE, le=MAX_RATE)]


class _Body(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore", allow_inf_nan=False)


def _one_of(values: dict[str, Any], names: tuple[str, ...]) -> Any:
    """The value given under any of *names*; ValueError when two differ."""
    given = {name: values[name] for name in names if values.get(name) is not None}
    if len(set(map(repr, given.values()))) > 1:
        raise ValueError(f"give only one of {', '.join(names)} (they differ)")
    return next(iter(given.values()), None)


# --- auth ---------------------------------------------------------------------------


class RegisterIn(_Body):
    email: Email
    password: AccountPassword
    display_name: DisplayName


class LoginIn(_Body):
    email: Annotated[str, Field(min_length=1, max_length=254)]
    password: Annotated[str, Field(min_length=1, max_length=MAX_PASSWORD_CHARS)]


class GuestIn(_Body):
    display_name: DisplayName


class RefreshIn(_Body):
    refresh: Annotated[str, Field(min_length=1, max_length=4096)]


class UserOut(BaseModel):
    """An account."""

    id: str
    email: str | None
    display_name: str
    role: Literal["user", "staff", "admin"]
    is_guest: bool
    created_at: datetime


class TokensOut(BaseModel):
    """A fresh access and refresh token."""

    access: str
    refresh: str
    token_type: Literal["Bearer"]
    expires_in: int = Field(description="Lifetime of the access token, seconds.")


class SessionOut(TokensOut):
    """An account and its tokens."""

    user: UserOut


# --- rooms: requests ----------------------------------------------------------------


class MediaIn(_Body):
    url: MediaUrl
    title: MediaTitle = ""
    duration_s: Duration | None = None


class RoomSettingsIn(_Body):
    control: Literal["host", "cohosts", "everyone"] | None = None
    chat_enabled: bool | None = None
    wait_for_everyone: bool | None = None
    allow_guests: bool | None = None


class CreateRoomIn(_Body):
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


class _RoomRef(_Body):
    room_code: RoomCode | None = None
    room_id: RoomCode | None = None
    code: RoomCode | None = None

    @model_validator(mode="before")
    @classmethod
    def _need_code(cls, data: Any) -> Any:
        if isinstance(data, dict):
            _one_of(data, ("room_code", "room_id", "code"))
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


class ControlIn(_Body):
    action: Literal["play", "pause", "seek", "set_rate"]
    position_s: Position | None = None
    position: Position | None = None
    time: Position | None = None
    rate: Rate | None = None

    @model_validator(mode="before")
    @classmethod
    def _aliases(cls, data: Any) -> Any:
        if isinstance(data, dict):
            _one_of(data, ("position_s", "position", "time"))
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


class ChangeVideoIn(_Body):
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
            _one_of(data, ("url", "video_url"))
            _one_of(data, ("title", "video_title"))
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


class HealthOut(BaseModel):
    """The server's health."""

    status: Literal["ok"]
    database: Literal["ok"]
    sync: dict[str, Any]
    version: str


# --- videos (the Watch Party video library) ---------------------------------------------

VideoOrdering = Literal[
    "created_at", "-created_at", "title", "-title", "views", "-views", "likes", "-likes"
]
MAX_TITLE_CHARS = 200
MAX_DESCRIPTION_CHARS = 5_000
MAX_COMMENT_CHARS = 5_000


def _check_text(value: str, *, multiline: bool) -> str:
    allowed = "\n\t" if multiline else ""
    if any(unicodedata.category(ch) == "Cc" and ch not in allowed for ch in value):
        raise ValueError("must not contain control characters")
    return value.strip()


def check_title(value: str) -> str:
    """A video title, trimmed, 1 to 200 characters on one line."""
    value = _check_text(value, multiline=False)
    if not 1 <= len(value) <= MAX_TITLE_CHARS:
        raise ValueError(f"must be 1 to {MAX_TITLE_CHARS} characters (after trimming spaces)")
    return value


def check_comment(value: str) -> str:
    """A comment, trimmed, 1 to 5,000 characters (line breaks allowed)."""
    value = _check_text(value, multiline=True)
    if not 1 <= len(value) <= MAX_COMMENT_CHARS:
        raise ValueError(f"must be 1 to {MAX_COMMENT_CHARS} characters (after trimming spaces)")
    return value


VideoTitle = Annotated[
    str, Field(min_length=1, max_length=MAX_TITLE_CHARS), AfterValidator(check_title)
]
VideoDescription = Annotated[
    str,
    Field(max_length=MAX_DESCRIPTION_CHARS),
    AfterValidator(lambda v: _check_text(v, multiline=True)),
]
VideoVisibility = Literal["public", "unlisted", "private"]
VideoId = Annotated[str, Field(min_length=1, max_length=64)]
CommentId = Annotated[int, Field(ge=1, le=2**63 - 1)]
CommentText = Annotated[
    str, Field(min_length=1, max_length=MAX_COMMENT_CHARS), AfterValidator(check_comment)
]


class VideoUploadIn(BaseModel):
    """The fields of an upload form besides the file (form values: lax types, so
    ``true``/``false``/``1``/``0``/``on``/``off`` are booleans)."""

    model_config = ConfigDict(extra="ignore")

    title: VideoTitle | None = None
    description: VideoDescription = ""
    visibility: VideoVisibility = "public"
    allow_download: bool = False
    is_premium: bool = False


class VideoUploadForm(VideoUploadIn):
    """An upload: ``multipart/form-data`` with the video in ``file``.

    The type is found from the file's content (MP4, QuickTime, WebM, Matroska, Ogg,
    AVI, MPEG, FLV). Without a title, the file's name (less its extension) is used.
    """

    file: bytes = Field(description="The video file.")


class VideoUpdateIn(_Body):
    title: VideoTitle | None = None
    description: VideoDescription | None = None
    visibility: VideoVisibility | None = None
    allow_download: bool | None = None
    is_premium: bool | None = None

    def changes(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)


class VideoListQuery(PageQuery):
    search: Annotated[str, Field(max_length=200)] | None = Field(
        None, description="Words that must all appear in the title or description."
    )
    owner: Annotated[str, Field(min_length=1, max_length=64)] | None = Field(
        None, description="Only this account's videos (an account id, or `me`)."
    )
    visibility: VideoVisibility | None = None
    is_premium: bool | None = None
    ordering: VideoOrdering = Field("-created_at", description="Sort key; `-` first: descending.")


class VideoOwnerOut(BaseModel):
    id: str
    display_name: str


class VideoOut(BaseModel):
    """A video of the library."""

    id: str
    title: str
    description: str
    visibility: VideoVisibility
    allow_download: bool
    is_premium: bool
    owner: VideoOwnerOut
    content_type: str
    size_bytes: int
    duration_s: float | None
    view_count: int
    like_count: int
    dislike_count: int
    comment_count: int
    download_count: int
    stream_url: str = Field(description="For players; carries a signed token when needed.")
    download_url: str = Field(description="Carries a signed token for signed-in callers.")
    is_liked: bool
    is_disliked: bool
    can_download: bool
    can_edit: bool
    created_at: datetime
    updated_at: datetime


class LikeIn(_Body):
    is_like: bool


class LikeOut(BaseModel):
    """The caller's reaction after the toggle and the like count (the Watch Party shape)."""

    success: bool
    is_liked: bool
    like_count: int


class DownloadOut(BaseModel):
    """One recorded download."""

    id: int
    user_id: str | None
    created_at: datetime


class PremiumIn(_Body):
    is_premium: bool


class PremiumOut(BaseModel):
    user_id: str
    is_premium: bool


class CommentIn(_Body):
    content: CommentText
    parent_id: CommentId | None = None


class CommentCreateIn(CommentIn):
    video_id: VideoId


class CommentUpdateIn(_Body):
    content: CommentText


class CommentsQuery(PageQuery):
    video_id: VideoId | None = Field(None, description="Only this video's comments.")


class CommentAuthorOut(BaseModel):
    id: str
    display_name: str


class CommentOut(BaseModel):
    """A comment; a thread's first comment carries its replies, oldest first."""

    id: int
    video_id: str
    user: CommentAuthorOut
    content: str
    parent_id: int | None
    is_edited: bool
    likes_count: int
    is_liked: bool
    created_at: datetime
    updated_at: datetime
    replies: list[CommentOut]
