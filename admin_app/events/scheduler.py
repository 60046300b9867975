"""The reminder scheduler: sends each due event reminder once, and tells attendees
when an event with a watch room starts.

It runs in the web app's process (started when the app serves) and keeps no state
of its own: reminders are rows of ``event_reminders``. A pass handles, in one write
transaction per batch, every reminder that is due: it asks the notification service
to write the notification (:meth:`NotificationService.prepare`, which queues the
email for its delivery worker) and records the reminder ``sent`` with it, or records
it ``skipped`` (the event was cancelled or has ended, the account no longer attends,
the account turned the notice off) or ``failed`` (with the reason). Handing a
reminder on and recording it commit together, so after a crash or a restart a
reminder is either still ``scheduled`` (and is sent by the next pass) or recorded,
never sent twice. The email itself is sent by the notification service, which
records its delivery (sent, or failed with the SMTP error) and sends it at most
once, also across restarts.

The same pass sends the one "starting now" notice of each event with a watch room,
with the room's link, to its attendees (``events.starting_sent_at_ms``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import trio

from data import Database
from data import events as store

from .service import display_time, event_path, notifier, room_path

logger = logging.getLogger(__name__)

#: Reminders handled per write transaction.
BATCH = 500
#: Longest the scheduler sleeps without looking, seconds (catches rows written by
#: another process, and clock changes).
MAX_IDLE_S = 30.0


class ReminderScheduler:
    """Sends due reminders and "starting" notices; one per app
    (``app.extensions["event_scheduler"]``).

    Args:
        app: The web app (its notification service is looked up at each pass).
        db: The open database.
        clock: Wall clock, Unix seconds.

    Attributes:
        passes: Completed passes (monitoring, tests).
    """

    def __init__(self, app: Any, db: Database, clock: Callable[[], float]) -> None:
        self.app = app
        self.db = db
        self.clock = clock
        self.passes = 0
        self._started = 0
        self._wake = trio.Event()
        self._pass_done = trio.Event()
        self._stop = trio.CancelScope()
        self._warned = False

    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    def wake(self) -> None:
        """Look for due reminders now (a reminder was added, or the clock moved)."""
        self._wake.set()

    def stop(self) -> None:
        """Stop :meth:`serve` after the pass in progress."""
        self._stop.cancel()

    async def wait_pass(self) -> int:
        """Wake the scheduler and wait until a pass that started after this call has
        completed (everything due now was handled); returns :attr:`passes`."""
        target = self._started + 1
        self.wake()
        while self.passes < target:
            await self._pass_done.wait()
        return self.passes

    async def serve(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Handle due reminders until :meth:`stop` or cancellation.

        Error handling:
            An unexpected error in a pass is logged with its traceback and the pass
            is retried after 5 seconds; it never ends the web app. A batch's write
            transaction is shielded from cancellation once started (it is short).
        """
        task_status.started()
        with self._stop:
            while True:
                self._wake = trio.Event()
                self._started += 1
                try:
                    busy = await self.run_pass()
                except Exception:
                    logger.exception("event reminder pass failed; retrying in 5 s")
                    busy = False
                    await trio.sleep(5.0)
                self.passes += 1
                self._pass_done.set()
                self._pass_done = trio.Event()
                if busy:
                    continue
                due_ms = await self.db.read(store.next_due_at_ms)
                wait_s = MAX_IDLE_S
                if due_ms is not None and notifier(self.app) is not None:
                    wait_s = min(MAX_IDLE_S, max(0.0, (due_ms - self.now_ms()) / 1000))
                with trio.move_on_after(wait_s):
                    await self._wake.wait()

    async def run_pass(self) -> bool:
        """Handle one batch of due reminders and starting events; True when a full
        batch was handled (more may be due)."""
        service = notifier(self.app)
        if service is None:
            if not self._warned:
                logger.warning("no notification service: event reminders wait")
                self._warned = True
            return False
        now_ms = self.now_ms()
        with trio.CancelScope(shield=True):
            handled, created = await self.db.write(lambda conn: self._handle(conn, service, now_ms))
        await service.announce(created)
        return handled >= BATCH

    def _handle(self, conn: Any, service: Any, now_ms: int) -> tuple[int, list[Any]]:
        created: list[Any] = []
        due = store.due_reminders(conn, now_ms=now_ms, limit=BATCH)
        for reminder in due:
            status, outcome, made = self._reminder(conn, service, reminder, now_ms)
            if made is not None:
                created.append(made)
            store.record_reminder(
                conn,
                reminder["id"],
                status,
                outcome=outcome,
                notification_id=made["id"] if made is not None else None,
                now_ms=now_ms,
            )
        for event in store.starting_events(conn, now_ms=now_ms, limit=100):
            store.mark_starting_sent(conn, event["id"], now_ms=now_ms)
            if event["ends_at_ms"] <= now_ms:
                continue
            ids = store.attendee_ids(conn, event["id"], ("attending", "maybe"))
            context = {
                "event_title": event["title"],
                "starts_at": display_time(event["starts_at_ms"], event["timezone"]),
            }
            created.extend(
                self._prepare(
                    conn,
                    service,
                    user_ids=ids,
                    kind="event_starting",
                    context=context,
                    url=room_path(str(event["room_code"])),
                    channels=["in_app"],
                )
            )
        return len(due), created

    def _reminder(
        self, conn: Any, service: Any, reminder: dict[str, Any], now_ms: int
    ) -> tuple[str, str | None, Any]:
        if reminder["cancelled_at_ms"] is not None:
            return "skipped", "the event was cancelled", None
        if reminder["ends_at_ms"] <= now_ms:
            return "skipped", "the event had ended", None
        if reminder["attendee_status"] not in ("attending", "maybe", "pending"):
            return "skipped", "the account no longer attends", None
        if reminder["channel"] == "email" and not service.email_available:
            return "failed", "email is off on this server (no SMTP host is set)", None
        minutes = max(0, round((reminder["starts_at_ms"] - now_ms) / 60_000))
        context = {
            "event_title": reminder["title"],
            "starts_at": display_time(reminder["starts_at_ms"], reminder["timezone"]),
            "minutes_before": minutes,
        }
        try:
            made = self._prepare(
                conn,
                service,
                user_ids=[reminder["user_id"]],
                kind="event_reminder",
                context=context,
                url=event_path(reminder["event_id"]),
                channels=[reminder["channel"]],
            )
        except Exception as exc:
            logger.warning("event reminder %s failed: %s", reminder["id"], exc)
            return "failed", f"{type(exc).__name__}: {exc}", None
        if not made:
            return "skipped", "the account is disabled or turned this notice off", None
        return "sent", None, made[0]

    @staticmethod
    def _prepare(conn: Any, service: Any, **kwargs: Any) -> list[Any]:
        # A savepoint per notice: a failure leaves nothing of it, and the batch goes on.
        conn.execute("SAVEPOINT event_notice")
        try:
            made = list(service.prepare(conn, **kwargs))
        except BaseException:
            conn.execute("ROLLBACK TO event_notice")
            conn.execute("RELEASE event_notice")
            raise
        conn.execute("RELEASE event_notice")
        return made
