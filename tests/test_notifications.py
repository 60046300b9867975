"""Notifications: the in-app channel over real HTTP, preferences, 404s, staff bulk
send and statistics, the live message hook, and the service's API errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from admin_app.core.mail import EmailUnavailableError
from admin_app.notifications.kinds import KINDS, TemplateContextError, UnknownKindError
from data import users as user_store

from .notification_helpers import deliveries, service_of
from .web_helpers import FakeRoomControl, WebHandle, assert_error, auth, run_web

REMINDER = {"event_title": "The final", "starts_at": "Fri 21:00 CET", "minutes_before": 15}


async def make_staff(web: WebHandle, session: dict[str, Any]) -> None:
    await web.db.write(lambda conn: user_store.set_user_role(conn, session["user"]["id"], "staff"))


async def test_in_app_flow(tmp_path: Path) -> None:
    async with run_web(tmp_path / "n.db") as web:
        alice, bob = await web.register("Alice"), await web.register("Bob")
        service = service_of(web)
        made = await service.notify(
            user_ids=[alice["user"]["id"], alice["user"]["id"]],
            kind="event_reminder",
            context=REMINDER,
            url="/events/42",
        )
        assert len(made) == 1
        await service.notify(
            user_ids=[alice["user"]["id"]],
            kind="support_reply",
            context={"ticket_id": 7, "ticket_subject": "Sound", "reply_excerpt": "<b>Fixed</b>"},
        )
        c = web.client
        response = await c.get("/api/notifications/", headers=auth(alice))
        assert response.status_code == 200, response.text
        page = response.json()
        assert page["count"] == 2
        newest, oldest = page["results"]
        assert newest["kind"] == "support_reply"
        assert newest["title"] == "Reply to ticket #7"
        assert newest["body"] == "Sound: <b>Fixed</b>"  # plain text; escaping is the page's job
        assert oldest["title"] == "Soon: The final"
        assert oldest["body"] == "The final starts in 15 minutes (Fri 21:00 CET)."
        assert oldest["url"] == "/events/42"
        assert oldest["is_read"] is False
        assert oldest["read_at"] is None

        count = await c.get("/api/notifications/unread-count/", headers=auth(alice))
        assert count.json() == {"unread_count": 2}
        assert (await c.get("/api/notifications/unread-count/", headers=auth(bob))).json() == {
            "unread_count": 0
        }

        read = await c.post(f"/api/notifications/{oldest['id']}/read/", headers=auth(alice))
        assert read.status_code == 200
        assert read.json()["is_read"] is True
        again = await c.post(f"/api/notifications/{oldest['id']}/read/", headers=auth(alice))
        assert again.json()["read_at"] == read.json()["read_at"]
        unread = await c.get("/api/notifications/?unread=true", headers=auth(alice))
        assert [n["id"] for n in unread.json()["results"]] == [newest["id"]]
        statuses = {d["channel"]: d["status"] for d in await deliveries(web, oldest["id"])}
        assert statuses["in_app"] == "opened"

        everything = await c.post("/api/notifications/read-all/", headers=auth(alice))
        assert everything.json() == {"marked": 1, "unread_count": 0}

        one = await c.get(f"/api/notifications/{newest['id']}/", headers=auth(alice))
        assert one.json()["is_read"] is True
        deleted = await c.delete(f"/api/notifications/{newest['id']}/", headers=auth(alice))
        assert deleted.status_code == 204
        assert_error(
            await c.get(f"/api/notifications/{newest['id']}/", headers=auth(alice)),
            404,
            "notification_not_found",
        )
        assert_error(
            await c.delete(f"/api/notifications/{newest['id']}/", headers=auth(alice)), 404
        )
        left = await c.get("/api/notifications/", headers=auth(alice))
        assert [n["id"] for n in left.json()["results"]] == [oldest["id"]]


async def test_another_users_notification_is_404(tmp_path: Path) -> None:
    async with run_web(tmp_path / "n.db") as web:
        alice, bob = await web.register("Alice"), await web.register("Bob")
        (made,) = await service_of(web).notify(
            user_ids=[alice["user"]["id"]], kind="event_reminder", context=REMINDER
        )
        nid = made["id"]
        c = web.client
        for method, path in (
            ("GET", f"/api/notifications/{nid}/"),
            ("POST", f"/api/notifications/{nid}/read/"),
            ("DELETE", f"/api/notifications/{nid}/"),
            ("GET", f"/api/notifications/{2**70}/"),
            ("POST", f"/api/notifications/{2**70}/read/"),
        ):
            response = await c.request(method, path, headers=auth(bob))
            assert_error(response, 404)
        # Bob's attempts changed nothing.
        mine = await c.get(f"/api/notifications/{nid}/", headers=auth(alice))
        assert mine.json()["is_read"] is False
        assert_error(await c.get("/api/notifications/"), 401)
        assert_error(await c.get("/api/notifications/?page=9", headers=auth(alice)), 404)


async def test_preferences(tmp_path: Path) -> None:
    async with run_web(tmp_path / "n.db") as web:
        alice = await web.register("Alice")
        c = web.client
        response = await c.get("/api/notifications/preferences/", headers=auth(alice))
        assert response.status_code == 200
        body = response.json()
        assert body["email_available"] is False  # no smtp_host
        assert body["has_email"] is True
        assert [k["kind"] for k in body["kinds"]] == list(KINDS)
        reminder = next(k for k in body["kinds"] if k["kind"] == "event_reminder")
        assert reminder["channels"] == {"in_app": True, "email": True, "push": True}

        # Email cannot be turned on without an SMTP server: the API says so.
        refused = await c.put(
            "/api/notifications/preferences/",
            json={"preferences": {"event_reminder": {"email": True}}},
            headers=auth(alice),
        )
        assert_error(refused, 409, "email_unavailable")
        for bad in (
            {"preferences": {"no_such_kind": {"in_app": False}}},
            {"preferences": {"event_reminder": {"fax": True}}},
            {"preferences": {"event_reminder": {"in_app": "maybe"}}},
            {"preferences": [], "extra": 1},
        ):
            response = await c.put("/api/notifications/preferences/", json=bad, headers=auth(alice))
            assert_error(response, 422)

        changed = await c.put(
            "/api/notifications/preferences/",
            json={"preferences": {"event_reminder": {"in_app": False, "email": False}}},
            headers=auth(alice),
        )
        assert changed.status_code == 200, changed.text
        reminder = next(k for k in changed.json()["kinds"] if k["kind"] == "event_reminder")
        assert reminder["channels"] == {"in_app": False, "email": False, "push": True}

        # The preference is respected: no in-app reminder (and no push: no subscription).
        service = service_of(web)
        made = await service.notify(
            user_ids=[alice["user"]["id"]], kind="event_reminder", context=REMINDER
        )
        assert made == []
        made = await service.notify(
            user_ids=[alice["user"]["id"]],
            kind="event_cancelled",
            context={"event_title": "X", "starts_at": "now"},
        )
        assert len(made) == 1
        listed = await c.get("/api/notifications/", headers=auth(alice))
        assert [n["kind"] for n in listed.json()["results"]] == ["event_cancelled"]


async def test_guest_has_no_email(tmp_path: Path) -> None:
    async with run_web(
        tmp_path / "n.db", smtp_host="127.0.0.1", smtp_port=9, smtp_from="wp@example.org"
    ) as web:
        guest = await web.guest("Gus")
        body = (await web.client.get("/api/notifications/preferences/", headers=auth(guest))).json()
        assert body["email_available"] is True
        assert body["has_email"] is False
        refused = await web.client.put(
            "/api/notifications/preferences/",
            json={"preferences": {"announcement": {"email": True}}},
            headers=auth(guest),
        )
        assert_error(refused, 409, "no_email_address")


async def test_service_errors(tmp_path: Path) -> None:
    async with run_web(tmp_path / "n.db") as web:
        alice = await web.register("Alice")
        service = service_of(web)
        uid = alice["user"]["id"]
        with pytest.raises(UnknownKindError):
            await service.notify(user_ids=[uid], kind="nope", context={})
        with pytest.raises(TemplateContextError, match="event_title"):
            await service.notify(user_ids=[uid], kind="event_reminder", context={})
        with pytest.raises(TemplateContextError, match="JSON"):
            await service.notify(
                user_ids=[uid], kind="announcement", context={"title": object(), "message": ""}
            )
        with pytest.raises(EmailUnavailableError):
            await service.notify(
                user_ids=[uid], kind="event_reminder", context=REMINDER, channels=["email"]
            )
        with pytest.raises(ValueError, match="channels"):
            await service.notify(
                user_ids=[uid], kind="event_reminder", context=REMINDER, channels=["fax"]
            )
        # Nothing was written by the failed calls; unknown users are skipped.
        assert (
            await service.notify(user_ids=["0" * 32], kind="event_reminder", context=REMINDER) == []
        )
        count = await web.client.get("/api/notifications/unread-count/", headers=auth(alice))
        assert count.json() == {"unread_count": 0}


async def test_prepare_joins_the_callers_transaction(tmp_path: Path) -> None:
    async with run_web(tmp_path / "n.db") as web:
        alice = await web.register("Alice")
        service = service_of(web)

        def write(conn: Any) -> None:
            service.prepare(
                conn, user_ids=[alice["user"]["id"]], kind="event_reminder", context=REMINDER
            )
            raise RuntimeError("the caller's own write failed")

        with pytest.raises(RuntimeError):
            await web.db.write(write)
        count = await web.client.get("/api/notifications/unread-count/", headers=auth(alice))
        assert count.json() == {"unread_count": 0}


async def test_bulk_and_stats_for_staff(tmp_path: Path) -> None:
    async with run_web(tmp_path / "n.db") as web:
        staff, alice, bob = (
            await web.register("Staff"),
            await web.register("Alice"),
            await web.register("Bob"),
        )
        await web.guest("Gus")
        c = web.client
        announcement = {"title": "Maintenance", "message": "Down at 3:00 <UTC>", "url": "/"}
        # Not staff: refused.
        refused = await c.post("/api/notifications/bulk/", json=announcement, headers=auth(alice))
        assert_error(refused, 403, "forbidden")
        assert_error(await c.get("/api/notifications/stats/", headers=auth(alice)), 403)
        await make_staff(web, staff)
        response = await c.post("/api/notifications/bulk/", json=announcement, headers=auth(staff))
        assert response.status_code == 202, response.text
        assert response.json()["count"] == 3  # accounts, not the guest
        listed = (await c.get("/api/notifications/", headers=auth(bob))).json()["results"]
        assert listed[0]["title"] == "Maintenance"
        assert listed[0]["body"] == "Down at 3:00 <UTC>"

        some = await c.post(
            "/api/notifications/bulk/",
            json={**announcement, "user_ids": [alice["user"]["id"]]},
            headers=auth(staff),
        )
        assert some.json()["count"] == 1
        assert_error(
            await c.post(
                "/api/notifications/bulk/",
                json={**announcement, "channels": ["email"]},
                headers=auth(staff),
            ),
            409,
            "email_unavailable",
        )
        for bad in ({"title": "", "message": "x"}, {**announcement, "url": "javascript:x"}):
            assert_error(
                await c.post("/api/notifications/bulk/", json=bad, headers=auth(staff)), 422
            )

        await c.post(f"/api/notifications/{listed[0]['id']}/read/", headers=auth(bob))
        stats = await c.get("/api/notifications/stats/?days=1", headers=auth(staff))
        assert stats.status_code == 200, stats.text
        body = stats.json()
        assert body["notifications"] == 4
        assert body["channels"]["in_app"]["sent"] == 3
        assert body["channels"]["in_app"]["opened"] == 1
        assert body["channels"]["email"]["sent"] == 0
        assert body["email_available"] is False
        assert_error(await c.get("/api/notifications/stats/?days=0", headers=auth(staff)), 422)


class PublishingRooms(FakeRoomControl):
    """A room control with the live notification hook, recording what it was given."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.published: list[tuple[str, dict[str, Any]]] = []

    async def publish_notification(self, user_id: str, message: dict[str, Any]) -> int:
        self.published.append((user_id, message))
        return 1


async def test_live_message_through_the_room_control(tmp_path: Path) -> None:
    from .web_helpers import FakeClock

    clock = FakeClock()
    rooms = PublishingRooms(clock)
    async with run_web(tmp_path / "n.db", rooms=rooms, clock=clock) as web:
        alice = await web.register("Alice")
        (made,) = await service_of(web).notify(
            user_ids=[alice["user"]["id"]], kind="event_starting", context={"event_title": "F"}
        )
        ((user_id, message),) = rooms.published
        assert user_id == alice["user"]["id"]
        assert message["type"] == "notification"
        assert message["unread_count"] == 1
        assert message["notification"]["id"] == made["id"]
        assert message["notification"]["title"] == "Starting now: F"
