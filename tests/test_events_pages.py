"""The event pages in a real Chromium: ``/events/`` (upcoming events, mine, planning
one) and ``/events/<id>`` (details escaped, RSVP, add to calendar, the watch room
once the event is on, and a private event hidden from a stranger).

Each user is a browser context of its own; the tests wait for page state
(Playwright's ``expect``), never for time.
"""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.browser import Browser, open_stack, run_in_browser, sign_in
from tests.web_helpers import auth

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        bool(os.environ.get("WATCHPARTY_SKIP_BROWSER")),
        reason="WATCHPARTY_SKIP_BROWSER is set",
    ),
]


def _expect() -> Any:
    from playwright.sync_api import expect

    return expect


def _at(hours: float) -> str:
    return (datetime.now(UTC) + timedelta(hours=hours)).isoformat(timespec="seconds")


async def _register(client: httpx.AsyncClient, name: str) -> dict[str, Any]:
    response = await client.post(
        "/api/auth/register/",
        json={
            "email": f"{name.lower()}@example.org",
            "password": "correct horse",
            "display_name": name,
        },
    )
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def test_event_pages(db_path: Path) -> None:
    async with open_stack(db_path) as stack:
        async with httpx.AsyncClient(base_url=stack.base_url) as client:
            ann = await _register(client, "Ann")
            bob = await _register(client, "Bob")
            eve = await _register(client, "Eve")
            body = {
                "title": "Final <b>live</b>",
                "description": "<script>alert(1)</script> bring snacks",
                "start_time": _at(2),
                "end_time": _at(4),
                "timezone": "Europe/Paris",
                "max_attendees": 3,
                "room": "new",
            }
            created = await client.post("/api/events/", json=body, headers=auth(ann))
            assert created.status_code == 201, created.text
            event = created.json()
            secret = await client.post(
                "/api/events/",
                json={
                    "title": "Secret",
                    "start_time": _at(3),
                    "end_time": _at(4),
                    "privacy": "private",
                },
                headers=auth(ann),
            )
            tokens = {"ann": ann["access"], "bob": bob["access"], "eve": eve["access"]}
            ids = {"event": event["id"], "secret": secret.json()["id"], "room": event["room_code"]}
            await run_in_browser(_browse, stack.base_url, tokens, ids)
            # The page's answer reached the server.
            shown = await client.get(f"/api/events/{event['id']}/", headers=auth(bob))
            assert shown.json()["my_status"] == "attending"

            # Once the event is on, its page offers the watch room.
            def start_now(conn: Any) -> None:
                now_ms = int(datetime.now(UTC).timestamp() * 1000)
                conn.execute(
                    "UPDATE events SET starts_at_ms = ? WHERE id = ?",
                    [now_ms - 60_000, event["id"]],
                )

            await stack.handle.db.write(start_now)
            await run_in_browser(_room_link, stack.base_url, tokens["bob"], ids)


def _browse(browser: Browser, base: str, tokens: dict[str, str], ids: dict[str, str]) -> None:
    expect = _expect()
    # A visitor without an account sees the public event only, its title as text.
    visitor = browser.new_user()
    visitor.goto(f"{base}/events/")
    item = visitor.locator(f'#upcoming li[data-event-id="{ids["event"]}"]')
    expect(item).to_contain_text("Final <b>live</b>")
    expect(visitor.locator("#upcoming li")).to_have_count(1)
    expect(visitor.locator("#signed-out")).to_be_visible()
    expect(visitor.locator("#create-card")).to_be_hidden()

    # Ann plans one from the page and lands on it.
    ann = browser.new_user()
    sign_in(ann, base, tokens["ann"], "Ann")
    ann.goto(f"{base}/events/")
    expect(ann.locator("#mine li")).to_have_count(2)
    expect(ann.locator("#calendar-link")).to_have_attribute(
        "href", re.compile(r"/calendar/.+\.ics$")
    )
    ann.get_by_label("Title").fill("Quiz <i>night</i>")
    ann.get_by_label("Starts").fill((datetime.now() + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M"))
    ann.get_by_label("Ends").fill(
        (datetime.now() + timedelta(days=2, hours=2)).strftime("%Y-%m-%dT%H:%M")
    )
    ann.get_by_role("button", name="Create event").click()
    ann.wait_for_url(re.compile(r"/events/[0-9a-f]{32}$"))
    expect(ann.locator("#event-title")).to_have_text("Quiz <i>night</i>")
    expect(ann.locator("#event-mine")).to_have_text("You attend.")
    # A bad form is refused with the API's message, on the page.
    ann.goto(f"{base}/events/")
    ann.get_by_label("Title").fill("Past")
    ann.get_by_label("Starts").fill("2001-01-01T10:00")
    ann.get_by_label("Ends").fill("2001-01-01T12:00")
    ann.get_by_role("button", name="Create event").click()
    expect(ann.locator("#create-error")).to_contain_text("future")

    # Bob answers on the event's page; the description stays text.
    bob = browser.new_user()
    sign_in(bob, base, tokens["bob"], "Bob")
    bob.goto(f"{base}/events/{ids['event']}")
    expect(bob.locator("#event-title")).to_have_text("Final <b>live</b>")
    expect(bob.locator("#event-description")).to_contain_text("<script>alert(1)</script>")
    expect(bob.locator("#event-places")).to_contain_text("1 attending, 2 of 3 places left")
    expect(bob.locator("#room-link")).to_be_hidden()  # not on yet
    expect(bob.locator("#ics-link")).to_have_attribute("href", re.compile(r"/ics/$"))
    bob.get_by_role("button", name="Attend").click()
    expect(bob.locator("#event-mine")).to_have_text("You attend.")
    expect(bob.locator("#event-places")).to_contain_text("2 attending, 1 of 3 places left")
    expect(bob.get_by_role("button", name="Attend")).to_be_hidden()

    # A stranger cannot tell the private event exists.
    eve = browser.new_user()
    sign_in(eve, base, tokens["eve"], "Eve")
    eve.goto(f"{base}/events/{ids['secret']}")
    expect(eve.locator("#event-error")).to_have_text("No such event, or it is not shared with you.")
    # Its organizer gets the calendar file through the sign-in.
    ann.goto(f"{base}/events/{ids['secret']}")
    expect(ann.locator("#ics-link")).to_have_attribute("href", re.compile(r"^blob:"))
    assert ann.goto(f"{base}/events/not-an-id").status == 404


def _room_link(browser: Browser, base: str, token: str, ids: dict[str, str]) -> None:
    expect = _expect()
    bob = browser.new_user()
    sign_in(bob, base, token, "Bob")
    bob.goto(f"{base}/events/{ids['event']}")
    expect(bob.locator("#event-status")).to_have_text("ongoing")
    link = bob.get_by_role("link", name="Join the watch room")
    expect(link).to_have_attribute("href", re.compile(f"/watch/{ids['room']}$"))
    link.click()
    bob.wait_for_url(f"{base}/watch/{ids['room']}")
    # The room shows its event, linked back.
    room_event = bob.locator("#room-event-link")
    expect(room_event).to_have_text("Final <b>live</b>")
    expect(room_event).to_have_attribute("href", f"/events/{ids['event']}")
