"""Helpers for the event tests: times relative to the app's clock, and event creation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import icalendar

from data import users as user_store

from .web_helpers import WebHandle, auth


def at(web: WebHandle, hours: float, tz: Any = UTC) -> str:
    """RFC 3339 time *hours* after the app's clock, with an offset."""
    moment = datetime.fromtimestamp(web.clock(), tz=UTC) + timedelta(hours=hours)
    return moment.astimezone(tz).isoformat(timespec="seconds")


async def create_event(
    web: WebHandle, session: dict[str, Any], *, start_h: float = 24, hours: float = 2, **body: Any
) -> dict[str, Any]:
    body.setdefault("title", "The final")
    body.setdefault("start_time", at(web, start_h))
    body.setdefault("end_time", at(web, start_h + hours))
    response = await web.client.post("/api/events/", json=body, headers=auth(session))
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def staff(web: WebHandle, name: str = "Staff") -> dict[str, Any]:
    session = await web.register(name)
    await web.db.write(user_store.set_user_role, session["user"]["id"], "staff")
    return session


def parse_ics(body: bytes) -> list[Any]:
    """The VEVENTs of an iCalendar body, parsed back with ``icalendar``."""
    calendar = icalendar.Calendar.from_ical(body)
    assert str(calendar["VERSION"]) == "2.0"
    assert calendar["PRODID"]
    return list(calendar.walk("VEVENT"))
