"""Polls and reactions on the watch page, end to end: two pages (two people) in
Chromium on the real web app and sync server. The host opens a poll from the form; a
vote in one page shows in the other, a changed vote moves, closing disables the inputs
everywhere. A reaction in one page is drawn on the other's reaction strip and is there
for a late joiner. Waits are for page state (Playwright's ``expect``), never for time."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from tests.browser import DEMO_MEDIA, Browser, join, open_stack, run_in_browser

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        bool(os.environ.get("WATCHPARTY_SKIP_BROWSER")),
        reason="WATCHPARTY_SKIP_BROWSER is set",
    ),
]

ROOM = "poll-night"


def _expect() -> Any:
    from playwright.sync_api import expect

    return expect


async def test_a_vote_in_one_page_shows_in_the_other(db_path: Path) -> None:
    async with open_stack(db_path) as stack:
        await stack.server.create_room(ROOM, "Poll night")
        await run_in_browser(_polls, stack.base_url)


def _polls(browser: Browser, base: str) -> None:
    expect = _expect()
    alice, bob = browser.new_user(), browser.new_user()
    join(alice, base, ROOM, "Alice")  # the first in: host
    join(bob, base, ROOM, "Bob")
    # Only those the room's "polls" setting allows see the form (default: co-hosts).
    expect(bob.locator("#poll-new")).to_be_hidden()

    hostile = "<img src=x onerror=alert(1)> Next?"
    alice.locator("#poll-new summary").click()
    alice.get_by_label("Question").fill(hostile)
    alice.get_by_label("Options, one a line (2 to 10)").fill("Sintel\nTears of Steel\n<b>x</b>")
    alice.get_by_role("button", name="Open poll").click()

    poll = bob.locator("#poll-list li.poll").first
    expect(poll).to_contain_text(hostile)
    assert bob.locator("#poll-list img, #poll-list b").count() == 0

    # Bob votes with the keyboard: focus the first option, arrow to the second.
    bob_options = poll.get_by_role("radio")
    bob_options.first.focus()
    bob.keyboard.press("Space")
    alice_poll = alice.locator("#poll-list li.poll").first
    counts = alice_poll.locator(".poll-count")
    expect(counts.nth(0)).to_have_text("1")
    expect(alice_poll.locator(".poll-option").nth(0)).to_contain_text("Bob")
    bob.keyboard.press("ArrowDown")  # a radio group moves the choice: the vote changes
    expect(counts.nth(1)).to_have_text("1")
    expect(counts.nth(0)).to_have_text("0")
    alice_poll.get_by_role("radio").nth(1).check()
    expect(poll.locator(".poll-count").nth(1)).to_have_text("2")
    expect(poll.locator(".poll-summary")).to_contain_text("2 voters")

    # Only the creator, host or co-hosts may close: Bob has no button; Alice closes.
    expect(poll.get_by_role("button", name="Close poll")).to_be_hidden()
    alice_poll.get_by_role("button", name="Close poll").click()
    expect(poll).to_have_attribute("data-status", "closed")
    expect(poll.locator(".poll-summary")).to_contain_text("closed")
    expect(poll.get_by_role("radio").nth(0)).to_be_disabled()

    # A late joiner sees the closed poll with its final results.
    carol = browser.new_user()
    join(carol, base, ROOM, "Carol")
    late = carol.locator("#poll-list li.poll").first
    expect(late).to_have_attribute("data-status", "closed")
    expect(late.locator(".poll-count").nth(1)).to_have_text("2")
    carol.wait_for_load_state("load")


async def test_reactions_are_drawn_where_the_room_reacted(db_path: Path) -> None:
    async with open_stack(db_path) as stack:
        await stack.server.create_room("react-night", "React night", media=DEMO_MEDIA)
        await run_in_browser(_reactions, stack.base_url)


def _reactions(browser: Browser, base: str) -> None:
    expect = _expect()
    alice, bob = browser.new_user(), browser.new_user()
    join(alice, base, "react-night", "Alice")
    join(bob, base, "react-night", "Bob")
    strip = alice.locator("#reaction-timeline")
    expect(strip).to_have_attribute("data-total", "0")
    bob.get_by_role("button", name="React laughing").click()
    expect(alice.locator("#reaction-feed")).to_have_text("Bob 😂 at 0:00")
    expect(strip).to_have_attribute("data-total", "1")
    expect(strip).to_have_attribute(
        "aria-label", "Where the room reacted: most at 0:00 (1 reactions)"
    )
    bob.get_by_role("button", name="React party").focus()
    bob.keyboard.press("Enter")
    expect(strip).to_have_attribute("data-total", "2")
    # A late joiner gets the timeline from the server.
    carol = browser.new_user()
    join(carol, base, "react-night", "Carol")
    expect(carol.locator("#reaction-timeline")).to_have_attribute("data-total", "2")
    carol.wait_for_load_state("load")


async def test_the_queue_advances_in_both_pages(db_path: Path) -> None:
    async with open_stack(db_path) as stack:
        await stack.server.create_room("queue-night", "Queue night", media=DEMO_MEDIA)
        await run_in_browser(_queue, stack.base_url)


def _queue(browser: Browser, base: str) -> None:
    expect = _expect()
    alice, bob = browser.new_user(), browser.new_user()
    join(alice, base, "queue-night", "Alice")
    join(bob, base, "queue-night", "Bob")
    for title in ("First <i>one</i>", "Second"):
        alice.get_by_label("Queue a link").fill("/static/demo/demo.webm")
        alice.get_by_label("Its name").fill(title)
        alice.get_by_role("button", name="Add to queue").click()
        expect(bob.locator("#queue-list li").last).to_contain_text(title)
    assert bob.locator("#queue-list i").count() == 0
    expect(bob.locator("#queue-list li")).to_have_count(2)
    # Bob may not reorder or skip (control: co-hosts); Alice moves "Second" up.
    expect(bob.get_by_role("button", name="Skip now")).to_be_hidden()
    alice.get_by_role("button", name="Move Second up").click()
    expect(bob.locator("#queue-list li").first).to_contain_text("Second")

    # Two people, ratio 0.5: Bob's vote is enough; both pages move on.
    bob.get_by_role("button", name="Vote to skip").click()
    for page in (alice, bob):
        expect(page.locator("#media-title")).to_have_text("Second")
        expect(page.locator("#queue-list li")).to_have_count(1)
    alice.get_by_role("button", name="Skip now").click()
    for page in (alice, bob):
        expect(page.locator("#media-title")).to_have_text("First <i>one</i>")
        expect(page.locator("#queue-empty")).to_be_visible()
    bob.wait_for_load_state("load")


async def test_the_host_mutes_from_the_participant_menu(db_path: Path) -> None:
    async with open_stack(db_path) as stack:
        await stack.server.create_room("mod-night", "Mod night", media=DEMO_MEDIA)
        await run_in_browser(_moderation, stack.base_url)


def _moderation(browser: Browser, base: str) -> None:
    expect = _expect()
    alice, bob = browser.new_user(), browser.new_user()
    join(alice, base, "mod-night", "Alice")
    join(bob, base, "mod-night", "Bob")
    # Viewers get no menu; the host does, for those below it.
    expect(bob.get_by_role("button", name="Mute Alice")).to_have_count(0)
    alice.get_by_role("button", name="Mute Bob").click()
    expect(alice.locator("#participants li", has_text="Bob")).to_contain_text("muted")
    bob.get_by_label("Message").fill("can you hear me")
    bob.get_by_label("Message").press("Enter")
    expect(bob.locator("#chat-error")).to_contain_text("muted")
    alice.get_by_role("button", name="Unmute Bob").click()
    expect(alice.locator("#participants li", has_text="Bob")).not_to_contain_text("muted")
    bob.get_by_label("Message").fill("back")
    bob.get_by_label("Message").press("Enter")
    expect(alice.locator("#chat-log li").last).to_contain_text("back")
    bob.wait_for_load_state("load")
