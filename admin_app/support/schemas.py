"""Request and response models of the support desk: tickets, the FAQ and feedback."""

from __future__ import annotations

import unicodedata
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from admin_app.core.pagination import PageQuery
from admin_app.core.schemas import Body

MAX_SUBJECT_CHARS = 200
MAX_TEXT_CHARS = 10_000
MAX_QUESTION_CHARS = 300
MAX_ANSWER_CHARS = 20_000
MAX_SEARCH_CHARS = 100
MAX_ID = 2**63 - 1

TicketCategory = Literal[
    "general", "account", "playback", "rooms", "videos", "billing", "bug", "other"
]
TicketPriority = Literal["low", "medium", "high", "urgent"]
TicketStatus = Literal["open", "in_progress", "waiting_on_user", "resolved", "closed"]
FeedbackKind = Literal["bug", "feature", "general"]
FeedbackStatus = Literal["new", "planned", "in_progress", "done", "declined"]
FeedbackOrdering = Literal["-votes", "votes", "-created", "created"]


def _clean(value: str, *, multiline: bool) -> str:
    allowed = "\n\t\r" if multiline else ""
    if any(unicodedata.category(ch) == "Cc" and ch not in allowed for ch in value):
        raise ValueError("must not contain control characters")
    value = value.strip()
    if not value:
        raise ValueError("must not be empty (after trimming spaces)")
    return value


def _line(value: str) -> str:
    return _clean(value, multiline=False)


def _text(value: str) -> str:
    return _clean(value, multiline=True)


Subject = Annotated[str, Field(min_length=1, max_length=MAX_SUBJECT_CHARS), AfterValidator(_line)]
Text = Annotated[str, Field(min_length=1, max_length=MAX_TEXT_CHARS), AfterValidator(_text)]
#: Same shape as the accounts' emails: ``name@host.tld``.
EMAIL_PATTERN = r"^\s*[^@\s]+@[^@\s]+\.[^@\s.]+\s*$"
Email = Annotated[
    str, Field(max_length=254, pattern=EMAIL_PATTERN), AfterValidator(lambda v: v.strip())
]
UserId = Annotated[str, Field(min_length=1, max_length=64)]
Position = Annotated[int, Field(ge=-1_000_000, le=1_000_000)]


class TicketIn(Body):
    subject: Subject
    description: Text
    category: TicketCategory = "general"
    priority: TicketPriority = "medium"
    email: Email | None = Field(
        None,
        description="Where to answer. Required for guest accounts (they have no email); "
        "an account's own email otherwise.",
    )


class ReplyIn(Body):
    body: Text
    internal: bool = Field(
        False, description="A staff-only internal note, never shown to the requester."
    )


class StatusIn(Body):
    status: TicketStatus


class PriorityIn(Body):
    priority: TicketPriority


class AssignIn(Body):
    assignee_id: UserId | None = Field(description="A staff account's id; null unassigns.")


class TicketsQuery(PageQuery):
    model_config = ConfigDict(extra="ignore")

    status: TicketStatus | None = None
    priority: TicketPriority | None = None
    category: TicketCategory | None = None
    assignee: Annotated[str, Field(min_length=1, max_length=64)] | None = Field(
        None, description="Staff only: an account id, `me`, or `none` (unassigned)."
    )
    search: Annotated[str, Field(min_length=1, max_length=MAX_SEARCH_CHARS)] | None = None


class PersonOut(BaseModel):
    id: str | None
    display_name: str | None


class MessageOut(BaseModel):
    """One message of a ticket's thread."""

    id: int
    author: PersonOut
    from_staff: bool
    is_internal: bool = Field(description="Staff only ever see these.")
    body: str
    created_at: datetime


class AttachmentForm(BaseModel):
    """An attachment: ``multipart/form-data`` with the file in ``file`` (form values
    are lax: ``internal`` may be ``true``/``false``/``1``/``0``)."""

    model_config = ConfigDict(extra="ignore")

    file: bytes = Field(description="An image (PNG, JPEG, GIF, WebP) or UTF-8 text.")
    internal: bool = Field(False, description="Staff only: hide it from the requester.")


class AttachmentOut(BaseModel):
    id: int
    file_name: str
    content_type: str
    size_bytes: int
    is_internal: bool
    uploaded_by: str | None
    url: str
    created_at: datetime


class TicketOut(BaseModel):
    """A ticket as its requester and staff see it (the thread only in the detail)."""

    id: int
    subject: str
    description: str
    category: TicketCategory
    priority: TicketPriority
    status: TicketStatus
    requester: PersonOut
    contact_email: str | None
    assignee: PersonOut | None
    reply_count: int
    reopen_count: int
    allowed_statuses: list[TicketStatus] = Field(
        description="The statuses the caller may move this ticket to now."
    )
    created_at: datetime
    updated_at: datetime
    first_response_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None


class TicketDetailOut(TicketOut):
    messages: list[MessageOut]
    attachments: list[AttachmentOut]


class ReplyOut(BaseModel):
    message: MessageOut
    ticket: TicketOut


# --- FAQ -------------------------------------------------------------------------------------


class CategoryIn(Body):
    name: Annotated[str, Field(min_length=1, max_length=80), AfterValidator(_line)]
    description: Annotated[str, Field(max_length=500)] = ""
    position: Position = 0


class CategoryUpdateIn(Body):
    name: Annotated[str, Field(min_length=1, max_length=80), AfterValidator(_line)] | None = None
    description: Annotated[str, Field(max_length=500)] | None = None
    position: Position | None = None


class CategoryOut(BaseModel):
    id: int
    name: str
    description: str
    position: int
    entry_count: int = Field(description="Published entries in it.")


class EntryIn(Body):
    category_id: Annotated[int, Field(ge=1, le=MAX_ID)]
    question: Annotated[
        str, Field(min_length=1, max_length=MAX_QUESTION_CHARS), AfterValidator(_line)
    ]
    answer: Annotated[
        str, Field(min_length=1, max_length=MAX_ANSWER_CHARS), AfterValidator(_text)
    ] = Field(description="Markdown (CommonMark and tables); raw HTML is not rendered.")
    is_published: bool = True
    position: Position = 0


class EntryUpdateIn(Body):
    category_id: Annotated[int, Field(ge=1, le=MAX_ID)] | None = None
    question: (
        Annotated[str, Field(min_length=1, max_length=MAX_QUESTION_CHARS), AfterValidator(_line)]
        | None
    ) = None
    answer: (
        Annotated[str, Field(min_length=1, max_length=MAX_ANSWER_CHARS), AfterValidator(_text)]
        | None
    ) = None
    is_published: bool | None = None
    position: Position | None = None


class EntryOut(BaseModel):
    id: int
    category: CategoryOut | None = None
    category_id: int
    question: str
    answer: str = Field(description="The Markdown source.")
    answer_html: str = Field(description="The answer rendered and sanitised: safe to insert.")
    is_published: bool
    position: int
    view_count: int
    helpful_count: int
    not_helpful_count: int
    my_vote: bool | None = Field(description="The caller's vote: helpful, not, or none.")
    created_at: datetime
    updated_at: datetime


class FaqQuery(PageQuery):
    model_config = ConfigDict(extra="ignore")

    category: Annotated[int, Field(ge=1, le=MAX_ID)] | None = None
    search: Annotated[str, Field(min_length=1, max_length=MAX_SEARCH_CHARS)] | None = None
    include_drafts: bool = Field(False, description="Staff only: list drafts too.")


class HelpfulIn(Body):
    helpful: bool | None = Field(description="true: helpful; false: not; null: take it back.")


# --- feedback --------------------------------------------------------------------------------


class FeedbackIn(Body):
    kind: FeedbackKind = "general"
    title: Subject
    description: Text


class FeedbackUpdateIn(Body):
    status: FeedbackStatus | None = None
    staff_response: Annotated[str, Field(max_length=MAX_TEXT_CHARS)] | None = None


class FeedbackQuery(PageQuery):
    model_config = ConfigDict(extra="ignore")

    kind: FeedbackKind | None = None
    status: FeedbackStatus | None = None
    search: Annotated[str, Field(min_length=1, max_length=MAX_SEARCH_CHARS)] | None = None
    ordering: FeedbackOrdering = "-votes"


class FeedbackOut(BaseModel):
    id: int
    kind: FeedbackKind
    title: str
    description: str
    status: FeedbackStatus
    staff_response: str
    author: PersonOut
    vote_count: int
    has_voted: bool
    created_at: datetime
    updated_at: datetime


class VoteOut(BaseModel):
    voted: bool
    vote_count: int
