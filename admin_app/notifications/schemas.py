"""Request and response models of the notification endpoints."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ..core.pagination import PageQuery
from .kinds import KINDS

Channel = Literal["in_app", "email", "push"]
#: Most recipients one bulk request may name (without names: every account).
MAX_BULK_USER_IDS = 10_000


class NotificationOut(BaseModel):
    """An in-app notification."""

    id: int
    kind: str = Field(description=f"One of: {', '.join(KINDS)}.")
    title: str
    body: str
    url: str | None = Field(description="Path or URL it points to.")
    is_read: bool
    created_at: str = Field(description="RFC 3339, UTC, milliseconds.")
    read_at: str | None


class NotificationsQuery(PageQuery):
    unread: bool = Field(False, description="Only unread notifications.")


class UnreadCountOut(BaseModel):
    unread_count: int = Field(ge=0)


class MarkAllOut(BaseModel):
    marked: int = Field(ge=0, description="How many were unread and are now read.")
    unread_count: int = Field(ge=0)


class KindPreferencesOut(BaseModel):
    kind: str
    label: str
    channels: dict[Channel, bool] = Field(description="Whether each channel is on.")


class PreferencesOut(BaseModel):
    """A user's notification preferences and what this server can deliver."""

    email_available: bool = Field(description="False when the server has no SMTP server.")
    has_email: bool = Field(description="Whether the account has an email address.")
    push_available: bool
    kinds: list[KindPreferencesOut]


class PreferencesIn(BaseModel):
    """Changes: ``{"preferences": {"event_reminder": {"email": false}}}``; kinds and
    channels not named keep their setting."""

    model_config = ConfigDict(extra="forbid")

    preferences: dict[str, dict[Channel, bool]] = Field(max_length=len(KINDS))


class VapidKeyOut(BaseModel):
    public_key: str = Field(
        description="VAPID public key (base64url, uncompressed P-256 point): the "
        "applicationServerKey of PushManager.subscribe()."
    )


class PushKeysIn(BaseModel):
    p256dh: str = Field(min_length=1, max_length=200)
    auth: str = Field(min_length=1, max_length=100)


class PushSubscriptionIn(BaseModel):
    """A browser's ``PushSubscription.toJSON()``, plus an optional label."""

    endpoint: str = Field(min_length=1, max_length=2048)
    keys: PushKeysIn
    expirationTime: float | None = Field(None, description="Ignored.")
    user_agent: str = Field("", max_length=300, description="Shown in the list of devices.")


class PushSubscriptionOut(BaseModel):
    id: int
    endpoint: str
    user_agent: str
    created_at: str


class PushUnsubscribeIn(BaseModel):
    endpoint: str = Field(min_length=1, max_length=2048)


class BulkIn(BaseModel):
    """A staff announcement."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=200)
    message: str = Field(min_length=1, max_length=5_000)
    url: str | None = Field(None, max_length=2048, pattern=r"^(/([^/]|$)|https?://)")
    user_ids: list[str] | None = Field(
        None,
        max_length=MAX_BULK_USER_IDS,
        description="Recipients; omitted: every active account.",
    )
    include_guests: bool = Field(False, description="With no user_ids: guests too.")
    channels: list[Channel] | None = Field(None, description="Omitted: every channel.")


class BulkOut(BaseModel):
    bulk_id: str
    count: int = Field(ge=0, description="Notifications made.")


class StatsQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")

    days: int | None = Field(None, ge=1, le=3650, description="Only the last N days.")


class ChannelStatsOut(BaseModel):
    pending: int
    sending: int
    sent: int
    failed: int
    skipped: int
    opened: int
    retrying: int = Field(description="Pending after at least one failed attempt.")


class StatsOut(BaseModel):
    channels: dict[Channel, ChannelStatsOut]
    notifications: int
    push_subscriptions: int
    email_available: bool
    worker_passes: int
