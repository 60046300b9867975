"""The start page in a real Chromium: accounts (create, sign in, sign out, renew an
expired access token), public and private rooms, and the list of public rooms.

Each user is a browser context of its own; the tests wait for page state (Playwright's
``expect``), never for time.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.browser import Browser, open_stack, run_in_browser, wait_connected
from tests.web_helpers import auth

pytestmark = [
    pytest.mark.slow,
    # A missing browser is a failure, not a skip (see tests/test_watch_page.py).
    pytest.mark.skipif(
        bool(os.environ.get("WATCHPARTY_SKIP_BROWSER")),
        reason="WATCHPARTY_SKIP_BROWSER is set",
    ),
]


def _expect() -> Any:
    from playwright.sync_api import expect

    return expect


def _tokens(page: Any) -> tuple[str | None, str | None]:
    access, refresh = page.evaluate(
        "() => ['token', 'refresh'].map((k) => localStorage.getItem(`watchparty.${k}`))"
    )
    return access, refresh


async def test_accounts_and_public_rooms(db_path: Path) -> None:
    async with open_stack(db_path) as stack:
        await run_in_browser(_accounts_and_public_rooms, stack.base_url)


def _accounts_and_public_rooms(browser: Browser, base: str) -> None:
    expect = _expect()
    ann = browser.new_user()
    ann.goto(f"{base}/")
    account = ann.locator("#account")
    expect(account).to_be_visible()
    expect(ann.locator("#identity")).to_be_hidden()

    # A new account: a too-short password is refused on the page.
    ann.get_by_label("Email").fill("ann@example.org")
    ann.get_by_label("Password", exact=True).fill("short")
    ann.locator("#account-name").fill("Ann <b>B</b>")
    ann.get_by_role("button", name="Create account").click()
    expect(ann.locator("#account-error")).to_contain_text("at least 8 characters")
    ann.get_by_label("Password", exact=True).fill("correct horse battery")
    ann.get_by_role("button", name="Create account").click()
    expect(ann.locator("#identity-text")).to_have_text("Signed in as Ann <b>B</b>")
    expect(account).to_be_hidden()
    access, refresh = _tokens(ann)
    assert access
    assert refresh

    with httpx.Client(base_url=base, timeout=30.0) as http:
        me = http.get("/api/auth/me/", headers=auth(access))
        assert me.status_code == 200, me.text
        ann_id = me.json()["id"]
        assert me.json()["is_guest"] is False

        # A public room, listed for anyone; and a private one, not listed.
        ann.get_by_label("Room name").fill("Ann's public room")
        ann.get_by_label('List it under "Public rooms" for anyone to find').check()
        ann.get_by_role("button", name="Create room").click()
        ann.wait_for_url(re.compile(r"/watch/[A-Za-z0-9_-]{3,32}$"))
        wait_connected(ann)
        public_code = ann.url.rsplit("/", 1)[1]
        detail = http.get(f"/api/rooms/{public_code}/").json()
        assert detail["visibility"] == "public"
        assert detail["owner_user_id"] == ann_id

        # Someone else sees the public room with Ann in it, and enters it from the list.
        bob = browser.new_user()
        bob.goto(f"{base}/")
        listed = bob.locator("#public-rooms li", has_text="Ann's public room")
        expect(listed).to_contain_text("1 person")

        ann.goto(f"{base}/")
        ann.get_by_label("Room name").fill("Ann's private room")
        listing = ann.get_by_label('List it under "Public rooms" for anyone to find')
        expect(listing).not_to_be_checked()
        ann.get_by_role("button", name="Create room").click()
        ann.wait_for_url(re.compile(r"/watch/[A-Za-z0-9_-]{3,32}$"))
        wait_connected(ann)
        private_code = ann.url.rsplit("/", 1)[1]
        assert private_code != public_code
        assert http.get(f"/api/rooms/{private_code}/").status_code in (401, 403)

        # The private room is not listed; the public one still is (empty now).
        bob.reload()
        listed = bob.locator("#public-rooms li", has_text="Ann's public room")
        expect(listed).to_contain_text("0 people")
        expect(bob.locator("#public-rooms li", has_text="Ann's private room")).to_have_count(0)
        listed.get_by_role("link").click()
        bob.wait_for_url(f"{base}/watch/{public_code}")

        # Signing out revokes the token on the server and forgets both here.
        ann.goto(f"{base}/")
        ann.get_by_role("button", name="Sign out").click()
        expect(ann.locator("#identity")).to_be_hidden()
        expect(account).to_be_visible()
        assert _tokens(ann) == (None, None)
        assert http.get("/api/auth/me/", headers=auth(access)).status_code == 401
        refreshed = http.post("/api/auth/refresh/", json={"refresh": refresh})
        assert refreshed.status_code == 401

        # Signing in again: a wrong password is told, the right one works.
        ann.get_by_label("Email").fill("ann@example.org")
        ann.get_by_label("Password", exact=True).fill("wrong password!")
        ann.get_by_role("button", name="Sign in").click()
        expect(ann.locator("#account-error")).to_have_text("Wrong email or password.")
        ann.get_by_label("Password", exact=True).fill("correct horse battery")
        ann.get_by_role("button", name="Sign in").click()
        expect(ann.locator("#identity-text")).to_have_text("Signed in as Ann <b>B</b>")
        # Registering the same email again is refused with a clear message.
        carol = browser.new_user()
        carol.goto(f"{base}/")
        carol.get_by_label("Email").fill("ann@example.org")
        carol.get_by_label("Password", exact=True).fill("another password")
        carol.locator("#account-name").fill("Carol")
        carol.get_by_role("button", name="Create account").click()
        expect(carol.locator("#account-error")).to_contain_text("exists already")


async def test_an_expired_access_token_is_renewed_with_the_refresh_token(db_path: Path) -> None:
    async with open_stack(db_path) as stack:
        await run_in_browser(_renewal, stack.base_url)


#: A token whose claims say it expired in 1970 (the page reads claims unverified).
EXPIRED = "e30.eyJleHAiOjEsIm5hbWUiOiJEYW5hIn0.x"


def _renewal(browser: Browser, base: str) -> None:
    expect = _expect()
    dana = browser.new_user()
    dana.goto(f"{base}/")
    dana.get_by_label("Email").fill("dana@example.org")
    dana.get_by_label("Password", exact=True).fill("a long password")
    dana.locator("#account-name").fill("Dana")
    dana.get_by_role("button", name="Create account").click()
    expect(dana.locator("#identity-text")).to_have_text("Signed in as Dana")
    _, first_refresh = _tokens(dana)
    # The access token runs out (an hour later, say): reloading the page renews it
    # with the refresh token, which the server rotates.
    dana.evaluate(f"() => localStorage.setItem('watchparty.token', '{EXPIRED}')")
    dana.reload()
    expect(dana.locator("#identity-text")).to_have_text("Signed in as Dana")
    access, refresh = _tokens(dana)
    assert access != EXPIRED
    assert refresh
    assert refresh != first_refresh
    # It runs out again; creating a room renews it first, and the room is Dana's.
    dana.evaluate(f"() => localStorage.setItem('watchparty.token', '{EXPIRED}')")
    dana.get_by_label("Room name").fill("Dana's room")
    dana.get_by_role("button", name="Create room").click()
    dana.wait_for_url(re.compile(r"/watch/[A-Za-z0-9_-]{3,32}$"))
    wait_connected(dana)
    access, _ = _tokens(dana)
    with httpx.Client(base_url=base, timeout=30.0) as http:
        me = http.get("/api/auth/me/", headers=auth(access or "")).json()
        assert me["display_name"] == "Dana"
        code = dana.url.rsplit("/", 1)[1]
        room = http.get(f"/api/rooms/{code}/", headers=auth(access or "")).json()
        assert room["owner_user_id"] == me["id"]
        assert room["visibility"] == "private"  # the page's default
    # The watch page joined as the account (its owner, hence host), not as a guest.
    assert dana.evaluate("() => window.watchparty.client.participant.user_id") == me["id"]
    expect(dana.locator("#participants li", has_text="Dana")).to_contain_text("host")
