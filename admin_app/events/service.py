"""The rules of events apart from HTTP: who may see and manage an event, its status
from the clock, times on the wire, the JSON the API shows, and the notices attendees
get (through the one notification service).

Roles: the **organizer** (and staff) manage an event; an **invitee** has an
invitation; an **attendee** has answered (``attending``, ``maybe``, ``not_attending``,
``pending`` while the organizer decides, ``denied``). A ``public`` event is seen by
anyone; a ``private`` one by its organizer, invitees, attendees and staff only; a
``friends_only`` one by the same people as a private one until social groups exist
(then also by the members of the organizer's groups). Whoever may not see an event
gets 404 ``event_not_found`` for it, the same answer as for an id that does not
exist.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from quart import current_app, url_for

from admin_app.core.caller import Caller
from admin_app.core.errors import ApiError
from admin_app.core.state import WebState
from admin_app.core.times import iso_ms
from admin_app.rooms import service as rooms
from data import events as store
from data.events import Event

from .schemas import MAX_DURATION_S, MAX_LEAD_S

logger = logging.getLogger(__name__)

#: Seconds an invitation stays open when the organizer gives no expiry, at most (it
#: also ends when the event does).
DEFAULT_INVITATION_S = 30 * 24 * 3600


@dataclass(frozen=True, slots=True)
class EventContext:
    """An event and the caller's relation to it.

    Attributes:
        event: The stored event.
        attendance: The caller's attendee row (``status``, ``wanted``), or None.
        invitation: The caller's invitation, or None.
    """

    event: Event
    attendance: dict[str, Any] | None
    invitation: dict[str, Any] | None

    @property
    def id(self) -> str:
        return self.event["id"]

    def is_organizer(self, caller: Caller | None) -> bool:
        return caller is not None and caller.user_id == self.event["organizer_id"]

    def may_manage(self, caller: Caller | None) -> bool:
        """Organizer or staff: may edit, cancel, invite, approve and deny."""
        return caller is not None and (caller.is_staff or self.is_organizer(caller))

    def may_view(self, caller: Caller | None) -> bool:
        if self.event["privacy"] == "public":
            return True
        return caller is not None and (
            caller.is_staff
            or self.is_organizer(caller)
            or self.attendance is not None
            or self.invitation is not None
        )

    def may_answer(self, caller: Caller) -> bool:
        """Whether the caller may RSVP: anyone to a public event; to another one the
        organizer, invitees and those who answered already."""
        if self.event["privacy"] == "public":
            return True
        return (
            self.is_organizer(caller) or self.invitation is not None or self.attendance is not None
        )


def not_found(event_id: str) -> ApiError:
    return ApiError(404, "event_not_found", f"no event with id {event_id!r} that you may see")


async def load_event(st: WebState, event_id: str, caller: Caller | None) -> EventContext:
    """The event *event_id* with the caller's attendee row and invitation.

    Raises:
        ApiError: 404 ``event_not_found`` when it does not exist or the caller may not
            see it.
    """
    user_id = caller.user_id if caller is not None else None

    def read(conn: Any) -> EventContext | None:
        event = store.find_event(conn, event_id)
        if event is None:
            return None
        if user_id is None:
            return EventContext(event, None, None)
        return EventContext(
            event,
            store.get_attendance(conn, event_id, user_id),
            store.find_invitation_of(conn, event_id, user_id),
        )

    ctx = await st.db.read(read)
    if ctx is None or not ctx.may_view(caller):
        raise not_found(event_id)
    return ctx


def event_status(event: Event, now_ms: int) -> str:
    """``cancelled`` when cancelled, else ``upcoming``, ``ongoing`` or ``completed``
    from the clock (*now_ms*, Unix epoch milliseconds)."""
    if event["cancelled_at_ms"] is not None:
        return "cancelled"
    if now_ms < event["starts_at_ms"]:
        return "upcoming"
    if now_ms < event["ends_at_ms"]:
        return "ongoing"
    return "completed"


def parse_time_ms(value: str) -> int:
    """An RFC 3339 date-time with an offset (already checked by the schema) as Unix
    epoch milliseconds."""
    return int(datetime.fromisoformat(value).timestamp() * 1000)


def local_iso(ms: int, zone: str) -> str:
    """*ms* (Unix epoch milliseconds) as RFC 3339 in the IANA zone *zone*, with its
    offset."""
    moment = datetime.fromtimestamp(ms / 1000, tz=UTC).astimezone(ZoneInfo(zone))
    return moment.isoformat(timespec="seconds")


def display_time(ms: int, zone: str) -> str:
    """*ms* for people: ``Fri 4 Dec 2026 21:00 CET``."""
    moment = datetime.fromtimestamp(ms / 1000, tz=UTC).astimezone(ZoneInfo(zone))
    return moment.strftime("%a %-d %b %Y %H:%M %Z")


def check_times(starts_at_ms: int, ends_at_ms: int, now_ms: int, *, new_start: bool) -> None:
    """Check an event's times.

    Args:
        starts_at_ms, ends_at_ms: Start and end, Unix epoch milliseconds.
        now_ms: Now.
        new_start: Whether the start is new (a new event, or a moved one): it must
            then be in the future.

    Raises:
        ApiError: 422 ``invalid_time`` naming the field.
    """
    if ends_at_ms <= starts_at_ms:
        raise ApiError(
            422,
            "invalid_time",
            "expected end_time after start_time",
            details=[("end_time", "must be after start_time")],
        )
    if ends_at_ms - starts_at_ms > MAX_DURATION_S * 1000:
        raise ApiError(
            422,
            "invalid_time",
            f"expected an event of at most {MAX_DURATION_S // 86400} days",
            details=[("end_time", f"at most {MAX_DURATION_S // 86400} days after start_time")],
        )
    if new_start and starts_at_ms <= now_ms:
        raise ApiError(
            422,
            "invalid_time",
            f"expected a start_time in the future, got one before now ({iso_ms(now_ms)})",
            details=[("start_time", "must be in the future")],
        )
    if starts_at_ms - now_ms > MAX_LEAD_S * 1000:
        raise ApiError(
            422,
            "invalid_time",
            "expected a start_time within five years",
            details=[("start_time", "at most five years ahead")],
        )


def event_path(event_id: str) -> str:
    """The event's page, as a path (notifications' links)."""
    return f"/events/{event_id}"


def room_path(code: str) -> str:
    """The watch page of room *code*, as a path (notices made outside a request; the
    notification service makes it absolute with ``public_web_url``)."""
    return f"/watch/{code}"


def room_link(code: str | None) -> str | None:
    return rooms.join_url(code) if code else None


def event_json(
    event: Event, *, now_ms: int, caller: Caller | None, my_status: str | None
) -> dict[str, Any]:
    """An event as the API shows it (:class:`~admin_app.events.schemas.EventOut`)."""
    capacity = event["max_attendees"]
    zone = event["timezone"]
    return {
        "id": event["id"],
        "url": url_for("events.detail", event_id=event["id"], _external=True),
        "page_url": url_for("event_pages.event_page", event_id=event["id"], _external=True),
        "ics_url": url_for("events.ics", event_id=event["id"], _external=True),
        "title": event["title"],
        "description": event["description"],
        "organizer": {"id": event["organizer_id"], "display_name": event["organizer_name"]},
        "start_time": iso_ms(event["starts_at_ms"]),
        "end_time": iso_ms(event["ends_at_ms"]),
        "timezone": zone,
        "local_start_time": local_iso(event["starts_at_ms"], zone),
        "local_end_time": local_iso(event["ends_at_ms"], zone),
        "location": event["location"],
        "is_virtual": event["is_virtual"],
        "category": event["category"],
        "tags": event["tags"],
        "privacy": event["privacy"],
        "max_attendees": capacity,
        "require_approval": event["require_approval"],
        "status": event_status(event, now_ms),
        "attending_count": event["attending_count"],
        "spots_left": None if capacity is None else max(0, capacity - event["attending_count"]),
        "room_code": event["room_code"],
        "room_url": room_link(event["room_code"]),
        "banner_url": (
            url_for("events.banner", event_id=event["id"], _external=True)
            if event["banner_type"]
            else None
        ),
        "sequence": event["sequence"],
        "cancelled_at": iso_ms(event["cancelled_at_ms"]),
        "created_at": iso_ms(event["created_at_ms"]),
        "updated_at": iso_ms(event["updated_at_ms"]),
        "my_status": my_status,
        "is_organizer": caller is not None and caller.user_id == event["organizer_id"],
    }


async def events_json(
    st: WebState, events: list[Event], caller: Caller | None
) -> list[dict[str, Any]]:
    """Several events as the API shows them, with the caller's answers."""
    statuses: dict[str, str] = {}
    if caller is not None and events:
        ids = [e["id"] for e in events]
        user_id = caller.user_id

        def read(conn: Any) -> dict[str, str]:
            marks = ", ".join("?" for _ in ids)
            rows = conn.execute(
                f"SELECT event_id, status FROM event_attendees WHERE user_id = ? "
                f"AND event_id IN ({marks})",
                [user_id, *ids],
            ).fetchall()
            return {r[0]: r[1] for r in rows}

        statuses = await st.db.read(read)
    now_ms = st.now_ms()
    return [
        event_json(e, now_ms=now_ms, caller=caller, my_status=statuses.get(e["id"])) for e in events
    ]


def invitation_json(invitation: dict[str, Any], now_ms: int) -> dict[str, Any]:
    status = invitation["status"]
    if status == "pending" and invitation["expires_at_ms"] <= now_ms:
        status = "expired"
    return {
        "id": invitation["id"],
        "event_id": invitation["event_id"],
        "invitee": {"id": invitation["invitee_id"], "display_name": invitation["invitee_name"]},
        "inviter_id": invitation["inviter_id"],
        "status": status,
        "created_at": iso_ms(invitation["created_at_ms"]),
        "expires_at": iso_ms(invitation["expires_at_ms"]),
        "responded_at": iso_ms(invitation["responded_at_ms"]),
    }


def reminder_json(reminder: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": reminder["id"],
        "event_id": reminder["event_id"],
        "minutes_before": reminder["minutes_before"],
        "channel": reminder["channel"],
        "due_at": iso_ms(reminder["due_at_ms"]),
        "status": reminder["status"],
        "outcome": reminder["outcome"],
        "handled_at": iso_ms(reminder["handled_at_ms"]),
    }


def attendee_json(row: dict[str, Any], organizer_id: str) -> dict[str, Any]:
    return {
        "user_id": row["user_id"],
        "display_name": row["display_name"],
        "status": row["status"],
        "wanted": row["wanted"],
        "is_organizer": row["user_id"] == organizer_id,
        "answered_at": iso_ms(row["updated_at_ms"]),
    }


def sniff_image(head: bytes) -> str | None:
    """The media type of an image from its first bytes: PNG, JPEG, GIF or WebP (their
    signatures: the PNG specification section 5.2, JFIF's SOI marker, GIF87a/89a, the
    RIFF ``WEBP`` form), or None for anything else (SVG included: it can carry script)."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return None


# --- notices ------------------------------------------------------------------------------
def notifier(app: Any = None) -> Any | None:
    """The app's notification service (``app.extensions["notifications"]``), or None
    when the app has none (then no notices are sent and reminders wait)."""
    return (app or current_app).extensions.get("notifications")


def email_available(app: Any = None) -> bool:
    """Whether the notification service can send email (an SMTP host is set)."""
    service = notifier(app)
    return bool(service is not None and service.email_available)


def notice_context(event: Event, **extra: Any) -> dict[str, Any]:
    """The context of an event notice: ``event_title``, ``starts_at`` (for people, in
    the event's zone) and *extra*."""
    return {
        "event_title": event["title"],
        "starts_at": display_time(event["starts_at_ms"], event["timezone"]),
        **extra,
    }


async def notify(st: WebState, user_ids: list[str], kind: str, event: Event, **extra: Any) -> None:
    """Tell *user_ids* about *event* with a notice of *kind* linking to its page.

    A notice only: the change it reports is stored already, so a failure is logged,
    not raised.
    """
    service = notifier()
    if service is None or not user_ids:
        return
    try:
        await service.notify(
            user_ids=user_ids,
            kind=kind,
            context=notice_context(event, **extra),
            url=event_path(event["id"]),
        )
    except Exception:
        logger.warning(
            "event %s: %s notice to %d accounts failed",
            event["id"],
            kind,
            len(user_ids),
            exc_info=True,
        )
