"""Request and response models of social groups."""

from __future__ import annotations

import unicodedata
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field

from admin_app.core.pagination import CursorQuery
from admin_app.core.schemas import Body

MAX_NAME_CHARS = 100
MAX_DESCRIPTION_CHARS = 2_000
MAX_CATEGORY_CHARS = 50
MAX_URL_CHARS = 500
MAX_MESSAGE_CHARS = 500
MAX_POST_CHARS = 5_000
#: Most members a group may be given (``max_members``).
MAX_MEMBERS_LIMIT = 1_000_000
DEFAULT_MAX_MEMBERS = 1_000
#: Invitation lifetimes accepted, in seconds (1 minute to 30 days; 7 days by default).
MIN_INVITATION_TTL_S = 60
MAX_INVITATION_TTL_S = 30 * 24 * 3600
DEFAULT_INVITATION_TTL_S = 7 * 24 * 3600
#: The reactions a post may get.
REACTIONS = ("👍", "❤️", "😂", "😮", "😢", "🎉")

Privacy = Literal["public", "private"]
Role = Literal["owner", "admin", "moderator", "member"]
GivenRole = Literal["admin", "moderator", "member"]
Emoji = Literal["👍", "❤️", "😂", "😮", "😢", "🎉"]
AccountId = Annotated[str, Field(min_length=1, max_length=64)]


def _text(*, multiline: bool, low: int, high: int) -> AfterValidator:
    allowed = "\n\t" if multiline else ""

    def check(value: str) -> str:
        if any(unicodedata.category(c) in ("Cc", "Cs") and c not in allowed for c in value):
            raise ValueError("must not contain control characters")
        value = value.strip()
        if not low <= len(value) <= high:
            raise ValueError(f"must be {low} to {high} characters (after trimming spaces)")
        return value

    return AfterValidator(check)


def _url(value: str | None) -> str | None:
    if value is None or value == "":
        return None
    if not value.startswith(("https://", "http://")) or any(
        c.isspace() or unicodedata.category(c) in ("Cc", "Cs") for c in value
    ):
        raise ValueError("must be an http:// or https:// URL without spaces")
    return value


GroupName = Annotated[
    str, Field(max_length=MAX_NAME_CHARS * 2), _text(multiline=False, low=1, high=MAX_NAME_CHARS)
]
Description = Annotated[
    str,
    Field(max_length=MAX_DESCRIPTION_CHARS * 2),
    _text(multiline=True, low=0, high=MAX_DESCRIPTION_CHARS),
]
Category = Annotated[
    str,
    Field(max_length=MAX_CATEGORY_CHARS * 2),
    _text(multiline=False, low=0, high=MAX_CATEGORY_CHARS),
]
AvatarUrl = Annotated[str | None, Field(max_length=MAX_URL_CHARS), AfterValidator(_url)]
Message = Annotated[
    str,
    Field(max_length=MAX_MESSAGE_CHARS * 2),
    _text(multiline=True, low=0, high=MAX_MESSAGE_CHARS),
]
PostText = Annotated[
    str, Field(max_length=MAX_POST_CHARS * 2), _text(multiline=True, low=1, high=MAX_POST_CHARS)
]
MaxMembers = Annotated[int, Field(ge=1, le=MAX_MEMBERS_LIMIT)]


class GroupIn(Body):
    """A new group, or every field of one (PUT)."""

    name: GroupName
    description: Description = ""
    category: Category = Field("", description="Free text; lists filter on it exactly.")
    avatar_url: AvatarUrl = Field(None, description="An http(s) image URL, or null.")
    privacy: Privacy = Field(
        "public", description="`public`: anyone may join; `private`: by invitation or request."
    )
    max_members: MaxMembers = DEFAULT_MAX_MEMBERS


class GroupPatch(Body):
    """Some fields of a group (PATCH); those left out stay."""

    name: GroupName | None = None
    description: Description | None = None
    category: Category | None = None
    avatar_url: AvatarUrl = None
    privacy: Privacy | None = None
    max_members: MaxMembers | None = None


class RoleIn(Body):
    """The role to give a member (the owner's is handed over instead)."""

    role: GivenRole


class BanIn(Body):
    reason: Message = ""


class TransferIn(Body):
    """Hand ownership over to another member; the old owner becomes an admin."""

    user_id: AccountId


class InvitationIn(Body):
    user_id: AccountId
    message: Message = ""
    expires_in_s: int = Field(
        DEFAULT_INVITATION_TTL_S,
        ge=MIN_INVITATION_TTL_S,
        le=MAX_INVITATION_TTL_S,
        description="Seconds until the invitation expires (60 to 2,592,000).",
    )


class RespondIn(Body):
    accept: bool = Field(description="true: join the group; false: decline.")


class JoinRequestIn(Body):
    message: Message = ""


class PostIn(Body):
    content: PostText
    video_id: Annotated[str, Field(min_length=1, max_length=64)] | None = Field(
        None, description="A library video the post points at."
    )


class PostUpdateIn(Body):
    content: PostText


class ReactIn(Body):
    emoji: Emoji


class GroupsQuery(CursorQuery):
    search: str | None = Field(None, max_length=MAX_NAME_CHARS, description="Part of the name.")
    category: str | None = Field(None, max_length=MAX_CATEGORY_CHARS, description="Exactly.")


# --- responses --------------------------------------------------------------------------------


class UserRef(BaseModel):
    id: str
    display_name: str


class GroupOut(BaseModel):
    id: int
    name: str
    description: str
    category: str
    avatar_url: str | None
    privacy: Privacy
    max_members: int
    member_count: int = Field(description="Exact.")
    post_count: int
    owner_id: str | None
    my_role: Role | None = Field(description="The caller's role, or null for a non-member.")
    created_at: datetime
    updated_at: datetime


class MyGroupOut(GroupOut):
    joined_at: datetime


class MemberOut(BaseModel):
    user: UserRef
    role: Role
    joined_at: datetime


class BanOut(BaseModel):
    user: UserRef
    banned_by: str | None
    reason: str
    created_at: datetime


class InvitationOut(BaseModel):
    id: int
    group_id: int
    group_name: str
    user: UserRef
    invited_by: str | None
    message: str
    status: Literal["pending", "accepted", "declined", "expired", "cancelled"]
    created_at: datetime
    expires_at: datetime
    responded_at: datetime | None


class JoinRequestOut(BaseModel):
    id: int
    group_id: int
    user: UserRef
    message: str
    status: Literal["pending", "approved", "denied", "cancelled"]
    decided_by: str | None
    created_at: datetime
    decided_at: datetime | None


class JoinOut(BaseModel):
    """The answer to a join: a membership (public group)."""

    group: GroupOut
    role: Role


class PostOut(BaseModel):
    id: int
    group_id: int
    author: UserRef
    content: str
    video_id: str | None
    is_edited: bool
    edit_count: int
    edited_at: datetime | None
    created_at: datetime
    reaction_counts: dict[str, int] = Field(description="Exact counts by emoji.")
    my_reactions: list[str]


class ReactOut(BaseModel):
    reacted: bool = Field(description="Whether the caller's reaction is there now.")
    emoji: str
    count: int
    reaction_counts: dict[str, int]
