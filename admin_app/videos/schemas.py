"""Request and response models of the video library and its comments."""

from __future__ import annotations

import unicodedata
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from admin_app.core.pagination import PageQuery
from admin_app.core.schemas import Body

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


class VideoUpdateIn(Body):
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


class LikeIn(Body):
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


class PremiumIn(Body):
    is_premium: bool


class PremiumOut(BaseModel):
    user_id: str
    is_premium: bool


class CommentIn(Body):
    content: CommentText
    parent_id: CommentId | None = None


class CommentCreateIn(CommentIn):
    video_id: VideoId


class CommentUpdateIn(Body):
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
