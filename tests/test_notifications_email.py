"""Email notifications through a real SMTP server (aiosmtpd on 127.0.0.1): the message
itself, retries with backoff after failures, and no second send after a restart."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import trio

import data
from data import notifications as store
from data.notifications import INTERRUPTED_ERROR, NewNotification

from .notification_helpers import deliveries, open_smtp_server, service_of, wait_until
from .web_helpers import FakeClock, auth, run_web

REPLY = {"ticket_id": 7, "ticket_subject": "No sound", "reply_excerpt": "Try <b>this</b> & that"}


def smtp(port: int, **more: Any) -> dict[str, Any]:
    return {
        "smtp_host": "127.0.0.1",
        "smtp_port": port,
        "smtp_security": "none",
        "smtp_from": "watchparty@example.org",
        "notification_retry_base_s": 0.0,
        **more,
    }


async def email_status(web: Any, notification_id: int) -> dict[str, Any]:
    (email,) = [d for d in await deliveries(web, notification_id) if d["channel"] == "email"]
    return email


async def wait_final(web: Any, notification_id: int) -> dict[str, Any]:
    async def final() -> dict[str, Any] | None:
        email = await email_status(web, notification_id)
        return email if email["status"] not in ("pending", "sending") else None

    return await wait_until(final)  # type: ignore[no-any-return]


async def test_email_is_sent_with_text_and_html(tmp_path: Path) -> None:
    async with (
        open_smtp_server() as (inbox, port),
        run_web(tmp_path / "n.db", **smtp(port), public_web_url="https://watch.example.org") as web,
    ):
        alice = await web.register("Alice <3", email="alice@example.org")
        guest = await web.guest("Gus")
        prefs = await web.client.get("/api/notifications/preferences/", headers=auth(alice))
        assert prefs.json()["email_available"] is True
        made = await service_of(web).notify(
            user_ids=[alice["user"]["id"], guest["user"]["id"]],
            kind="support_reply",
            context=REPLY,
            url="/help/tickets/7",
        )
        mine = next(n for n in made if n["user_id"] == alice["user"]["id"])
        assert (await wait_final(web, mine["id"]))["status"] == "sent"
        gus = next(n for n in made if n["user_id"] == guest["user"]["id"])
        skipped = await email_status(web, gus["id"])
        assert skipped["status"] == "skipped"
        assert "no email" in skipped["last_error"]

        (message,) = inbox.messages
        assert inbox.envelopes == [("watchparty@example.org", ["alice@example.org"])]
        assert message["Subject"] == "[#7] Reply: No sound"
        assert message["To"].addresses[0].addr_spec == "alice@example.org"
        assert message["From"].addresses[0].addr_spec == "watchparty@example.org"
        assert message["X-Watchparty-Notification"] == f"support_reply/{mine['id']}"
        assert message.get_content_type() == "multipart/alternative"
        text = message.get_body(("plain",)).get_content()
        html = message.get_body(("html",)).get_content()
        assert "Hello Alice <3," in text
        assert "Try <b>this</b> & that" in text
        assert "Open: https://watch.example.org/help/tickets/7" in text
        assert "Hello Alice &lt;3," in html
        assert "Try &lt;b&gt;this&lt;/b&gt; &amp; that" in html
        assert 'href="https://watch.example.org/help/tickets/7"' in html


async def test_retries_after_temporary_failures(tmp_path: Path) -> None:
    async with open_smtp_server() as (inbox, port), run_web(tmp_path / "n.db", **smtp(port)) as web:
        alice = await web.register("Alice")
        inbox.failures = 2
        (made,) = await service_of(web).notify(
            user_ids=[alice["user"]["id"]], kind="support_reply", context=REPLY
        )
        email = await wait_final(web, made["id"])
        assert email["status"] == "sent"
        assert email["attempts"] == 3
        assert email["last_error"] is None
        assert inbox.refused == 2
        assert len(inbox.messages) == 1


async def test_backoff_waits_then_sends(tmp_path: Path) -> None:
    clock = FakeClock()
    async with (
        open_smtp_server() as (inbox, port),
        run_web(
            tmp_path / "n.db", clock=clock, **smtp(port, notification_retry_base_s=60.0)
        ) as web,
    ):
        alice = await web.register("Alice")
        service = service_of(web)
        inbox.failures = 1
        (made,) = await service.notify(
            user_ids=[alice["user"]["id"]], kind="support_reply", context=REPLY
        )

        async def failed_once() -> dict[str, Any] | None:
            email = await email_status(web, made["id"])
            return email if email["attempts"] == 1 and email["status"] == "pending" else None

        email = await wait_until(failed_once)
        assert "451" in email["last_error"]
        assert email["next_attempt_at_ms"] == int(clock() * 1000) + 60_000
        # Not due yet: a pass leaves it alone.
        await service.wait_pass()
        assert (await email_status(web, made["id"]))["attempts"] == 1
        assert inbox.messages == []
        clock.advance(60.0)
        service.wake()
        assert (await wait_final(web, made["id"]))["status"] == "sent"
        assert len(inbox.messages) == 1


async def test_permanent_failure_and_attempt_limit(tmp_path: Path) -> None:
    async with (
        open_smtp_server() as (inbox, port),
        run_web(tmp_path / "n.db", **smtp(port, notification_max_attempts=2)) as web,
    ):
        alice = await web.register("Alice")
        service = service_of(web)
        inbox.failures = 1
        inbox.failure_reply = "550 5.1.1 No such mailbox"
        (refused,) = await service.notify(
            user_ids=[alice["user"]["id"]], kind="support_reply", context=REPLY
        )
        email = await wait_final(web, refused["id"])
        assert email["status"] == "failed"
        assert email["attempts"] == 1
        assert "550" in email["last_error"]

        inbox.failures = 5
        inbox.failure_reply = "421 4.7.0 Busy"
        (limited,) = await service.notify(
            user_ids=[alice["user"]["id"]], kind="support_reply", context=REPLY
        )
        email = await wait_final(web, limited["id"])
        assert email["status"] == "failed"
        assert email["attempts"] == 2
        assert "421" in email["last_error"]
        assert inbox.messages == []

        staff = await web.register("Staff")
        await web.db.write(
            lambda conn: data.users.set_user_role(conn, staff["user"]["id"], "staff")
        )
        stats = (await web.client.get("/api/notifications/stats/", headers=auth(staff))).json()
        assert stats["channels"]["email"]["failed"] == 2
        assert stats["channels"]["email"]["sent"] == 0


async def test_unreachable_server_then_a_working_one(tmp_path: Path) -> None:
    # An SMTP port where nothing listens (the server is down), then a working server.
    async with open_smtp_server() as (inbox, port):
        down_port = port
    clock = FakeClock()
    async with run_web(
        tmp_path / "n.db", clock=clock, **smtp(down_port, notification_retry_base_s=10.0)
    ) as web:
        alice = await web.register("Alice")
        (made,) = await service_of(web).notify(
            user_ids=[alice["user"]["id"]], kind="support_reply", context=REPLY
        )

        async def failed_once() -> dict[str, Any] | None:
            email = await email_status(web, made["id"])
            return email if email["attempts"] == 1 and email["status"] == "pending" else None

        email = await wait_until(failed_once)
        assert "could not send" in email["last_error"]
    # The mail server is back (on another port: the settings change with the restart).
    async with (
        open_smtp_server() as (inbox, port),
        run_web(
            tmp_path / "n.db", clock=clock, **smtp(port, notification_retry_base_s=10.0)
        ) as web,
    ):
        clock.advance(10.0)
        service_of(web).wake()
        assert (await wait_final(web, made["id"]))["status"] == "sent"
        assert len(inbox.messages) == 1


async def test_never_sent_twice_across_restarts(tmp_path: Path) -> None:
    db_path = tmp_path / "n.db"
    async with open_smtp_server() as (inbox, port):
        async with run_web(db_path, **smtp(port)) as web:
            alice = await web.register("Alice")
            uid = alice["user"]["id"]
            (sent,) = await service_of(web).notify(
                user_ids=[uid], kind="support_reply", context=REPLY
            )
            assert (await wait_final(web, sent["id"]))["status"] == "sent"
        assert len(inbox.messages) == 1

        # While the server is down: one delivery queued, and one left "sending" as a
        # process killed in the middle of an SMTP exchange leaves it.
        db = await trio.to_thread.run_sync(data.open_database, db_path)
        now_ms = int(time.time() * 1000)
        try:

            def queue(conn: Any) -> list[int]:
                made = store.insert_notifications(
                    conn,
                    [
                        NewNotification(
                            user_id=uid,
                            kind="support_reply",
                            title="t",
                            body="b",
                            url=None,
                            context={**REPLY, "ticket_id": n},
                            in_app=True,
                            email="pending",
                        )
                        for n in (8, 9)
                    ],
                    now_ms=now_ms,
                )
                return [n["id"] for n in made]

            queued, interrupted = await db.write(queue)
            claimed = await db.write(lambda conn: store.claim_due(conn, now_ms=now_ms, limit=1))
            assert [c["notification"]["id"] for c in claimed] == [queued]
            # Put the first back, so that only the second one is "sending".
            await db.write(
                lambda conn: conn.execute(
                    "UPDATE notification_deliveries SET status = 'pending', attempts = 0 "
                    "WHERE status = 'sending'"
                )
            )
            await db.write(
                lambda conn: conn.execute(
                    "UPDATE notification_deliveries SET status = 'sending', attempts = 1 "
                    "WHERE channel = 'email' AND notification_id = ?",
                    [interrupted],
                )
            )
        finally:
            db.close()

        for _restart in range(2):
            async with run_web(db_path, **smtp(port)) as web:
                service = service_of(web)
                assert (await wait_final(web, queued))["status"] == "sent"
                gone = await email_status(web, interrupted)
                assert gone["status"] == "failed"
                assert gone["last_error"] == INTERRUPTED_ERROR
                await service.wait_pass()
                assert (await email_status(web, sent["id"]))["attempts"] == 1
        subjects = sorted(m["Subject"] for m in inbox.messages)
        assert subjects == ["[#7] Reply: No sound", "[#8] Reply: No sound"]
