"""Event reminders through the real notification service and a real SMTP server
(aiosmtpd on 127.0.0.1): each is sent once, on time, in the app and by email; they
survive a restart of the web app and are never sent twice after it; a reminder of an
event that ended meanwhile is skipped; attendees get the "starting" notice with the
room's link, and notices when an event is moved or cancelled.

Written against the notification service's API (``prepare``/``announce``,
``wait_pass``, ``tests/notification_helpers.py``); skipped while that service is absent.

Time is the app's settable clock: the test moves it and then waits for one pass of
the scheduler (and of the notification service's delivery worker), never for time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .event_helpers import at, create_event
from .notification_helpers import open_smtp_server
from .web_helpers import FakeClock, WebHandle, auth, run_web


def smtp(port: int) -> dict[str, Any]:
    return {
        "smtp_host": "127.0.0.1",
        "smtp_port": port,
        "smtp_security": "none",
        "smtp_from": "watchparty@example.org",
        "notification_retry_base_s": 0.0,
    }


async def settle(web: WebHandle) -> None:
    """One scheduler pass, then one delivery pass: everything due now was handled."""
    await web.server.app.extensions["event_scheduler"].wait_pass()
    await web.server.app.extensions["notifications"].wait_pass()


def fresh(web: WebHandle, session: dict[str, Any]) -> dict[str, str]:
    return auth(web.token(session["user"]["id"]))


async def reminders(web: WebHandle, event_id: str, session: dict[str, Any]) -> list[Any]:
    response = await web.client.get(
        f"/api/events/{event_id}/reminders/", headers=fresh(web, session)
    )
    assert response.status_code == 200, response.text
    return response.json()["results"]  # type: ignore[no-any-return]


async def notifications(web: WebHandle, session: dict[str, Any]) -> list[dict[str, Any]]:
    response = await web.client.get("/api/notifications/", headers=fresh(web, session))
    assert response.status_code == 200, response.text
    return response.json()["results"]  # type: ignore[no-any-return]


async def test_reminders_are_sent_once_across_a_restart(tmp_path: Path) -> None:
    clock = FakeClock()
    db_path = tmp_path / "events.db"
    async with open_smtp_server() as (inbox, port):
        async with run_web(db_path, clock=clock, **smtp(port)) as web:
            org = await web.register("Org", email="org@example.org")
            bob = await web.register("Bob", email="bob@example.org")
            cat = await web.register("Cat", email="cat@example.org")
            event = await create_event(web, org, title="The final", start_h=1, room="new")
            url = f"/api/events/{event['id']}/"
            for who in (bob, cat):
                await web.client.post(f"{url}join/", json={}, headers=auth(who))
            for minutes, channel in ((30, "email"), (30, "in_app"), (10, "email")):
                response = await web.client.post(
                    f"{url}reminders/",
                    json={"minutes_before": minutes, "channel": channel},
                    headers=auth(bob),
                )
                assert response.status_code == 201, response.text
            await web.client.post(
                f"{url}reminders/",
                json={"minutes_before": 30, "channel": "email"},
                headers=auth(cat),
            )
            await web.client.post(
                f"{url}rsvp/", json={"status": "not_attending"}, headers=auth(cat)
            )
            await settle(web)
            assert inbox.messages == []  # nothing is due yet

            clock.advance(31 * 60)  # 29 minutes before the start
            await settle(web)
            assert [m["To"].addresses[0].addr_spec for m in inbox.messages] == ["bob@example.org"]
            assert "The final starts in 29 minutes" in inbox.messages[0]["Subject"]
            states = [
                (r["minutes_before"], r["channel"], r["status"])
                for r in await reminders(web, event["id"], bob)
            ]
            assert states == [
                (30, "email", "sent"),
                (30, "in_app", "sent"),
                (10, "email", "scheduled"),
            ]
            (cats,) = await reminders(web, event["id"], cat)
            assert cats["status"] == "skipped"
            assert cats["outcome"] == "the account no longer attends"
            kinds = [n["kind"] for n in await notifications(web, bob)]
            assert kinds.count("event_reminder") == 1  # the in-app one

        # A new process on the same database: nothing is sent again.
        async with run_web(db_path, clock=clock, **smtp(port)) as web:
            await settle(web)
            assert len(inbox.messages) == 1
            clock.advance(20 * 60)  # 9 minutes before the start
            await settle(web)
            assert len(inbox.messages) == 2
            assert "starts in 9 minutes" in inbox.messages[1]["Subject"]
            assert [r["status"] for r in await reminders(web, event["id"], bob)] == ["sent"] * 3

            # At the start, attendees are told, with the room's link, once.
            clock.advance(10 * 60)
            await settle(web)
            await settle(web)
            starting = [n for n in await notifications(web, bob) if n["kind"] == "event_starting"]
            assert len(starting) == 1
            assert starting[0]["url"].endswith(f"/watch/{event['room_code']}")
            assert len(inbox.messages) == 2


async def test_a_reminder_due_after_the_end_is_skipped(tmp_path: Path) -> None:
    clock = FakeClock()
    db_path = tmp_path / "events.db"
    async with open_smtp_server() as (inbox, port):
        async with run_web(db_path, clock=clock, **smtp(port)) as web:
            org = await web.register("Org", email="org@example.org")
            event = await create_event(web, org, start_h=1, hours=1)
            response = await web.client.post(
                f"/api/events/{event['id']}/reminders/",
                json={"minutes_before": 15, "channel": "email"},
                headers=auth(org),
            )
            assert response.status_code == 201, response.text
        # The server was down while it was due and until the event ended.
        clock.advance(3 * 3600)
        async with run_web(db_path, clock=clock, **smtp(port)) as web:
            await settle(web)
            (reminder,) = await reminders(web, event["id"], org)
            assert reminder["status"] == "skipped"
            assert reminder["outcome"] == "the event had ended"
            assert inbox.messages == []


async def test_moving_and_cancelling_notify_attendees(tmp_path: Path) -> None:
    clock = FakeClock()
    async with open_smtp_server() as (inbox, port):
        async with run_web(tmp_path / "e.db", clock=clock, **smtp(port)) as web:
            org = await web.register("Org", email="org@example.org")
            bob = await web.register("Bob", email="bob@example.org")
            event = await create_event(web, org, title="Derby", start_h=5)
            url = f"/api/events/{event['id']}/"
            await web.client.post(f"{url}join/", json={}, headers=auth(bob))
            await web.client.patch(
                url, json={"start_time": at(web, 6), "end_time": at(web, 8)}, headers=auth(org)
            )
            await web.client.post(f"{url}cancel/", headers=auth(org))
            await settle(web)
            kinds = [n["kind"] for n in await notifications(web, bob)]
            assert sorted(kinds) == ["event_cancelled", "event_changed"]
            assert [n["kind"] for n in await notifications(web, org)] == []
            subjects = sorted(m["Subject"] for m in inbox.messages)
            assert subjects == ["Derby was cancelled", "Derby was changed"]
            response = await web.client.get(f"{url}reminders/", headers=auth(bob))
            assert response.json()["email_available"] is True
