"""Support tickets over REST: every endpoint for every role (requester, other user,
guest, staff, admin, signed out), internal notes that never leak, status transitions,
assignment, priority, filters and attachments."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from .support_helpers import open_ticket, reply, staff_session
from .web_helpers import WebHandle, assert_error, auth, run_web

SECRET_NOTE = "INTERNAL: the requester is on the old build, do not mention it"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 64


def _leaks(value: Any) -> bool:
    return "INTERNAL" in json.dumps(value) or "staff-only.log" in json.dumps(value)


async def test_ticket_lifecycle_for_requester_and_staff(db_path: Path) -> None:
    async with run_web(db_path) as web:
        ann = await web.register("Ann")
        staff = await staff_session(web)
        ticket = await open_ticket(web, ann, category="playback", priority="high")
        assert ticket["status"] == "open"
        assert ticket["priority"] == "high"
        assert ticket["category"] == "playback"
        assert ticket["requester"]["display_name"] == "Ann"
        assert ticket["contact_email"] == ann["user"]["email"]
        assert ticket["messages"] == []
        assert ticket["attachments"] == []
        assert ticket["first_response_at"] is None
        assert ticket["allowed_statuses"] == ["resolved", "closed"]
        tid = ticket["id"]

        # Staff reply: first response time set; the requester sees it.
        web.clock.advance(60)
        answer = await reply(web, staff, tid, "Which browser do you use?")
        assert answer.status_code == 201, answer.text
        assert answer.json()["message"]["from_staff"] is True
        assert answer.json()["ticket"]["first_response_at"] is not None
        assert answer.json()["ticket"]["reply_count"] == 1

        # A staff-only internal note.
        note = await reply(web, staff, tid, SECRET_NOTE, internal=True)
        assert note.status_code == 201, note.text
        assert note.json()["message"]["is_internal"] is True
        assert note.json()["ticket"]["reply_count"] == 1  # notes are not replies

        # Staff wait on the requester; the requester's answer moves it back to open.
        moved = await web.client.post(
            f"/api/support/tickets/{tid}/status/",
            json={"status": "waiting_on_user"},
            headers=auth(staff),
        )
        assert moved.status_code == 200, moved.text
        assert moved.json()["status"] == "waiting_on_user"
        mine = await reply(web, ann, tid, "Firefox 140")
        assert mine.status_code == 201
        assert mine.json()["ticket"]["status"] == "open"
        assert mine.json()["message"]["from_staff"] is False

        detail = (await web.client.get(f"/api/support/tickets/{tid}/", headers=auth(ann))).json()
        assert [m["body"] for m in detail["messages"]] == [
            "Which browser do you use?",
            "Firefox 140",
        ]
        assert not _leaks(detail)
        staff_view = (
            await web.client.get(f"/api/support/tickets/{tid}/", headers=auth(staff))
        ).json()
        assert [m["is_internal"] for m in staff_view["messages"]] == [False, True, False]

        # Resolve, then the requester's reply reopens it.
        resolved = await web.client.post(
            f"/api/support/tickets/{tid}/status/", json={"status": "resolved"}, headers=auth(staff)
        )
        assert resolved.json()["resolved_at"] is not None
        assert resolved.json()["allowed_statuses"] == ["open", "closed"]
        again = await reply(web, ann, tid, "It is back")
        assert again.json()["ticket"]["status"] == "open"
        assert again.json()["ticket"]["reopen_count"] == 1
        assert again.json()["ticket"]["resolved_at"] is None

        # The requester closes it; closed is final and takes no replies.
        closed = await web.client.post(
            f"/api/support/tickets/{tid}/status/", json={"status": "closed"}, headers=auth(ann)
        )
        assert closed.json()["status"] == "closed"
        assert closed.json()["closed_at"] is not None
        assert closed.json()["allowed_statuses"] == []
        assert_error(await reply(web, ann, tid, "one more thing"), 409, "ticket_closed")
        assert_error(await reply(web, staff, tid, "one more thing"), 409, "ticket_closed")
        late_note = await reply(web, staff, tid, "INTERNAL: closed as duplicate", internal=True)
        assert late_note.status_code == 201
        reopen = await web.client.post(
            f"/api/support/tickets/{tid}/status/", json={"status": "open"}, headers=auth(staff)
        )
        assert_error(reopen, 409, "invalid_transition")


async def test_transitions_by_role(db_path: Path) -> None:
    async with run_web(db_path) as web:
        ann = await web.register("Ann")
        staff = await staff_session(web)
        tid = (await open_ticket(web, ann))["id"]

        async def move(session: dict[str, Any], status: str) -> Any:
            return await web.client.post(
                f"/api/support/tickets/{tid}/status/",
                json={"status": status},
                headers=auth(session),
            )

        # The requester may not take it into progress or wait on itself.
        for status in ("in_progress", "waiting_on_user"):
            assert_error(await move(ann, status), 409, "invalid_transition")
        # Reopening is only from resolved.
        assert (await move(staff, "in_progress")).json()["status"] == "in_progress"
        assert_error(await move(ann, "open"), 409, "invalid_transition")
        # Same status: nothing changes, no error.
        same = await move(staff, "in_progress")
        assert same.status_code == 200
        assert (await move(ann, "resolved")).json()["status"] == "resolved"
        assert (await move(ann, "open")).json()["reopen_count"] == 1
        # Unknown status: validation error.
        assert_error(await move(staff, "archived"), 422, "validation_error")


async def test_other_users_guests_and_strangers_do_not_see_tickets(db_path: Path) -> None:
    async with run_web(db_path) as web:
        ann = await web.register("Ann")
        bob = await web.register("Bob")
        tid = (await open_ticket(web, ann))["id"]
        for method, path, body in (
            ("GET", f"/api/support/tickets/{tid}/", None),
            ("POST", f"/api/support/tickets/{tid}/reply/", {"body": "hi"}),
            ("POST", f"/api/support/tickets/{tid}/status/", {"status": "closed"}),
            ("POST", f"/api/support/tickets/{tid}/priority/", {"priority": "low"}),
            ("POST", f"/api/support/tickets/{tid}/assign/", {"assignee_id": None}),
            ("GET", f"/api/support/tickets/{tid}/attachments/1/", None),
        ):
            response = await web.client.request(method, path, json=body, headers=auth(bob))
            assert_error(response, 404, "ticket_not_found")
            anonymous = await web.client.request(method, path, json=body)
            assert_error(anonymous, 401, "authentication_required")
        assert (await web.client.get("/api/support/tickets/", headers=auth(bob))).json()[
            "count"
        ] == 0
        assert_error(
            await web.client.get("/api/support/tickets/99999999999999999999/", headers=auth(ann)),
            404,
        )
        assert_error(await web.client.get("/api/support/tickets/"), 401)
        assert_error(
            await web.client.post(
                "/api/support/tickets/", json={"subject": "x", "description": "y"}
            ),
            401,
        )


async def test_guests_need_an_email(db_path: Path) -> None:
    async with run_web(db_path) as web:
        guest = await web.guest("Visitor")
        missing = await web.client.post(
            "/api/support/tickets/",
            json={"subject": "Help", "description": "Cannot join"},
            headers=auth(guest),
        )
        error = assert_error(missing, 422, "validation_error")
        assert error["details"][0]["field"] == "email"
        bad = await web.client.post(
            "/api/support/tickets/",
            json={"subject": "Help", "description": "Cannot join", "email": "not-an-email"},
            headers=auth(guest),
        )
        assert_error(bad, 422, "validation_error")
        ticket = await open_ticket(web, guest, email=" visitor@example.org ")
        assert ticket["contact_email"] == "visitor@example.org"
        listed = (await web.client.get("/api/support/tickets/", headers=auth(guest))).json()
        assert [t["id"] for t in listed["results"]] == [ticket["id"]]


async def test_staff_only_changes_and_assignment(db_path: Path) -> None:
    async with run_web(db_path) as web:
        ann = await web.register("Ann")
        staff = await staff_session(web)
        admin = await staff_session(web, "Ada Admin", role="admin")
        tid = (await open_ticket(web, ann))["id"]

        # The requester may not: staff_only (it is their ticket, so no 404).
        for path, body in (("priority", {"priority": "urgent"}), ("assign", {"assignee_id": None})):
            response = await web.client.post(
                f"/api/support/tickets/{tid}/{path}/", json=body, headers=auth(ann)
            )
            assert_error(response, 403, "staff_only")
        note = await reply(web, ann, tid, "let me hide this", internal=True)
        assert_error(note, 403, "forbidden")

        urgent = await web.client.post(
            f"/api/support/tickets/{tid}/priority/",
            json={"priority": "urgent"},
            headers=auth(admin),
        )
        assert urgent.json()["priority"] == "urgent"
        staff_id = staff["user"]["id"]
        assigned = await web.client.post(
            f"/api/support/tickets/{tid}/assign/",
            json={"assignee_id": staff_id},
            headers=auth(admin),
        )
        assert assigned.status_code == 200, assigned.text
        assert assigned.json()["assignee"] == {"id": staff_id, "display_name": "Sam Staff"}
        not_staff = await web.client.post(
            f"/api/support/tickets/{tid}/assign/",
            json={"assignee_id": ann["user"]["id"]},
            headers=auth(admin),
        )
        assert_error(not_staff, 422, "validation_error")
        nobody = await web.client.post(
            f"/api/support/tickets/{tid}/assign/", json={"assignee_id": "nope"}, headers=auth(admin)
        )
        assert_error(nobody, 422, "validation_error")

        # Filters (staff).
        other = (await open_ticket(web, ann, subject="Billing question", category="billing"))["id"]

        async def ids(session: dict[str, Any], **params: Any) -> list[int]:
            response = await web.client.get(
                "/api/support/tickets/", params=params, headers=auth(session)
            )
            assert response.status_code == 200, response.text
            return [t["id"] for t in response.json()["results"]]

        assert await ids(staff) == [other, tid]
        assert await ids(staff, assignee="me") == [tid]
        assert await ids(staff, assignee=staff_id) == [tid]
        assert await ids(staff, assignee="none") == [other]
        assert await ids(staff, priority="urgent") == [tid]
        assert await ids(staff, category="billing") == [other]
        assert await ids(staff, status="open") == [other, tid]
        assert await ids(staff, search="billing") == [other]
        assert await ids(staff, search="%") == []
        assert await ids(ann, category="billing") == [other]
        assert_error(
            await web.client.get(
                "/api/support/tickets/", params={"assignee": "me"}, headers=auth(ann)
            ),
            403,
            "staff_only",
        )
        assert_error(
            await web.client.get(
                "/api/support/tickets/", params={"status": "lost"}, headers=auth(staff)
            ),
            422,
            "validation_error",
        )
        page = await web.client.get(
            "/api/support/tickets/", params={"page_size": 1}, headers=auth(staff)
        )
        assert page.json()["count"] == 2
        assert page.json()["next"] is not None


async def test_hostile_text_is_stored_as_text(db_path: Path) -> None:
    async with run_web(db_path) as web:
        ann = await web.register("Ann")
        hostile = "<script>alert(1)</script><img src=x onerror=alert(2)>"
        ticket = await open_ticket(web, ann, subject=hostile, description=hostile)
        # The API returns text; the pages insert it as text (see the help page test).
        assert ticket["subject"] == hostile
        bad = await web.client.post(
            "/api/support/tickets/",
            json={"subject": "a\x00b", "description": "x"},
            headers=auth(ann),
        )
        assert_error(bad, 422, "validation_error")
        blank = await web.client.post(
            "/api/support/tickets/", json={"subject": "   ", "description": "x"}, headers=auth(ann)
        )
        assert_error(blank, 422, "validation_error")
        long = await web.client.post(
            "/api/support/tickets/",
            json={"subject": "x" * 201, "description": "x"},
            headers=auth(ann),
        )
        assert_error(long, 422, "validation_error")


async def _attach(
    web: WebHandle,
    session: dict[str, Any],
    tid: int,
    name: str,
    content: bytes,
    **fields: str,
) -> Any:
    return await web.client.post(
        f"/api/support/tickets/{tid}/attachments/",
        files={"file": (name, content, "application/octet-stream")},
        data=fields,
        headers=auth(session),
    )


async def test_attachments(db_path: Path) -> None:
    async with run_web(
        db_path, support_max_attachment_bytes=1024, support_max_attachments=3
    ) as web:
        ann = await web.register("Ann")
        bob = await web.register("Bob")
        staff = await staff_session(web)
        tid = (await open_ticket(web, ann))["id"]

        shot = await _attach(web, ann, tid, "../../etc/screen.png", PNG)
        assert shot.status_code == 201, shot.text
        assert shot.json()["file_name"] == "screen.png"
        assert shot.json()["content_type"] == "image/png"
        log = await _attach(web, ann, tid, "player", b"12:00 stall\n\x1b[31mred\x1b[0m\n")
        assert log.json()["file_name"] == "player.txt"
        assert log.json()["content_type"].startswith("text/plain")

        downloaded = await web.client.get(shot.json()["url"], headers=auth(ann))
        assert downloaded.status_code == 200
        assert downloaded.content == PNG
        assert downloaded.headers["content-type"] == "image/png"
        assert downloaded.headers["content-disposition"].startswith("attachment")
        assert downloaded.headers["x-content-type-options"] == "nosniff"
        assert_error(await web.client.get(shot.json()["url"], headers=auth(bob)), 404)

        # Disguised, unknown, markup, too large, empty, missing.
        assert_error(
            await _attach(web, ann, tid, "shot.png", b"hello"), 415, "attachment_type_mismatch"
        )
        assert_error(
            await _attach(web, ann, tid, "notes.txt", PNG), 415, "attachment_type_mismatch"
        )
        assert_error(
            await _attach(web, ann, tid, "page.txt", b"<!DOCTYPE html><script>x</script>"),
            415,
            "unsupported_media_type",
        )
        assert_error(
            await _attach(web, ann, tid, "a.svg", b"<svg onload=alert(1)>"),
            415,
            "unsupported_media_type",
        )
        assert_error(
            await _attach(web, ann, tid, "bin", b"\x00\x01\x02"), 415, "unsupported_media_type"
        )
        assert_error(await _attach(web, ann, tid, "big.txt", b"a" * 1025), 413, "request_too_large")
        assert_error(await _attach(web, ann, tid, "empty.txt", b""), 422, "validation_error")
        no_file = await web.client.post(
            f"/api/support/tickets/{tid}/attachments/",
            files={"other": ("x.txt", b"x", "text/plain")},
            headers=auth(ann),
        )
        assert_error(no_file, 422, "validation_error")
        json_body = await web.client.post(
            f"/api/support/tickets/{tid}/attachments/", json={"file": "x"}, headers=auth(ann)
        )
        assert_error(json_body, 415, "unsupported_media_type")
        assert_error(
            await _attach(web, ann, tid, "mine.txt", b"x", internal="true"), 403, "forbidden"
        )

        # Staff-only attachment: hidden from the requester, in the detail and by URL.
        hidden = await _attach(web, staff, tid, "staff-only.log", b"trace", internal="true")
        assert hidden.status_code == 201, hidden.text
        assert_error(await web.client.get(hidden.json()["url"], headers=auth(ann)), 404)
        detail = (await web.client.get(f"/api/support/tickets/{tid}/", headers=auth(ann))).json()
        assert len(detail["attachments"]) == 2
        assert not _leaks(detail)
        staff_detail = (
            await web.client.get(f"/api/support/tickets/{tid}/", headers=auth(staff))
        ).json()
        assert len(staff_detail["attachments"]) == 3

        # The limit of attachments per ticket.
        assert_error(await _attach(web, ann, tid, "more.txt", b"x"), 409, "too_many_attachments")


async def test_internal_notes_never_reach_the_requester(db_path: Path) -> None:
    """Every response the requester can get about their ticket, after staff wrote
    notes and attached internal files, is free of them."""
    async with run_web(db_path) as web:
        ann = await web.register("Ann")
        staff = await staff_session(web)
        tid = (await open_ticket(web, ann))["id"]
        assert (await reply(web, staff, tid, SECRET_NOTE, internal=True)).status_code == 201
        await _attach(web, staff, tid, "staff-only.log", b"INTERNAL trace", internal="true")
        public = await reply(web, staff, tid, "We are on it")
        assert public.status_code == 201

        responses = [
            await web.client.get(f"/api/support/tickets/{tid}/", headers=auth(ann)),
            await web.client.get("/api/support/tickets/", headers=auth(ann)),
            await reply(web, ann, tid, "thanks"),
            await web.client.post(
                f"/api/support/tickets/{tid}/status/",
                json={"status": "resolved"},
                headers=auth(ann),
            ),
        ]
        for response in responses:
            assert response.status_code in (200, 201), response.text
            assert not _leaks(response.json()), response.text


@pytest.mark.parametrize("role", ["staff", "admin"])
async def test_staff_and_admin_see_every_ticket(db_path: Path, role: str) -> None:
    async with run_web(db_path) as web:
        ann = await web.register("Ann")
        desk = await staff_session(web, role=role)
        tid = (await open_ticket(web, ann))["id"]
        listed = (await web.client.get("/api/support/tickets/", headers=auth(desk))).json()
        assert [t["id"] for t in listed["results"]] == [tid]
        detail = await web.client.get(f"/api/support/tickets/{tid}/", headers=auth(desk))
        assert detail.status_code == 200
        assert detail.json()["allowed_statuses"] == [
            "in_progress",
            "waiting_on_user",
            "resolved",
            "closed",
        ]


async def test_replies_and_new_tickets_notify_through_the_notification_service(
    db_path: Path,
) -> None:
    """A staff reply lands in the requester's notifications (internal notes do not);
    a new ticket lands in the staff's."""
    async with run_web(db_path) as web:
        ann = await web.register("Ann")
        staff = await staff_session(web)
        tid = (await open_ticket(web, ann))["id"]
        staff_list = (await web.client.get("/api/notifications/", headers=auth(staff))).json()
        assert [n["kind"] for n in staff_list["results"]] == ["support_ticket"]
        assert str(tid) in staff_list["results"][0]["title"]
        assert (await reply(web, staff, tid, SECRET_NOTE, internal=True)).status_code == 201
        assert (await reply(web, staff, tid, "We are on it")).status_code == 201
        mine = (await web.client.get("/api/notifications/", headers=auth(ann))).json()
        assert [n["kind"] for n in mine["results"]] == ["support_reply"]
        assert "We are on it" in mine["results"][0]["body"]
        assert not _leaks(mine)


async def test_a_staff_reply_is_emailed_through_a_real_smtp_server(tmp_path: Path) -> None:
    """With SMTP set up, the requester's reply notification leaves as an email (aiosmtpd
    on 127.0.0.1), with the ticket in its subject and the reply in its text; an
    internal note sends nothing."""
    from .notification_helpers import open_smtp_server, wait_until

    async with (
        open_smtp_server() as (inbox, port),
        run_web(
            tmp_path / "s.db",
            smtp_host="127.0.0.1",
            smtp_port=port,
            smtp_security="none",
            smtp_from="help@example.org",
            notification_retry_base_s=0.0,
        ) as web,
    ):
        ann = await web.register("Ann", email="ann@example.org")
        staff = await staff_session(web)
        ticket = await open_ticket(web, ann, subject="No sound in room")
        assert (
            await reply(web, staff, ticket["id"], SECRET_NOTE, internal=True)
        ).status_code == 201
        assert (await reply(web, staff, ticket["id"], "Unmute the tab")).status_code == 201

        async def to_ann() -> list[Any] | None:
            sent = [
                m for m in inbox.messages if m["To"].addresses[0].addr_spec == "ann@example.org"
            ]
            return sent or None

        (message,) = await wait_until(to_ann)
        assert message["Subject"] == f"[#{ticket['id']}] Reply: No sound in room"
        text = message.get_body(("plain",)).get_content()
        assert "Unmute the tab" in text
        assert "INTERNAL" not in text
