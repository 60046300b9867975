"""Events as iCalendar (RFC 5545), written with the ``icalendar`` package.

Each event is one ``VEVENT`` whose ``UID`` never changes (``<event id>@watchparty``),
whose ``SEQUENCE`` is the event's ``sequence`` (raised by every change, RFC 5545
section 3.8.7.4) and whose ``STATUS`` is ``CANCELLED`` once it is cancelled, so a
calendar that already holds it replaces its copy. Times are written in UTC
(``DTSTART:20261204T200000Z``), which needs no ``VTIMEZONE``; the event's own zone is
in ``X-WATCHPARTY-TIMEZONE`` for clients that show it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from icalendar import Calendar
from icalendar import Event as VEvent
from quart import url_for

from admin_app.rooms import service as rooms
from data.events import Event

PRODID = "-//watchparty//events//EN"


def uid(event_id: str) -> str:
    """The event's iCalendar UID (stable for the event's whole life)."""
    return f"{event_id}@watchparty"


def _utc(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def vevent(event: Event, *, now_ms: int) -> VEvent:
    """One event as a ``VEVENT`` (inside a request context: its URL is absolute)."""
    entry = VEvent()
    entry.add("uid", uid(event["id"]))
    entry.add("dtstamp", _utc(now_ms))
    entry.add("dtstart", _utc(event["starts_at_ms"]))
    entry.add("dtend", _utc(event["ends_at_ms"]))
    entry.add("created", _utc(event["created_at_ms"]))
    entry.add("last-modified", _utc(event["updated_at_ms"]))
    entry.add("sequence", event["sequence"])
    entry.add("summary", event["title"])
    status = "CANCELLED" if event["cancelled_at_ms"] is not None else "CONFIRMED"
    entry.add("status", status)
    page = url_for("event_pages.event_page", event_id=event["id"], _external=True)
    entry.add("url", page)
    description = event["description"]
    room = rooms.join_url(event["room_code"]) if event["room_code"] else None
    extra = [f"Event: {page}"]
    if room:
        extra.append(f"Watch room: {room}")
    entry.add("description", "\n\n".join(p for p in (description, "\n".join(extra)) if p))
    location = event["location"] or (room if event["is_virtual"] and room else "")
    if location:
        entry.add("location", location)
    if event["category"] or event["tags"]:
        entry.add("categories", [c for c in [event["category"], *event["tags"]] if c])
    entry.add("class", "PUBLIC" if event["privacy"] == "public" else "PRIVATE")
    entry.add("x-watchparty-timezone", event["timezone"])
    return entry


def calendar_bytes(events: Iterable[Event], *, now_ms: int, name: str) -> bytes:
    """A ``VCALENDAR`` of *events* (CRLF lines, folded at 75 octets, as RFC 5545 says)."""
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", name)
    for event in events:
        calendar.add_component(vevent(event, now_ms=now_ms))
    return calendar.to_ical()
