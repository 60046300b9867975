"""Request and response models of events.

Times on the wire are RFC 3339 date-times with an offset (``2026-12-04T21:00:00+01:00``
or ``...Z``); a time without one is refused, since it names no instant. Responses give
them in UTC (``...Z``) and, beside them, in the event's own time zone.
"""

from __future__ import annotations

import unicodedata
from datetime import datetime
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from admin_app.core.pagination import PageQuery
from admin_app.core.schemas import Body

MAX_TITLE_CHARS = 200
MAX_DESCRIPTION_CHARS = 5_000
MAX_LOCATION_CHARS = 300
MAX_CATEGORY_CHARS = 50
MAX_TAG_CHARS = 30
MAX_TAGS = 10
#: Most accounts invited by one request.
MAX_INVITEES = 100
#: Largest ``max_attendees``.
MAX_CAPACITY = 100_000
#: Longest an event may last, and how far ahead it may start, seconds.
MAX_DURATION_S = 7 * 24 * 3600
MAX_LEAD_S = 5 * 366 * 24 * 3600
#: Largest ``minutes_before`` of a reminder (four weeks).
MAX_REMINDER_MINUTES = 40_320

Privacy = Literal["public", "private", "friends_only"]
EventStatus = Literal["upcoming", "ongoing", "completed", "cancelled"]
RsvpAnswer = Literal["attending", "maybe", "not_attending"]
AttendeeStatus = Literal["attending", "maybe", "not_attending", "pending", "denied"]
ReminderChannel = Literal["in_app", "email"]


def _text(value: str, *, multiline: bool) -> str:
    allowed = "\n\t" if multiline else ""
    if any(unicodedata.category(ch) == "Cc" and ch not in allowed for ch in value):
        raise ValueError("must not contain control characters")
    return value.strip()


def _title(value: str) -> str:
    value = _text(value, multiline=False)
    if not value:
        raise ValueError("must not be blank")
    return value


def check_time(value: str) -> str:
    """An RFC 3339 date-time with an offset, returned as given.

    Raises:
        ValueError: for anything else (a bare date, a time without an offset).
    """
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(
            f"expected an RFC 3339 date-time such as 2026-12-04T21:00:00+01:00, got {value!r}"
        ) from None
    if "T" not in value.upper() or moment.tzinfo is None:
        raise ValueError(
            f"expected a date-time with an offset (Z or +01:00), got {value!r} without one"
        )
    return value


def check_timezone(value: str) -> str:
    """An IANA time-zone name (``Europe/Paris``, ``UTC``).

    Raises:
        ValueError: for an unknown name.
    """
    if value not in _zones():
        raise ValueError(f"expected an IANA time-zone name such as Europe/Paris, got {value!r}")
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value!r}") from None
    return value


_ZONES: set[str] = set()


def _zones() -> set[str]:
    if not _ZONES:
        _ZONES.update(available_timezones())
        _ZONES.add("UTC")
    return _ZONES


def _tags(values: list[str]) -> list[str]:
    cleaned = []
    for value in values:
        tag = _text(value, multiline=False).lower()
        if not tag:
            raise ValueError("tags must not be blank")
        if tag not in cleaned:
            cleaned.append(tag)
    return cleaned


Title = Annotated[str, Field(min_length=1, max_length=MAX_TITLE_CHARS), AfterValidator(_title)]
Description = Annotated[
    str,
    Field(max_length=MAX_DESCRIPTION_CHARS),
    AfterValidator(lambda v: _text(v, multiline=True)),
]
Time = Annotated[
    str,
    Field(min_length=10, max_length=40, description="RFC 3339 date-time with an offset."),
    AfterValidator(check_time),
]
TimeZone = Annotated[
    str,
    Field(min_length=1, max_length=64, description="IANA time-zone name (Europe/Paris)."),
    AfterValidator(check_timezone),
]
Location = Annotated[
    str, Field(max_length=MAX_LOCATION_CHARS), AfterValidator(lambda v: _text(v, multiline=False))
]
Category = Annotated[
    str, Field(max_length=MAX_CATEGORY_CHARS), AfterValidator(lambda v: _text(v, multiline=False))
]
Tags = Annotated[
    list[Annotated[str, Field(min_length=1, max_length=MAX_TAG_CHARS)]],
    Field(max_length=MAX_TAGS),
    AfterValidator(_tags),
]
Capacity = Annotated[int, Field(ge=1, le=MAX_CAPACITY)]
RoomCode = Annotated[str, Field(min_length=1, max_length=64)]
UserId = Annotated[str, Field(min_length=1, max_length=64)]


class EventIn(Body):
    """A new event, or the whole of one (PUT).

    ``room``: ``new`` creates a watch room hosted by the organizer, ``none`` (the
    default) none; ``room_code`` ties an existing room the organizer owns instead.
    """

    title: Title
    description: Description = ""
    start_time: Time
    end_time: Time
    timezone: TimeZone = "UTC"
    location: Location = ""
    is_virtual: bool = True
    category: Category = ""
    tags: Tags = Field(default_factory=list)
    privacy: Privacy = "public"
    max_attendees: Capacity | None = None
    require_approval: bool = False
    room: Literal["none", "new"] = "none"
    room_code: RoomCode | None = None


class EventPatchIn(Body):
    """Some fields of an event (PATCH); those left out keep their value.
    ``max_attendees`` null removes the limit."""

    title: Title | None = None
    description: Description | None = None
    start_time: Time | None = None
    end_time: Time | None = None
    timezone: TimeZone | None = None
    location: Location | None = None
    is_virtual: bool | None = None
    category: Category | None = None
    tags: Tags | None = None
    privacy: Privacy | None = None
    max_attendees: Capacity | None = None
    require_approval: bool | None = None
    room: Literal["none", "new"] | None = None
    room_code: RoomCode | None = None


class RsvpIn(Body):
    status: RsvpAnswer


class JoinIn(Body):
    """Optional body of a join: ``maybe`` instead of the default ``attending``."""

    status: Literal["attending", "maybe"] = "attending"


class InviteIn(Body):
    user_ids: Annotated[list[UserId], Field(min_length=1, max_length=MAX_INVITEES)]
    expires_in_s: Annotated[int, Field(ge=60, le=MAX_LEAD_S)] | None = Field(
        None, description="Seconds until the invitation expires; default: when the event ends."
    )


class RespondIn(Body):
    response: Literal["accept", "decline"]


class ReminderIn(Body):
    minutes_before: Annotated[int, Field(ge=0, le=MAX_REMINDER_MINUTES)] = 15
    channel: ReminderChannel = "in_app"


class AttendeesQuery(PageQuery):
    status: AttendeeStatus | None = Field(
        None, description="Only this answer; default: attending and maybe."
    )


class SearchQuery(PageQuery):
    q: Annotated[str, Field(max_length=200)] | None = Field(
        None, description="Words that must all appear in the title, description or tags."
    )
    category: Annotated[str, Field(max_length=MAX_CATEGORY_CHARS)] | None = None
    tags: Annotated[str, Field(max_length=400)] | None = Field(
        None, description="Comma-separated tags the event must all have."
    )
    starts_after: Annotated[str, Field(max_length=40)] | None = Field(
        None, description="RFC 3339 date-time with an offset: events starting at or after it."
    )
    starts_before: Annotated[str, Field(max_length=40)] | None = Field(
        None, description="RFC 3339 date-time with an offset: events starting before it."
    )
    is_virtual: bool | None = None
    room: Annotated[str, Field(min_length=1, max_length=64)] | None = Field(
        None, description="Only events tied to this watch room (a room code)."
    )
    include_past: bool = Field(False, description="Also events that have ended.")


class PersonOut(BaseModel):
    id: str
    display_name: str


class EventOut(BaseModel):
    """An event."""

    model_config = ConfigDict(extra="forbid")

    id: str
    url: str
    page_url: str
    ics_url: str
    title: str
    description: str
    organizer: PersonOut
    start_time: str = Field(description="UTC, RFC 3339.")
    end_time: str = Field(description="UTC, RFC 3339.")
    timezone: str
    local_start_time: str = Field(description="In the event's time zone, with its offset.")
    local_end_time: str
    location: str
    is_virtual: bool
    category: str
    tags: list[str]
    privacy: Privacy
    max_attendees: int | None
    require_approval: bool
    status: EventStatus
    attending_count: int
    spots_left: int | None
    room_code: str | None
    room_url: str | None
    banner_url: str | None
    sequence: int
    cancelled_at: str | None
    created_at: str
    updated_at: str
    my_status: AttendeeStatus | None = Field(description="The caller's answer, if any.")
    is_organizer: bool


class RsvpOut(BaseModel):
    event_id: str
    user_id: str
    status: AttendeeStatus
    message: str
    event: EventOut


class AttendeeOut(BaseModel):
    user_id: str
    display_name: str
    status: AttendeeStatus
    wanted: Literal["attending", "maybe"]
    is_organizer: bool
    answered_at: str


class InvitationOut(BaseModel):
    id: int
    event_id: str
    invitee: PersonOut
    inviter_id: str | None
    status: Literal["pending", "accepted", "declined", "expired"]
    created_at: str
    expires_at: str
    responded_at: str | None


class InvitationsOut(BaseModel):
    results: list[InvitationOut]


class ReminderOut(BaseModel):
    id: int
    event_id: str
    minutes_before: int
    channel: ReminderChannel
    due_at: str
    status: Literal["scheduled", "sent", "failed", "skipped"]
    outcome: str | None
    handled_at: str | None


class RemindersOut(BaseModel):
    email_available: bool = Field(description="Whether email reminders can be sent here.")
    results: list[ReminderOut]


class FeedOut(BaseModel):
    url: str = Field(description="The private calendar feed (iCalendar); keep it secret.")


def dump(model: BaseModel) -> dict[str, Any]:
    """The fields a client set in *model* (PATCH semantics: null counts as set)."""
    return {name: getattr(model, name) for name in model.model_fields_set}
