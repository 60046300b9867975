"""The help page in a real Chromium: FAQ search with sanitised answers and helpful
votes, a guest opening a ticket with an email, the thread with a staff reply (and
never the staff's internal note), and the feedback board with vote toggles.

The web app is real (hypercorn on 127.0.0.1:0); staff act through the REST API from
the browser thread with a synchronous httpx client. The tests wait for page state
(Playwright's ``expect``), never for time.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.browser import Browser, run_in_browser

from .support_helpers import staff_session
from .web_helpers import auth, run_web

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        bool(os.environ.get("WATCHPARTY_SKIP_BROWSER")),
        reason="WATCHPARTY_SKIP_BROWSER is set",
    ),
]

NOTE = "Internal: refund denied last year"
HOSTILE = (
    "Open **Settings**, then *Sync*.\n\n"
    '<img src=x onerror="window.__xss = 1"> <script>window.__xss = 2</script> '
    "[bad](javascript:window.__xss=3)"
)


async def test_help_page(db_path: Path) -> None:
    async with run_web(db_path) as web:
        staff = await staff_session(web)
        voter = await web.register("Vera")
        category = await web.client.post(
            "/api/support/faq/categories/", json={"name": "Playback"}, headers=auth(staff)
        )
        for question, answer in (
            ("Why does the video stutter?", HOSTILE),
            ("How do I invite friends?", "Share the link."),
        ):
            created = await web.client.post(
                "/api/support/faq/",
                json={"category_id": category.json()["id"], "question": question, "answer": answer},
                headers=auth(staff),
            )
            assert created.status_code == 201, created.text
        idea = await web.client.post(
            "/api/support/feedback/",
            json={"kind": "feature", "title": "Subtitles <b>please</b>", "description": "SRT"},
            headers=auth(voter),
        )
        assert idea.status_code == 201
        await run_in_browser(_help_page, web.url, staff["access"], voter)
        faq = (await web.client.get("/api/support/faq/", params={"search": "stutter"})).json()
        assert faq["results"][0]["view_count"] == 2  # the guest and Vera opened it


def _help_page(browser: Browser, base: str, staff_token: str, voter: dict[str, Any]) -> None:
    from playwright.sync_api import expect

    page = browser.new_user()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{base}/help/")
    expect(page.locator("body[data-ready=true]")).to_be_attached()

    # FAQ: search, open, the answer rendered safely.
    expect(page.locator("#faq-list details")).to_have_count(2)
    page.locator("#faq-search").fill("stutter")
    page.get_by_role("button", name="Search").click()
    expect(page.locator("#faq-list details")).to_have_count(1)
    entry = page.locator("#faq-list details").first
    entry.locator("summary").click()
    expect(entry.locator(".faq-answer strong")).to_have_text("Settings")
    expect(entry.locator(".faq-answer")).to_contain_text("<script>")  # shown as text
    assert entry.locator(".faq-answer img, .faq-answer script, .faq-answer a").count() == 0
    assert page.evaluate("() => window.__xss") is None
    # Voting needs a sign-in: the visitor is told so.
    entry.get_by_role("button", name="Yes").click()
    expect(entry.locator(".helpful")).to_contain_text("Sign in")

    # A guest opens a ticket with an email.
    page.locator("#ticket-name").fill("Gus")
    page.locator("#ticket-subject").fill("No sound <b>at all</b>")
    page.locator("#ticket-category").select_option("playback")
    page.locator("#ticket-description").fill("Since the update there is no sound.")
    page.get_by_role("button", name="Send").click()
    expect(page.locator("#ticket-error")).to_have_text("Enter your email: we answer there.")
    page.locator("#ticket-email").fill("gus@example.org")
    page.get_by_role("button", name="Send").click()
    expect(page.locator("#ticket-done")).to_contain_text("Sent: ticket #")
    expect(page.locator("#identity")).to_contain_text("Guest: Gus")
    expect(page.locator("#my-tickets li")).to_have_count(1)
    expect(page.locator("#ticket-view-subject")).to_contain_text("No sound <b>at all</b>")
    ticket_id = int(page.locator("#my-tickets button").get_attribute("data-ticket-id") or 0)

    # Staff answer, and leave an internal note the guest must never see.
    with httpx.Client(base_url=base, headers=auth(staff_token)) as staff:
        path = f"/api/support/tickets/{ticket_id}/reply/"
        assert staff.post(path, json={"body": NOTE, "internal": True}).status_code == 201
        assert staff.post(path, json={"body": "Which browser?"}).status_code == 201
    page.locator("#my-tickets button").click()
    expect(page.locator("#ticket-thread li")).to_have_count(1)
    expect(page.locator("#ticket-thread")).to_contain_text("Which browser?")
    page.locator("#reply-body").fill("Chromium <i>156</i>")
    page.get_by_role("button", name="Reply").click()
    expect(page.locator("#ticket-thread li")).to_have_count(2)
    expect(page.locator("#ticket-thread li").last).to_contain_text("Chromium <i>156</i>")
    assert NOTE not in page.content()
    page.get_by_role("button", name="Mark solved").click()
    expect(page.locator("#ticket-view-meta")).to_contain_text("Solved")

    # Feedback: a guest cannot vote; an account can, and toggles.
    item = page.locator("#feedback-list li").first
    expect(item.locator("strong")).to_have_text("Subtitles <b>please</b>")
    item.get_by_role("button", name="Vote").click()
    expect(page.locator("#feedback-error")).to_contain_text("guest accounts cannot vote")

    member = browser.new_user()
    member.goto(f"{base}/")
    member.evaluate(
        "([access, refresh]) => { localStorage.setItem('watchparty.token', access);"
        " localStorage.setItem('watchparty.refresh', refresh); }",
        [voter["access"], voter["refresh"]],
    )
    member.goto(f"{base}/help/")
    expect(member.locator("body[data-ready=true]")).to_be_attached()
    expect(member.locator("#identity")).to_contain_text("Signed in as Vera")
    row = member.locator("#feedback-list li").first
    row.get_by_role("button", name="Vote").click()
    expect(row.locator(".votes")).to_have_text("1")
    row.get_by_role("button", name="Unvote").click()
    expect(row.locator(".votes")).to_have_text("0")
    member.locator("#feedback-title").fill("Dark mode")
    member.locator("#feedback-description").fill("For late films")
    member.get_by_role("button", name="Post").click()
    expect(member.locator("#feedback-list li")).to_have_count(2)
    # Helpful votes with an account.
    member.locator("#faq-list details summary").first.click()
    first = member.locator("#faq-list details").first
    expect(first.locator(".faq-answer")).not_to_be_empty()
    first.get_by_role("button", name="Yes").click()
    expect(first.locator(".helpful")).to_contain_text("1 found this helpful")
    assert errors == []


async def test_staff_desk_page(db_path: Path) -> None:
    async with run_web(db_path) as web:
        staff = await staff_session(web)
        ann = await web.register("Ann")
        ticket = await web.client.post(
            "/api/support/tickets/",
            json={"subject": "Lag <i>everywhere</i>", "description": "Every room lags"},
            headers=auth(ann),
        )
        assert ticket.status_code == 201
        await run_in_browser(_staff_desk, web.url, staff, ann)
        detail = await web.client.get(
            f"/api/support/tickets/{ticket.json()['id']}/", headers=auth(ann)
        )
        # The requester sees the reply and the new status, never the note.
        assert [m["body"] for m in detail.json()["messages"]] == ["Try another browser"]
        assert detail.json()["status"] == "waiting_on_user"
        assert detail.json()["assignee"]["display_name"] == "Sam Staff"


def _staff_desk(browser: Browser, base: str, staff: dict[str, Any], ann: dict[str, Any]) -> None:
    from playwright.sync_api import expect

    def signed_in(session: dict[str, Any]) -> Any:
        page = browser.new_user()
        page.goto(f"{base}/")
        page.evaluate(
            "([access, refresh]) => { localStorage.setItem('watchparty.token', access);"
            " localStorage.setItem('watchparty.refresh', refresh); }",
            [session["access"], session["refresh"]],
        )
        page.goto(f"{base}/help/desk/")
        expect(page.locator("body[data-ready=true]")).to_be_attached()
        return page

    desk = signed_in(staff)
    expect(desk.locator("#queue li")).to_have_count(1)
    desk.locator("#queue button").click()
    expect(desk.locator("#desk-ticket-subject")).to_contain_text("Lag <i>everywhere</i>")
    desk.locator("#desk-reply-body").fill("Internal: probably the CDN")
    desk.get_by_role("button", name="Add internal note").click()
    expect(desk.locator("#desk-thread li.internal")).to_have_count(1)
    desk.locator("#desk-reply-body").fill("Try another browser")
    desk.get_by_role("button", name="Reply").click()
    expect(desk.locator("#desk-thread li")).to_have_count(2)
    desk.get_by_role("button", name="Assign to me").click()
    expect(desk.locator("#desk-ticket-meta")).to_contain_text("assigned to Sam Staff")
    desk.locator("#desk-status").select_option("waiting_on_user")
    expect(desk.locator("#desk-ticket-meta")).to_contain_text("waiting_on_user")
    desk.locator("#filter-assignee").select_option("none")
    desk.get_by_role("button", name="Filter").click()
    expect(desk.locator("#queue li")).to_have_count(0)

    # A requester on the desk page gets the API's refusal, not other people's tickets.
    other = signed_in(ann)
    other.locator("#filter-assignee").select_option("me")
    other.get_by_role("button", name="Filter").click()
    expect(other.locator("#desk-error")).to_contain_text("only staff")
