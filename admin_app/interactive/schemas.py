"""Request and response models of the interactive domain (limits as on the socket:
:mod:`protocol.polls`)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field, model_validator

from admin_app.core.schemas import Body
from protocol import polls

PollQuestion = Annotated[str, Field(min_length=1, max_length=polls.MAX_QUESTION_CHARS)]
PollOption = Annotated[str, Field(min_length=1, max_length=polls.MAX_OPTION_CHARS)]


class PollCreateIn(Body):
    """A new poll: 2 to 10 distinct options; ``duration_s`` (seconds, 1 to 604800)
    closes it by itself."""

    question: PollQuestion
    options: list[PollOption] = Field(min_length=polls.MIN_OPTIONS, max_length=polls.MAX_OPTIONS)
    multiple: bool = False
    anonymous: bool = False
    duration_s: float | None = Field(None, ge=polls.MIN_DURATION_S, le=polls.MAX_DURATION_S)


class PollRespondIn(Body):
    """A vote: option indexes (one in a single-choice poll; none withdraws it)."""

    choices: list[Annotated[int, Field(ge=0, le=polls.MAX_OPTIONS - 1)]] = Field(
        max_length=polls.MAX_OPTIONS
    )


class PollVoterOut(BaseModel):
    participant_id: str | None
    user_id: str | None
    name: str


class PollResultsOut(BaseModel):
    """Votes per option (in option order), people who voted, and who chose what
    (null for an anonymous poll)."""

    counts: list[int]
    voter_count: int
    voters: list[list[PollVoterOut]] | None


class PollOut(BaseModel):
    """A poll with its results (live while open, final once closed)."""

    id: int
    party_id: str
    question: str
    options: list[str]
    multiple: bool
    anonymous: bool
    status: str = Field(description="`open` or `closed`.")
    created_by_user_id: str | None
    created_by_name: str
    created_at: datetime
    closes_at: datetime | None
    closed_at: datetime | None
    close_reason: str | None = Field(description="`closed`, `expired`, or null while open.")
    results: PollResultsOut


class PollVoteOut(BaseModel):
    """A recorded vote."""

    poll_id: int
    choices: list[int]


class ReactionOut(BaseModel):
    """A stored reaction: who, what, and where in the media (seconds, server-computed)."""

    id: int
    party_id: str
    participant_id: str
    user_id: str | None
    display_name: str
    emoji: str
    position_s: float
    media_key: str = Field(description="`video:<id>` or `url:<url>`.")
    created_at: datetime


class TimelineOut(BaseModel):
    """Reactions per second of one media: ``[second, emoji, count]`` triples."""

    media_key: str | None
    bucket_s: int
    counts: list[tuple[int, str, int]]


#: What a player can load: http(s) URLs and paths on the web app (as the socket).
MEDIA_URL_PATTERN = r"^(https?://|/)[^\s\x00-\x1f\x7f]*$"


class QueueAddIn(Body):
    """A media to queue: ``url`` (with ``title``, ``duration_s`` seconds) or a library
    ``video_id``, exactly one."""

    url: Annotated[str, Field(min_length=1, max_length=2048, pattern=MEDIA_URL_PATTERN)] | None = (
        None
    )
    title: Annotated[str, Field(max_length=200)] = ""
    duration_s: float | None = Field(None, ge=0.0, le=10_000_000.0)
    video_id: Annotated[str, Field(pattern=r"^[0-9a-f]{32}$")] | None = None

    @model_validator(mode="after")
    def _one_source(self) -> QueueAddIn:
        if (self.url is None) == (self.video_id is None):
            raise ValueError("give exactly one of url and video_id")
        return self

    def action(self) -> dict[str, Any]:
        if self.video_id is not None:
            return {"type": "queue_add", "video_id": self.video_id}
        media = {"url": self.url, "title": self.title, "duration_s": self.duration_s}
        return {"type": "queue_add", "media": media}


class QueueMoveIn(Body):
    """Where to move an item (0: next), and the queue version the move was made against."""

    to_index: int = Field(ge=0, le=10_000)
    version: int = Field(ge=0, le=2**63 - 1)


class QueueMediaOut(BaseModel):
    url: str
    title: str
    duration_s: float | None = None
    video_id: str | None = None


class QueueItemOut(BaseModel):
    id: int
    media: QueueMediaOut
    added_by: str
    added_by_name: str
    added_at_ms: float


class QueueOut(BaseModel):
    """The shared queue: what plays after the current media, next first."""

    version: int
    items: list[QueueItemOut]
    skip_votes: int
    skip_needed: int


class QueueChangeOut(BaseModel):
    """The room's sequence number after a queue change, and the queue."""

    seq: int
    queue: QueueOut


class AuditEntryOut(BaseModel):
    """One moderation or control action: who, what, whom, when."""

    id: int
    party_id: str
    actor: str = Field(description="Participant id, or `user:<account id>` over REST.")
    actor_user_id: str | None
    actor_name: str
    action: str
    target: str | None
    details: dict[str, Any]
    created_at: datetime
