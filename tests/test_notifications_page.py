"""The notification bell in a real Chromium: unread count, the list (escaped), mark
read and mark all read, and the service worker the push opt-in registers."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.browser import Browser, open_stack, run_in_browser, sign_in

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        bool(os.environ.get("WATCHPARTY_SKIP_BROWSER")),
        reason="WATCHPARTY_SKIP_BROWSER is set",
    ),
]


async def test_bell_lists_and_marks_read(db_path: Path) -> None:
    async with open_stack(db_path) as stack:
        async with httpx.AsyncClient(base_url=stack.base_url, timeout=30.0) as http:
            response = await http.post(
                "/api/auth/register/",
                json={
                    "email": "ann@example.org",
                    "password": "correct horse",
                    "display_name": "Ann",
                },
            )
            session = response.json()
        service = stack.web.app.extensions["notifications"]
        uid = session["user"]["id"]
        await service.notify(
            user_ids=[uid],
            kind="announcement",
            context={"title": "<img src=x onerror=alert(1)>", "message": "Hello <b>all</b>"},
            url="/",
        )
        await service.notify(
            user_ids=[uid], kind="event_starting", context={"event_title": "The final"}
        )
        await run_in_browser(_bell, stack.base_url, session["access"])
        # What the page did is what the API says.
        async with httpx.AsyncClient(base_url=stack.base_url, timeout=30.0) as http:
            count = await http.get(
                "/api/notifications/unread-count/",
                headers={"Authorization": f"Bearer {session['access']}"},
            )
            assert count.json() == {"unread_count": 0}


def _bell(browser: Browser, base: str, token: str) -> None:
    from playwright.sync_api import expect

    page: Any = browser.new_user()
    sign_in(page, base, token, "Ann")
    page.goto(f"{base}/")
    bell = page.get_by_role("button", name="Notifications, 2 unread")
    expect(bell).to_be_visible()
    bell.click()
    items = page.locator("#notification-list > li")
    expect(items).to_have_count(2)
    expect(items.nth(0)).to_contain_text("Starting now: The final")
    expect(items.nth(1).locator("a")).to_have_text("<img src=x onerror=alert(1)>")
    expect(items.nth(1)).to_contain_text("Hello <b>all</b>")
    assert page.locator("#notification-panel img").count() == 0
    items.nth(0).get_by_role("button", name="Mark read").click()
    expect(page.get_by_role("button", name="Notifications, 1 unread")).to_be_visible()
    expect(items.nth(0)).to_have_class("notification read")
    page.get_by_role("button", name="Mark all read").click()
    expect(page.locator("#notification-bell")).to_have_attribute("data-unread", "0")
    expect(page.get_by_role("button", name="Notifications", exact=True)).to_be_visible()
    # The service worker the push opt-in registers loads and activates here.
    state = page.evaluate(
        """async () => {
          const { activated } = await import('/static/notifications/notifications.js');
          const r = await navigator.serviceWorker.register(
            '/static/notifications/sw.js', {scope: '/static/notifications/'});
          return (await activated(r)).state;
        }"""
    )
    assert state == "activated"


async def test_bell_follows_sign_in_and_sign_out(db_path: Path) -> None:
    async with open_stack(db_path) as stack:
        await run_in_browser(_no_bell, stack.base_url)


def _no_bell(browser: Browser, base: str) -> None:
    from playwright.sync_api import expect

    page: Any = browser.new_user()
    page.goto(f"{base}/")
    expect(page.locator("#create-form")).to_be_visible()
    assert page.locator("#notification-bell button").count() == 0
    # Creating an account on the page shows the bell at once; signing out hides it.
    page.get_by_label("Email").fill("bea@example.org")
    page.get_by_label("Password", exact=True).fill("correct horse battery")
    page.locator("#account-name").fill("Bea")
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("button", name="Notifications", exact=True)).to_be_visible()
    page.get_by_role("button", name="Sign out").click()
    expect(page.locator("#notification-bell button")).to_have_count(0)
