"""Events over REST against a real web app: create, read, edit, cancel, delete; RSVP,
join and leave, approval, capacity under concurrent joins; invitations; the lists and
search; the watch room; the ``.ics`` and the private calendar feed, parsed back with
``icalendar``; and every bad input answered with the one error body."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import trio

from .event_helpers import at, create_event, parse_ics, staff
from .web_helpers import WebHandle, assert_error, auth, run_web


@pytest.fixture
async def web(db_path: Path) -> AsyncIterator[WebHandle]:
    async with run_web(db_path) as handle:
        yield handle


# --- create and read ----------------------------------------------------------------------


async def test_create_and_show_an_event(web: WebHandle) -> None:
    ann = await web.register("Ann")
    paris = ZoneInfo("Europe/Paris")
    event = await create_event(
        web,
        ann,
        title="  The final  ",
        description="Bring <snacks>",
        start_time=at(web, 30, paris),
        end_time=at(web, 32, paris),
        timezone="Europe/Paris",
        location="Ann's sofa",
        is_virtual=False,
        category="sport",
        tags=["Football", "final", "football"],
        max_attendees=10,
    )
    assert event["title"] == "The final"
    assert event["description"] == "Bring <snacks>"
    assert event["organizer"] == {"id": ann["user"]["id"], "display_name": "Ann"}
    assert event["start_time"].endswith("Z")
    assert event["local_start_time"].endswith(("+01:00", "+02:00"))
    assert event["timezone"] == "Europe/Paris"
    assert event["tags"] == ["football", "final"]
    assert event["status"] == "upcoming"
    assert event["privacy"] == "public"
    assert event["attending_count"] == 1  # the organizer
    assert event["spots_left"] == 9
    assert event["my_status"] == "attending"
    assert event["is_organizer"] is True
    assert event["sequence"] == 0
    assert event["room_code"] is None
    assert len(event["id"]) == 32

    # Anyone sees a public event, without signing in.
    shown = (await web.client.get(f"/api/events/{event['id']}/")).json()
    assert shown["title"] == "The final"
    assert shown["my_status"] is None
    assert shown["is_organizer"] is False


async def test_status_follows_the_clock(web: WebHandle) -> None:
    ann = await web.register("Ann")
    event = await create_event(web, ann, start_h=1, hours=1)
    url = f"/api/events/{event['id']}/"
    web.clock.advance(3600 + 1)
    assert (await web.client.get(url)).json()["status"] == "ongoing"
    web.clock.advance(3600)
    assert (await web.client.get(url)).json()["status"] == "completed"
    # A completed event takes no more answers or changes.
    bob = await web.register("Bob")
    assert_error(
        await web.client.post(f"{url}join/", json={}, headers=auth(bob)), 409, "event_ended"
    )
    ann_now = web.token(ann["user"]["id"])
    assert_error(
        await web.client.patch(url, json={"title": "x"}, headers=auth(ann_now)), 409, "event_ended"
    )


@pytest.mark.parametrize(
    ("change", "code", "field"),
    [
        ({"end_time": "START"}, "invalid_time", "end_time"),
        ({"timezone": "Mars/Olympus"}, "validation_error", "timezone"),
        ({"start_time": "2030-01-01T20:00:00"}, "validation_error", "start_time"),
        ({"start_time": "2030-01-01"}, "validation_error", "start_time"),
        ({"start_time": "tomorrow"}, "validation_error", "start_time"),
        ({"start_time": "PAST"}, "invalid_time", "start_time"),
        ({"title": "x" * 201}, "validation_error", "title"),
        ({"title": "   "}, "validation_error", "title"),
        ({"title": "a\x00b"}, "validation_error", "title"),
        ({"description": "x" * 5001}, "validation_error", "description"),
        ({"tags": ["t"] * 11}, "validation_error", "tags"),
        ({"privacy": "secret"}, "validation_error", "privacy"),
        ({"max_attendees": 0}, "validation_error", "max_attendees"),
        ({"max_attendees": "5"}, "validation_error", "max_attendees"),
        ({"room_code": "nosuchroom"}, "invalid_room", "room_code"),
    ],
)
async def test_bad_input_is_refused_and_nothing_is_written(
    web: WebHandle, change: dict[str, Any], code: str, field: str
) -> None:
    ann = await web.register("Ann")
    body: dict[str, Any] = {"title": "Final", "start_time": at(web, 5), "end_time": at(web, 7)}
    body.update(change)
    if body["end_time"] == "START":
        body["end_time"] = body["start_time"]
    if body["start_time"] == "PAST":
        body["start_time"] = at(web, -1)
    response = await web.client.post("/api/events/", json=body, headers=auth(ann))
    error = assert_error(response, 422, code)
    assert any(d["field"].startswith(field) for d in error["details"]), error
    mine = (await web.client.get("/api/events/my/", headers=auth(ann))).json()
    assert mine["count"] == 0


async def test_auth_and_guests(web: WebHandle) -> None:
    body = {"title": "Final", "start_time": at(web, 5), "end_time": at(web, 7)}
    assert_error(await web.client.post("/api/events/", json=body), 401, "authentication_required")
    guest = await web.guest("Gus")
    response = await web.client.post("/api/events/", json=body, headers=auth(guest))
    assert_error(response, 403, "guests_cannot_organize")
    assert_error(await web.client.get("/api/events/nope/"), 404, "event_not_found")
    response = await web.client.post("/api/events/", content=b"{", headers=auth(guest))
    assert response.status_code in (400, 415, 422)
    assert_error(response, response.status_code)


# --- privacy ------------------------------------------------------------------------------


@pytest.mark.parametrize("privacy", ["private", "friends_only"])
async def test_privacy_by_role(web: WebHandle, privacy: str) -> None:
    org = await web.register("Org")
    invitee = await web.register("Invitee")
    stranger = await web.register("Stranger")
    boss = await staff(web)
    event = await create_event(web, org, privacy=privacy)
    url = f"/api/events/{event['id']}/"
    response = await web.client.post(
        f"{url}invitations/", json={"user_ids": [invitee["user"]["id"]]}, headers=auth(org)
    )
    assert response.status_code == 201, response.text

    # A stranger (signed in or not) gets the answer of an id that does not exist.
    for headers in ({}, auth(stranger)):
        for path in ("", "attendees/", "ics/"):
            assert_error(
                await web.client.get(f"{url}{path}", headers=headers), 404, "event_not_found"
            )
    for path, body in (("join/", {}), ("rsvp/", {"status": "attending"})):
        response = await web.client.post(f"{url}{path}", json=body, headers=auth(stranger))
        assert_error(response, 404, "event_not_found")
    for listing in ("/api/events/upcoming/", "/api/events/search/", "/api/events/"):
        assert (await web.client.get(listing, headers=auth(stranger))).json()["count"] == 0

    # The invitee, the organizer and staff see it; the invitee may answer.
    for who in (invitee, org, boss):
        assert (await web.client.get(url, headers=auth(who))).status_code == 200
        listed = (await web.client.get("/api/events/upcoming/", headers=auth(who))).json()
        assert [e["id"] for e in listed["results"]] == [event["id"]]
    response = await web.client.post(f"{url}join/", json={}, headers=auth(invitee))
    assert response.status_code == 200, response.text
    # Only the organizer (or staff) manages it.
    response = await web.client.patch(url, json={"title": "Mine"}, headers=auth(invitee))
    assert_error(response, 403, "forbidden")
    response = await web.client.patch(url, json={"title": "Staff edit"}, headers=auth(boss))
    assert response.status_code == 200
    # The invitation list: all of it for the organizer, one's own for the invitee.
    org_list = (await web.client.get(f"{url}invitations/", headers=auth(org))).json()
    own = (await web.client.get(f"{url}invitations/", headers=auth(invitee))).json()
    assert org_list["count"] == own["count"] == 1
    assert own["results"][0]["status"] == "accepted"


# --- answers ------------------------------------------------------------------------------


async def test_rsvp_join_leave(web: WebHandle) -> None:
    org = await web.register("Org")
    bob = await web.register("Bob")
    event = await create_event(web, org, max_attendees=3)
    url = f"/api/events/{event['id']}/"
    answer = await web.client.post(f"{url}rsvp/", json={"status": "maybe"}, headers=auth(bob))
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "maybe"
    assert answer.json()["event"]["attending_count"] == 1  # maybe takes no place
    answer = await web.client.post(f"{url}join/", headers=auth(bob))  # no body: attending
    assert answer.json()["status"] == "attending"
    assert answer.json()["event"]["attending_count"] == 2
    attendees = (await web.client.get(f"{url}attendees/")).json()
    assert [(a["display_name"], a["status"], a["is_organizer"]) for a in attendees["results"]] == [
        ("Org", "attending", True),
        ("Bob", "attending", False),
    ]
    attending = (await web.client.get("/api/events/attending/", headers=auth(bob))).json()
    assert [e["id"] for e in attending["results"]] == [event["id"]]
    answer = await web.client.post(
        f"{url}rsvp/", json={"status": "not_attending"}, headers=auth(bob)
    )
    assert answer.json()["event"]["attending_count"] == 1
    response = await web.client.get(f"{url}attendees/?status=not_attending", headers=auth(bob))
    assert_error(response, 403, "forbidden")
    response = await web.client.get(f"{url}attendees/?status=not_attending", headers=auth(org))
    assert response.json()["count"] == 1
    assert (await web.client.post(f"{url}leave/", headers=auth(bob))).status_code == 204
    assert (await web.client.post(f"{url}leave/", headers=auth(bob))).status_code == 204
    assert_error(await web.client.post(f"{url}leave/", headers=auth(org)), 403)
    response = await web.client.post(f"{url}rsvp/", json={"status": "pending"}, headers=auth(bob))
    assert_error(response, 422, "validation_error")
    response = await web.client.post(f"{url}join/", json={"status": "no"}, headers=auth(bob))
    assert_error(response, 422, "validation_error")
    response = await web.client.post(f"{url}join/", json={"status": "maybe"}, headers=auth(bob))
    assert response.json()["status"] == "maybe"


async def test_capacity_refuses_the_overflow(web: WebHandle) -> None:
    org = await web.register("Org")
    event = await create_event(web, org, max_attendees=2)
    url = f"/api/events/{event['id']}/"
    bob, cat = await web.register("Bob"), await web.register("Cat")
    assert (await web.client.post(f"{url}join/", json={}, headers=auth(bob))).status_code == 200
    response = await web.client.post(f"{url}join/", json={}, headers=auth(cat))
    error = assert_error(response, 409, "event_full")
    assert "2 places" in error["message"]
    # maybe needs no place; lowering the limit below the attendance is refused.
    response = await web.client.post(f"{url}rsvp/", json={"status": "maybe"}, headers=auth(cat))
    assert response.status_code == 200
    response = await web.client.patch(url, json={"max_attendees": 1}, headers=auth(org))
    assert_error(response, 409, "capacity_below_attendance")
    response = await web.client.patch(url, json={"max_attendees": None}, headers=auth(org))
    assert response.json()["max_attendees"] is None
    assert (await web.client.post(f"{url}join/", json={}, headers=auth(cat))).status_code == 200


async def test_concurrent_joins_never_overfill(web: WebHandle) -> None:
    org = await web.register("Org")
    event = await create_event(web, org, max_attendees=5)
    url = f"/api/events/{event['id']}/join/"
    people = [await web.register(f"P{i}") for i in range(20)]
    statuses: list[int] = []

    async def join(person: dict[str, Any]) -> None:
        response = await web.client.post(url, json={}, headers=auth(person))
        statuses.append(response.status_code)
        if response.status_code != 200:
            assert_error(response, 409, "event_full")

    async with trio.open_nursery() as nursery:
        for person in people:
            nursery.start_soon(join, person)
    assert sorted(statuses) == [200] * 4 + [409] * 16
    shown = (await web.client.get(f"/api/events/{event['id']}/")).json()
    assert shown["attending_count"] == 5
    assert shown["spots_left"] == 0
    attendees = (await web.client.get(f"/api/events/{event['id']}/attendees/")).json()
    assert attendees["count"] == 5


async def test_approval(web: WebHandle) -> None:
    org = await web.register("Org")
    bob, cat = await web.register("Bob"), await web.register("Cat")
    event = await create_event(web, org, require_approval=True, max_attendees=2)
    url = f"/api/events/{event['id']}/"
    for who, status in ((bob, "attending"), (cat, "maybe")):
        response = await web.client.post(f"{url}rsvp/", json={"status": status}, headers=auth(who))
        assert response.status_code == 202, response.text
        assert response.json()["status"] == "pending"
    pending = (await web.client.get(f"{url}attendees/?status=pending", headers=auth(org))).json()
    assert [a["wanted"] for a in pending["results"]] == ["attending", "maybe"]
    bob_id, cat_id = bob["user"]["id"], cat["user"]["id"]
    response = await web.client.post(f"{url}attendees/{bob_id}/approve/", headers=auth(bob))
    assert_error(response, 403, "forbidden")
    response = await web.client.post(f"{url}attendees/{bob_id}/approve/", headers=auth(org))
    assert response.json()["status"] == "attending"
    response = await web.client.post(f"{url}attendees/{bob_id}/approve/", headers=auth(org))
    assert_error(response, 404, "no_pending_request")
    response = await web.client.post(f"{url}attendees/{cat_id}/deny/", headers=auth(org))
    assert response.json()["status"] == "denied"
    response = await web.client.post(f"{url}join/", json={}, headers=auth(cat))
    assert_error(response, 403, "rsvp_denied")
    # Approval respects the capacity: the event is full now.
    dan = await web.register("Dan")
    assert (await web.client.post(f"{url}join/", json={}, headers=auth(dan))).status_code == 202
    response = await web.client.post(
        f"{url}attendees/{dan['user']['id']}/approve/", headers=auth(org)
    )
    assert_error(response, 409, "event_full")


# --- invitations --------------------------------------------------------------------------


async def test_invitations(web: WebHandle) -> None:
    org = await web.register("Org")
    bob, cat, eve = await web.register("Bob"), await web.register("Cat"), await web.register("Eve")
    event = await create_event(web, org, privacy="private", max_attendees=2)
    url = f"/api/events/{event['id']}/invitations/"
    ids = [bob["user"]["id"], cat["user"]["id"]]
    response = await web.client.post(
        url, json={"user_ids": ids, "expires_in_s": 3600}, headers=auth(org)
    )
    assert response.status_code == 201, response.text
    invitations = {i["invitee"]["id"]: i for i in response.json()["results"]}
    assert [i["status"] for i in invitations.values()] == ["pending", "pending"]

    # Duplicates, unknown accounts, the organizer, someone else inviting: refused, nothing written.
    response = await web.client.post(
        url, json={"user_ids": [eve["user"]["id"], bob["user"]["id"]]}, headers=auth(org)
    )
    assert_error(response, 409, "already_invited")
    response = await web.client.post(url, json={"user_ids": ["nobody"]}, headers=auth(org))
    assert_error(response, 422, "unknown_user")
    gus = await web.guest("Gus")
    response = await web.client.post(url, json={"user_ids": [gus["user"]["id"]]}, headers=auth(org))
    assert_error(response, 422, "unknown_user")
    response = await web.client.post(url, json={"user_ids": [org["user"]["id"]]}, headers=auth(org))
    assert_error(response, 422, "cannot_invite_organizer")
    response = await web.client.post(url, json={"user_ids": [eve["user"]["id"]]}, headers=auth(bob))
    assert_error(response, 403, "forbidden")
    assert (await web.client.get(url, headers=auth(org))).json()["count"] == 2

    bob_inv = invitations[bob["user"]["id"]]["id"]
    cat_inv = invitations[cat["user"]["id"]]["id"]
    # Responding to someone else's invitation is refused like a missing one.
    response = await web.client.post(
        f"{url}{bob_inv}/respond/", json={"response": "accept"}, headers=auth(cat)
    )
    assert_error(response, 404, "invitation_not_found")
    response = await web.client.post(
        f"{url}{bob_inv}/respond/", json={"response": "accept"}, headers=auth(bob)
    )
    assert response.json()["status"] == "accepted"
    shown = (await web.client.get(f"/api/events/{event['id']}/", headers=auth(bob))).json()
    assert shown["my_status"] == "attending"
    assert shown["spots_left"] == 0
    # Cat's acceptance finds the event full: refused, the invitation stays pending.
    response = await web.client.post(
        f"{url}{cat_inv}/respond/", json={"response": "accept"}, headers=auth(cat)
    )
    assert_error(response, 409, "event_full")
    own = (await web.client.get(url, headers=auth(cat))).json()["results"]
    assert own[0]["status"] == "pending"
    # After its expiry it cannot be answered.
    web.clock.advance(3601)
    cat_now = web.token(cat["user"]["id"])
    response = await web.client.post(
        f"{url}{cat_inv}/respond/", json={"response": "decline"}, headers=auth(cat_now)
    )
    assert_error(response, 410, "invitation_expired")
    listed = (await web.client.get(url, headers=auth(cat_now))).json()
    assert listed["results"][0]["status"] == "expired"


async def test_declining_an_invitation(web: WebHandle) -> None:
    org, bob = await web.register("Org"), await web.register("Bob")
    event = await create_event(web, org, privacy="private")
    url = f"/api/events/{event['id']}/invitations/"
    created = await web.client.post(url, json={"user_ids": [bob["user"]["id"]]}, headers=auth(org))
    inv = created.json()["results"][0]["id"]
    response = await web.client.post(
        f"{url}{inv}/respond/", json={"response": "decline"}, headers=auth(bob)
    )
    assert response.json()["status"] == "declined"
    response = await web.client.post(
        f"{url}999999/respond/", json={"response": "accept"}, headers=auth(bob)
    )
    assert_error(response, 404, "invitation_not_found")


# --- lists and search ---------------------------------------------------------------------


async def test_lists_and_search(web: WebHandle) -> None:
    ann, bob = await web.register("Ann"), await web.register("Bob")
    final = await create_event(
        web, ann, title="World cup final", category="sport", tags=["football"], start_h=48
    )
    await create_event(
        web,
        ann,
        title="Horror night",
        category="movies",
        tags=["horror", "classic"],
        start_h=24,
        is_virtual=False,
        location="Cinema",
    )
    await create_event(web, bob, title="Secret screening", privacy="private", start_h=12)
    upcoming = (await web.client.get("/api/events/upcoming/")).json()
    assert [e["title"] for e in upcoming["results"]] == ["Horror night", "World cup final"]
    mine = (await web.client.get("/api/events/my/", headers=auth(ann))).json()
    assert mine["count"] == 2
    bobs = (await web.client.get("/api/events/upcoming/", headers=auth(bob))).json()
    assert bobs["count"] == 3

    async def titles(query: str) -> list[str]:
        response = await web.client.get(f"/api/events/search/?{query}")
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["count"] == len(body["results"])
        return [e["title"] for e in body["results"]]

    assert await titles("q=final") == ["World cup final"]
    assert await titles("q=cup%20world") == ["World cup final"]
    assert await titles("q=football") == ["World cup final"]
    assert await titles("q=%22unbalanced") == []
    assert await titles("category=movies") == ["Horror night"]
    assert await titles("tags=horror,classic") == ["Horror night"]
    assert await titles("tags=horror,football") == []
    assert await titles("is_virtual=false") == ["Horror night"]
    after = at(web, 36).replace("+00:00", "Z")
    assert await titles(f"starts_after={after}") == ["World cup final"]
    assert await titles(f"starts_before={after}") == ["Horror night"]
    assert await titles("q=secret") == []
    response = await web.client.get("/api/events/search/?starts_after=2030-01-01T00:00:00")
    assert_error(response, 422, "validation_error")
    page = (await web.client.get("/api/events/search/?page_size=1")).json()
    assert page["count"] == 2
    assert page["next"]
    assert len(page["results"]) == 1
    assert_error(await web.client.get("/api/events/search/?page=9"), 404, "invalid_page")
    # Ended events only with include_past.
    web.clock.advance(60 * 3600)
    assert await titles("") == []
    assert len(await titles("include_past=true")) == 2
    assert final["id"]


# --- changes, cancellation, the room ------------------------------------------------------


async def test_move_cancel_and_calendar(web: WebHandle) -> None:
    org, bob = await web.register("Org"), await web.register("Bob")
    event = await create_event(web, org, title="Final", description="Line one\nLine two")
    url = f"/api/events/{event['id']}/"
    await web.client.post(f"{url}join/", json={}, headers=auth(bob))
    first = parse_ics((await web.client.get(f"{url}ics/")).content)
    assert len(first) == 1
    assert str(first[0]["UID"]) == f"{event['id']}@watchparty"
    assert int(first[0]["SEQUENCE"]) == 0
    assert str(first[0]["STATUS"]) == "CONFIRMED"
    assert str(first[0]["SUMMARY"]) == "Final"
    assert first[0].decoded("DTSTART").isoformat().startswith(event["start_time"][:19])

    moved = await web.client.patch(
        url, json={"start_time": at(web, 26), "end_time": at(web, 28)}, headers=auth(org)
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["sequence"] == 1
    response = await web.client.get(f"{url}ics/")
    assert response.headers["content-type"].startswith("text/calendar")
    second = parse_ics(response.content)
    assert str(second[0]["UID"]) == str(first[0]["UID"])
    assert int(second[0]["SEQUENCE"]) == 1
    # A PUT replaces every field.
    replaced = await web.client.put(
        url,
        json={"title": "Final (replay)", "start_time": at(web, 26), "end_time": at(web, 29)},
        headers=auth(org),
    )
    assert replaced.json()["title"] == "Final (replay)"
    assert replaced.json()["sequence"] == 2

    # Bob's feed holds it; the cancellation shows there with a higher SEQUENCE.
    feed_url = (await web.client.get("/api/events/calendar/", headers=auth(bob))).json()["url"]
    again = (await web.client.get("/api/events/calendar/", headers=auth(bob))).json()["url"]
    assert feed_url == again
    feed = parse_ics((await web.client.get(feed_url)).content)
    assert [str(e["UID"]) for e in feed] == [str(first[0]["UID"])]
    response = await web.client.post(f"{url}cancel/", headers=auth(bob))
    assert_error(response, 403, "forbidden")
    cancelled = await web.client.post(f"{url}cancel/", headers=auth(org))
    assert cancelled.json()["status"] == "cancelled"
    feed = parse_ics((await web.client.get(feed_url)).content)
    assert str(feed[0]["STATUS"]) == "CANCELLED"
    assert int(feed[0]["SEQUENCE"]) == 3
    assert_error(await web.client.post(f"{url}cancel/", headers=auth(org)), 409, "event_cancelled")
    response = await web.client.post(f"{url}rsvp/", json={"status": "maybe"}, headers=auth(bob))
    assert_error(response, 409, "event_cancelled")

    # A reset feed URL replaces the old one, which stops working.
    new_url = (await web.client.post("/api/events/calendar/reset/", headers=auth(bob))).json()[
        "url"
    ]
    assert new_url != feed_url
    assert_error(await web.client.get(feed_url), 404, "feed_not_found")
    assert (await web.client.get(new_url)).status_code == 200
    assert_error(await web.client.get("/api/events/calendar/x.ics"), 404, "feed_not_found")


async def test_delete(web: WebHandle) -> None:
    org, bob = await web.register("Org"), await web.register("Bob")
    event = await create_event(web, org)
    url = f"/api/events/{event['id']}/"
    assert_error(await web.client.delete(url, headers=auth(bob)), 403, "forbidden")
    assert (await web.client.delete(url, headers=auth(org))).status_code == 204
    assert_error(await web.client.get(url), 404, "event_not_found")
    assert_error(await web.client.delete(url, headers=auth(org)), 404, "event_not_found")


async def test_watch_room(web: WebHandle) -> None:
    org, bob = await web.register("Org"), await web.register("Bob")
    event = await create_event(web, org, room="new")
    code = event["room_code"]
    assert code in web.rooms.rooms
    assert web.rooms.rooms[code].owner_user_id == org["user"]["id"]  # the organizer hosts
    assert event["room_url"].endswith(f"/watch/{code}")
    # An existing room: only one the organizer owns.
    own = await web.create_room(org, name="Sofa")
    other = await web.create_room(bob, name="Bob's")
    tied = await create_event(web, org, room_code=own["code"])
    assert tied["room_code"] == own["code"]
    response = await web.client.post(
        "/api/events/",
        json={
            "title": "x",
            "start_time": at(web, 3),
            "end_time": at(web, 4),
            "room_code": other["code"],
        },
        headers=auth(org),
    )
    assert_error(response, 422, "invalid_room")
    patched = await web.client.patch(
        f"/api/events/{tied['id']}/", json={"room_code": code}, headers=auth(org)
    )
    assert patched.json()["room_code"] == code
    # The room shows its events.
    listed = (await web.client.get(f"/api/events/search/?room={code}")).json()
    assert sorted(e["id"] for e in listed["results"]) == sorted([event["id"], tied["id"]])


async def test_reminder_rules_without_email(web: WebHandle) -> None:
    org, bob = await web.register("Org"), await web.register("Bob")
    event = await create_event(web, org, start_h=2)
    url = f"/api/events/{event['id']}/reminders/"
    response = await web.client.post(url, json={"minutes_before": 15}, headers=auth(bob))
    assert_error(response, 409, "not_attending")
    await web.client.post(f"/api/events/{event['id']}/join/", json={}, headers=auth(bob))
    response = await web.client.post(
        url, json={"minutes_before": 15, "channel": "email"}, headers=auth(bob)
    )
    assert_error(response, 409, "email_unavailable")
    response = await web.client.post(url, json={"minutes_before": 180}, headers=auth(bob))
    assert_error(response, 422, "reminder_in_past")
    response = await web.client.post(url, json={"minutes_before": 15}, headers=auth(bob))
    assert response.status_code == 201, response.text
    reminder = response.json()
    assert reminder["status"] == "scheduled"
    assert_error(
        await web.client.post(url, json={"minutes_before": 15}, headers=auth(bob)),
        409,
        "duplicate_reminder",
    )
    listed = (await web.client.get(url, headers=auth(bob))).json()
    assert listed["email_available"] is False
    assert [r["id"] for r in listed["results"]] == [reminder["id"]]
    # Moving the event moves the reminder.
    await web.client.patch(
        f"/api/events/{event['id']}/",
        json={"start_time": at(web, 5), "end_time": at(web, 6)},
        headers=auth(org),
    )
    listed = (await web.client.get(url, headers=auth(bob))).json()
    assert listed["results"][0]["due_at"] != reminder["due_at"]
    assert_error(await web.client.delete(f"{url}{reminder['id']}/", headers=auth(org)), 404)
    assert (
        await web.client.delete(f"{url}{reminder['id']}/", headers=auth(bob))
    ).status_code == 204


# --- banner -------------------------------------------------------------------------------

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


async def test_banner(db_path: Path) -> None:
    async with run_web(db_path, event_banner_max_bytes=2048) as web:
        org, bob = await web.register("Org"), await web.register("Bob")
        event = await create_event(web, org)
        assert event["banner_url"] is None
        url = f"/api/events/{event['id']}/banner/"
        assert_error(await web.client.get(url), 404, "banner_not_found")
        headers = {**auth(org), "Content-Type": "image/png"}
        response = await web.client.put(url, content=PNG, headers=headers)
        assert response.status_code == 200, response.text
        assert response.json()["banner_url"].endswith(url)
        image = await web.client.get(url)
        assert image.content == PNG
        assert image.headers["content-type"] == "image/png"
        assert image.headers["x-content-type-options"] == "nosniff"
        # Not an image (an SVG, HTML), too large, or not the organizer: refused.
        svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
        response = await web.client.put(url, content=svg, headers=headers)
        assert_error(response, 415, "unsupported_image")
        response = await web.client.put(url, content=PNG + b"\x00" * 4096, headers=headers)
        assert_error(response, 413, "banner_too_large")
        response = await web.client.put(url, content=PNG, headers={**auth(bob)})
        assert_error(response, 403, "forbidden")
        assert (await web.client.get(url)).content == PNG
        assert (await web.client.delete(url, headers=auth(org))).status_code == 204
        assert_error(await web.client.get(url), 404, "banner_not_found")
