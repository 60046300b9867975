"""The group pages in a real Chromium: find and create a group, its page with members
and posts, joining, posting and reacting, an invitation answered from /groups/, and
user text shown as text (never as HTML). Each user is a browser context of its own;
the tests wait for page state (Playwright's ``expect``), never for time."""

from __future__ import annotations

import os
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

G = "/api/social/groups"


def _register(http: httpx.Client, name: str) -> dict[str, Any]:
    response = http.post(
        "/api/auth/register/",
        json={
            "email": f"{name.lower()}@example.org",
            "password": "correct horse",
            "display_name": name,
        },
    )
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def test_group_pages(db_path: Path) -> None:
    async with open_stack(db_path) as stack:
        await run_in_browser(_group_pages, stack.base_url)


def _group_pages(browser: Browser, base: str) -> None:
    from playwright.sync_api import expect

    with httpx.Client(base_url=base, timeout=30.0) as http:
        ann = _register(http, "Ann")
        bob = _register(http, "Bob")
        cy = _register(http, "Cy")

        page = browser.new_user()
        sign_in(page, base, ann["access"], "Ann")
        page.goto(f"{base}/groups/")
        expect(page.locator("body[data-ready='1']")).to_be_attached()
        expect(page.locator("#group-empty")).to_be_visible()
        page.get_by_label("Group name").fill("<b>Film</b> club")
        page.get_by_label("Description").fill("Films & <i>friends</i>")
        page.get_by_label("Category", exact=True).last.fill("film")
        page.get_by_role("button", name="Create group").click()
        page.wait_for_url(f"{base}/groups/*")
        expect(page.locator("#group-name")).to_have_text("<b>Film</b> club")
        expect(page.locator("#group-description")).to_have_text("Films & <i>friends</i>")
        expect(page.locator("#member-list li")).to_have_count(1)
        expect(page.locator("#member-list")).to_contain_text("owner")
        page.get_by_label("Write a post").fill("<script>alert(1)</script> hello")
        page.get_by_role("button", name="Post", exact=True).click()
        post = page.locator("#post-list li").first
        expect(post.locator(".post-content")).to_have_text("<script>alert(1)</script> hello")
        post.get_by_role("button", name="React 👍").click()
        expect(post.get_by_role("button", name="React 👍")).to_have_text("👍 1")
        expect(post.get_by_role("button", name="React 👍")).to_have_attribute(
            "aria-pressed", "true"
        )
        group_id = page.locator("#group-page").get_attribute("data-group-id")
        assert group_id

        # Bob finds it by name and joins.
        bob_page = browser.new_user()
        sign_in(bob_page, base, bob["access"], "Bob")
        bob_page.goto(f"{base}/groups/")
        bob_page.locator("#search-name").fill("film")
        bob_page.get_by_role("button", name="Search").click()
        bob_page.get_by_role("link", name="<b>Film</b> club").click()
        bob_page.get_by_role("button", name="Join group").click()
        expect(bob_page.locator("#status")).to_have_text("You joined the group.")
        expect(bob_page.locator("#member-list li")).to_have_count(2)
        bob_post = bob_page.locator("#post-list li").first
        bob_post.get_by_role("button", name="React 👍").click()
        expect(bob_post.get_by_role("button", name="React 👍")).to_have_text("👍 2")
        bob_post.get_by_role("button", name="React 👍").click()
        expect(bob_post.get_by_role("button", name="React 👍")).to_have_text("👍 1")
        bob_page.get_by_role("button", name="Leave group").click()
        expect(bob_page.locator("#status")).to_have_text("You left the group.")
        expect(bob_page.get_by_role("button", name="Join group")).to_be_visible()

        # A private group: Cy sees a 404 until invited, then accepts on /groups/.
        private = http.post(
            f"{G}/", json={"name": "Secret", "privacy": "private"}, headers=auth(ann["access"])
        ).json()
        cy_page = browser.new_user()
        sign_in(cy_page, base, cy["access"], "Cy")
        cy_page.goto(f"{base}/groups/{private['id']}")
        expect(cy_page.locator("#group-name")).to_have_text("No such group")
        invited = http.post(
            f"{G}/{private['id']}/invitations/",
            json={"user_id": cy["user"]["id"], "message": "Join <us>"},
            headers=auth(ann["access"]),
        )
        assert invited.status_code == 201, invited.text
        cy_page.goto(f"{base}/groups/")
        invitations = cy_page.locator("#invitation-list")
        expect(invitations).to_contain_text("“Join <us>”")
        invitations.get_by_role("button", name="Accept").click()
        cy_page.wait_for_url(f"{base}/groups/{private['id']}")
        expect(cy_page.locator("#group-name")).to_have_text("Secret")
        expect(cy_page.locator("#member-list li")).to_have_count(2)
