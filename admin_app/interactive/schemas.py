"""Request and response models of the interactive domain (limits as on the socket:
:mod:`protocol.polls`)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field

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
