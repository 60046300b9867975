"""The notification service: the one public API every domain calls to tell users
something, and the delivery worker behind it.

Domains call :meth:`NotificationService.notify` (or, inside a write transaction of
their own, :meth:`NotificationService.prepare` then :meth:`NotificationService.announce`)
with a kind from :data:`~admin_app.notifications.kinds.KINDS` and its context::

    from admin_app.notifications import service as notifications

    await notifications.current().notify(
        user_ids=[attendee_id],
        kind="event_reminder",
        context={"event_title": "The final", "starts_at": "Fri 21:00 CET",
                 "minutes_before": 15},
        url="/events/42",
    )

For each active recipient the kind's defaults and the user's preferences choose the
channels (optionally narrowed by ``channels=``):

* **in_app**: a row in the user's list at once (and a live ``notification`` message
  on the sync socket when a publisher is set, see :data:`Publisher`);
* **email**: queued, sent by the delivery worker through the one
  :class:`~admin_app.core.mail.MailSender` (only when ``smtp_host`` is set);
* **push**: queued, one delivery per Web Push subscription of the user.

The delivery worker (:meth:`NotificationService.serve_deliveries`) runs in the web
app's process. Its state is the ``notification_deliveries`` table: a delivery is
claimed (``sending``) in one transaction before it is sent, so it is sent at most
once, also across restarts; a failure that may pass (SMTP 4xx, connection errors,
push service 429/5xx) is retried after ``notification_retry_base_s`` doubled per
attempt (at most an hour), up to ``notification_max_attempts`` attempts.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlite_utils
import trio
from quart import current_app

from data import Database
from data import notifications as store
from data.notifications import CHANNELS, DueDelivery, NewNotification, Notification

from ..core.mail import EmailUnavailableError, MailError, MailSender, MailSettings
from .kinds import KINDS, Renderer, TemplateContextError, get_kind
from .push import PushError, PushSender, PushSettings, generate_private_key

logger = logging.getLogger(__name__)

#: Called with ``(user_id, message)`` for each new in-app notification, to send the
#: message to that user's open sync connections; returns how many were told. The app
#: sets it from ``RoomControl.publish_notification`` when the room control has that
#: method; None (the default): no live messages.
Publisher = Callable[[str, dict[str, Any]], Awaitable[int]]

#: Deliveries claimed by one pass of the worker.
CLAIM_BATCH = 50
#: Longest the worker sleeps without looking for due deliveries, seconds (catches
#: rows queued by another process on the same database).
MAX_IDLE_S = 30.0
#: Longest wait between two attempts at one delivery, seconds.
MAX_BACKOFF_S = 3_600.0
#: How often old notifications are purged, seconds.
PURGE_INTERVAL_S = 3_600.0
#: Largest context of one notification, bytes of JSON.
MAX_CONTEXT_BYTES = 16_384
#: Recipients written per transaction by a bulk send.
BULK_CHUNK = 1_000


@dataclass(frozen=True, slots=True)
class NotificationSettings:
    """Settings of the service (rows of the settings table).

    Attributes:
        max_attempts: ``notification_max_attempts``.
        retry_base_s: ``notification_retry_base_s``, seconds.
        retention_s: ``notification_retention_s``, seconds; 0 keeps everything.
        site_url: ``public_web_url``, to make links absolute in email and push.
        push_subject: VAPID contact: ``push_subject``, else ``mailto:`` + ``smtp_from``,
            else the site URL when it is https, else ``mailto:watchparty@localhost``.
        push_allow_loopback: ``push_allow_loopback``.
        timeout_s: ``smtp_timeout_s``, also used for push requests.
    """

    max_attempts: int = 6
    retry_base_s: float = 30.0
    retention_s: float = 7_776_000.0
    site_url: str = ""
    push_subject: str = "mailto:watchparty@localhost"
    push_allow_loopback: bool = False
    timeout_s: float = 30.0

    @classmethod
    def from_config(cls, config: Any) -> NotificationSettings:
        """Read the settings from a ``Config`` (defaults for attributes it lacks)."""
        site_url = str(getattr(config, "public_web_url", "") or "")
        subject = str(getattr(config, "push_subject", "") or "")
        smtp_from = str(getattr(config, "smtp_from", "") or "")
        if not subject:
            if smtp_from:
                subject = f"mailto:{smtp_from}"
            elif site_url.startswith("https://"):
                subject = site_url
            else:
                subject = "mailto:watchparty@localhost"
        return cls(
            max_attempts=int(getattr(config, "notification_max_attempts", 6)),
            retry_base_s=float(getattr(config, "notification_retry_base_s", 30.0)),
            retention_s=float(getattr(config, "notification_retention_s", 7_776_000.0)),
            site_url=site_url,
            push_subject=subject,
            push_allow_loopback=bool(getattr(config, "push_allow_loopback", False)),
            timeout_s=float(getattr(config, "smtp_timeout_s", 30.0)),
        )


def notification_json(notification: Notification) -> dict[str, Any]:
    """A notification as the API and the live message show it::

    {"id": 7, "kind": "event_reminder", "title": "...", "body": "...",
     "url": "/events/42" | null, "is_read": false,
     "created_at": "2026-01-02T03:04:05.678Z", "read_at": null}
    """
    return {
        "id": notification["id"],
        "kind": notification["kind"],
        "title": notification["title"],
        "body": notification["body"],
        "url": notification["url"],
        "is_read": notification["read_at_ms"] is not None,
        "created_at": _iso_ms(notification["created_at_ms"]),
        "read_at": _iso_ms(notification["read_at_ms"]),
    }


def _iso_ms(ms: int | None) -> str | None:
    if ms is None:
        return None
    seconds, millis = divmod(int(ms), 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{millis:03d}Z"


class NotificationService:
    """Notifications for every domain: in-app, email and Web Push.

    One per app (``app.extensions["notifications"]``, see :func:`current`).

    Args:
        db: The open database.
        config: The settings (``smtp_*``, ``notification_*``, ``push_*``,
            ``public_web_url``).
        clock: Wall clock, Unix seconds (notification times and due times).
        publisher: Live message hook; see :data:`Publisher`.
        mail: The mail sender; one built from *config* when None.

    Attributes:
        passes: How many passes the delivery worker has completed (monitoring, tests).
    """

    def __init__(
        self,
        db: Database,
        config: Any,
        *,
        clock: Callable[[], float] = time.time,
        publisher: Publisher | None = None,
        mail: MailSender | None = None,
    ) -> None:
        self.db = db
        self.settings = NotificationSettings.from_config(config)
        self.mail = mail or MailSender(MailSettings.from_config(config))
        self.renderer = Renderer(self.settings.site_url)
        self.publisher = publisher
        self.clock = clock
        self.passes = 0
        self._started = 0
        self._push: PushSender | None = None
        self._push_lock = trio.Lock()
        self._wake = trio.Event()
        self._pass_done = trio.Event()
        self._stop = trio.CancelScope()
        self._last_purge_s = 0.0

    # --- facts ------------------------------------------------------------------------------
    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    @property
    def email_available(self) -> bool:
        """Whether email can be sent (``smtp_host`` is set)."""
        return self.mail.available

    async def push_sender(self) -> PushSender:
        """The Web Push sender, with the VAPID key loaded (created on first use)."""
        async with self._push_lock:
            if self._push is None:
                fresh = generate_private_key()
                key = await self.db.write(
                    lambda conn: store.get_or_create_vapid_key(conn, fresh, now_ms=self.now_ms())
                )
                self._push = PushSender(
                    key,
                    PushSettings(
                        subject=self.settings.push_subject,
                        allow_loopback=self.settings.push_allow_loopback,
                        timeout_s=self.settings.timeout_s,
                    ),
                )
            return self._push

    async def vapid_public_key(self) -> str:
        """The VAPID public key (base64url, 65-byte uncompressed P-256 point) browsers
        pass as ``applicationServerKey`` when they subscribe."""
        return (await self.push_sender()).public_key

    # --- the API domains call ---------------------------------------------------------------
    async def notify(
        self,
        *,
        user_ids: Iterable[str],
        kind: str,
        context: dict[str, Any],
        url: str | None = None,
        channels: Sequence[str] | None = None,
    ) -> list[Notification]:
        """Notify users, in one transaction, then wake the delivery worker.

        Args:
            user_ids: Accounts to notify; unknown and disabled ones are left out,
                duplicates count once.
            kind: A kind of :data:`~admin_app.notifications.kinds.KINDS`.
            context: Values the kind's templates use (JSON-serialisable, at most
                :data:`MAX_CONTEXT_BYTES` bytes); see docs/notifications.md per kind.
            url: A path (``/events/42``) or URL the notification points to.
            channels: Restrict to these of ``in_app``, ``email``, ``push``; users'
                preferences still apply. None: every channel.

        Returns:
            The notifications made (one per recipient with at least one channel on),
            shaped as :class:`data.notifications.Notification`.

        Raises:
            UnknownKindError: for an unknown kind.
            TemplateContextError: if *context* does not render or is too large.
            EmailUnavailableError: if *channels* names ``email`` and email is off.
            ValueError: for an unknown channel.
        """
        ids = list(user_ids)
        created = await self.db.write(
            lambda conn: self.prepare(
                conn, user_ids=ids, kind=kind, context=context, url=url, channels=channels
            )
        )
        await self.announce(created)
        return created

    def prepare(
        self,
        conn: sqlite_utils.Database,
        *,
        user_ids: Sequence[str],
        kind: str,
        context: dict[str, Any],
        url: str | None = None,
        channels: Sequence[str] | None = None,
        bulk_id: str | None = None,
    ) -> list[Notification]:
        """Write notifications inside the caller's write transaction (synchronous, for
        ``db.write``), so that they commit or roll back with the caller's own rows.
        Call :meth:`announce` with the result once the transaction committed.

        Args and Raises: as :meth:`notify`; *bulk_id* marks a staff bulk send.
        """
        get_kind(kind)
        wanted = self._channels(channels)
        try:
            encoded = json.dumps(context, separators=(",", ":"), sort_keys=True)
        except (TypeError, ValueError) as exc:
            raise TemplateContextError(f"expected a JSON-serialisable context: {exc}") from None
        if len(encoded.encode()) > MAX_CONTEXT_BYTES:
            raise TemplateContextError(
                f"expected a context of at most {MAX_CONTEXT_BYTES} bytes of JSON, "
                f"got {len(encoded.encode())}"
            )
        context = json.loads(encoded)
        found = store.recipients(conn, user_ids)
        ids = [uid for uid in dict.fromkeys(user_ids) if uid in found]
        if not ids:
            return []
        prefs = store.preferences(conn, ids, kind)
        subscriptions = store.push_subscription_ids(conn, ids) if "push" in wanted else {}
        default = get_kind(kind)
        items: list[NewNotification] = []
        for index, uid in enumerate(ids):
            recipient = found[uid]

            def on(channel: str, uid: str = uid) -> bool:
                if channel not in wanted:
                    return False
                return prefs.get((uid, kind, channel), default.default(channel))

            rendered = self.renderer.in_app(
                kind, context, recipient_name=recipient["display_name"], url=url
            )
            if index == 0:  # the HTML template's errors too, before anything is written
                self.renderer.email(
                    kind, context, recipient_name=recipient["display_name"], url=url
                )
            email: str | None = None
            if self.email_available and on("email"):
                email = "pending" if recipient["email"] else "skipped: the account has no email"
            push_ids = subscriptions.get(uid, []) if on("push") else []
            in_app = on("in_app")
            if not in_app and email is None and not push_ids:
                continue
            items.append(
                NewNotification(
                    user_id=uid,
                    kind=kind,
                    title=rendered.title,
                    body=rendered.body,
                    url=url,
                    context=context,
                    in_app=in_app,
                    email=email,
                    push_subscription_ids=push_ids,
                    bulk_id=bulk_id,
                )
            )
        return store.insert_notifications(conn, items, now_ms=self.now_ms())

    async def announce(self, created: Sequence[Notification]) -> None:
        """After :meth:`prepare` committed: wake the delivery worker and send live
        messages for the in-app ones. Never raises for a publisher failure (logged)."""
        if created:
            self.wake()
        if self.publisher is None:
            return
        shown = [n for n in created if n["in_app"]]
        if not shown:
            return
        counts = await self.db.read(
            lambda conn: {
                uid: store.unread_count(conn, uid) for uid in {n["user_id"] for n in shown}
            }
        )
        for notification in shown:
            message = {
                "type": "notification",
                "notification": notification_json(notification),
                "unread_count": counts.get(notification["user_id"], 0),
            }
            try:
                await self.publisher(notification["user_id"], message)
            except Exception:
                logger.warning(
                    "live notification %s to user %s failed",
                    notification["id"],
                    notification["user_id"],
                    exc_info=True,
                )

    async def send_bulk(
        self,
        *,
        user_ids: Sequence[str] | None,
        kind: str,
        context: dict[str, Any],
        url: str | None = None,
        channels: Sequence[str] | None = None,
        include_guests: bool = False,
    ) -> tuple[str, int]:
        """Notify many users (staff announcements), :data:`BULK_CHUNK` per transaction.

        Args:
            user_ids: The recipients; None for every active account (guests only with
                *include_guests*).
            kind, context, url, channels: As :meth:`notify`.
            include_guests: With ``user_ids`` None, whether guests are included.

        Returns:
            ``(bulk_id, count)``: the id marking the send, and how many notifications
            were made.

        Raises:
            As :meth:`notify`, before anything is written.
        """
        bulk_id = uuid.uuid4().hex
        if user_ids is None:
            ids = await self.db.read(
                lambda conn: store.active_user_ids(conn, include_guests=include_guests)
            )
        else:
            ids = list(dict.fromkeys(user_ids))
        self._channels(channels)
        total = 0
        for start in range(0, len(ids), BULK_CHUNK):
            chunk = ids[start : start + BULK_CHUNK]
            created = await self.db.write(
                lambda conn, chunk=chunk: self.prepare(  # type: ignore[misc]
                    conn,
                    user_ids=chunk,
                    kind=kind,
                    context=context,
                    url=url,
                    channels=channels,
                    bulk_id=bulk_id,
                )
            )
            total += len(created)
            await self.announce(created)
        logger.info("bulk notification %s (%s) made %d notifications", bulk_id, kind, total)
        return bulk_id, total

    def _channels(self, channels: Sequence[str] | None) -> tuple[str, ...]:
        if channels is None:
            return CHANNELS
        unknown = [c for c in channels if c not in CHANNELS]
        if unknown:
            raise ValueError(f"expected channels among {', '.join(CHANNELS)}, got {unknown}")
        if "email" in channels and not self.email_available:
            raise EmailUnavailableError()
        return tuple(channels)

    # --- preferences --------------------------------------------------------------------------
    async def preferences(self, user_id: str) -> dict[str, dict[str, bool]]:
        """A user's effective preferences: ``{kind: {channel: enabled}}`` for every kind
        (staff-only kinds included: they are received by everyone)."""
        chosen = await self.db.read(lambda conn: store.preferences(conn, [user_id]))
        return {
            name: {c: chosen.get((user_id, name, c), kind.default(c)) for c in CHANNELS}
            for name, kind in KINDS.items()
        }

    async def set_preferences(
        self, user_id: str, changes: dict[str, dict[str, bool]], *, has_email: bool
    ) -> dict[str, dict[str, bool]]:
        """Change some of a user's preferences; returns all of them (as :meth:`preferences`).

        Raises:
            UnknownKindError: for an unknown kind.
            ValueError: for an unknown channel.
            EmailUnavailableError: if an email preference is turned on while email is
                off on this server.
            NoEmailAddressError: if an email preference is turned on for an account
                without an email address (a guest).
        """
        rows = []
        for kind, channels in changes.items():
            get_kind(kind)
            for channel, enabled in channels.items():
                if channel not in CHANNELS:
                    raise ValueError(f"expected a channel among {', '.join(CHANNELS)}")
                if channel == "email" and enabled:
                    if not self.email_available:
                        raise EmailUnavailableError()
                    if not has_email:
                        raise NoEmailAddressError()
                rows.append((kind, channel, bool(enabled)))
        await self.db.write(lambda conn: store.set_preferences(conn, user_id, rows))
        return await self.preferences(user_id)

    # --- the delivery worker ------------------------------------------------------------------
    def wake(self) -> None:
        """Make the delivery worker look for due deliveries now (after new ones were
        queued, or after the clock moved in tests)."""
        self._wake.set()

    def stop(self) -> None:
        """Stop :meth:`serve_deliveries` after the deliveries it is sending are done."""
        self._stop.cancel()

    async def wait_pass(self) -> int:
        """Wake the worker and wait until a pass that started after this call has
        completed (so everything due now was handled); returns :attr:`passes`."""
        target = self._started + 1
        self.wake()
        while self.passes < target:
            await self._pass_done.wait()
        return self.passes

    async def serve_deliveries(
        self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Send due email and push deliveries until :meth:`stop` or cancellation.

        First marks deliveries a stopped process left ``sending`` as ``failed``
        (:func:`data.notifications.recover_interrupted`: never sent twice), then
        claims due deliveries in batches of :data:`CLAIM_BATCH`, sends them
        concurrently and records each outcome; between passes it sleeps until the
        next delivery is due, :meth:`wake` is called, or :data:`MAX_IDLE_S` passed.

        Error handling:
            A delivery in progress finishes and is recorded even when the worker is
            cancelled (shielded; the SMTP and push timeouts bound it). An unexpected
            error in a pass is logged with its traceback and the pass is retried
            after 5 seconds; it never ends the web app.
        """
        recovered = await self.db.write(
            lambda conn: store.recover_interrupted(conn, now_ms=self.now_ms())
        )
        if recovered:
            logger.warning("%d deliveries were interrupted by a stop; marked failed", recovered)
        task_status.started()
        with self._stop:
            while True:
                self._wake = trio.Event()
                self._started += 1
                try:
                    claimed = await self._pass()
                except Exception:
                    logger.exception("notification delivery pass failed; retrying in 5 s")
                    claimed = 0
                    await trio.sleep(5.0)
                self.passes += 1
                self._pass_done.set()
                self._pass_done = trio.Event()
                if claimed:
                    continue
                due_ms = await self.db.read(store.next_due_at_ms)
                wait_s = MAX_IDLE_S
                if due_ms is not None:
                    wait_s = min(MAX_IDLE_S, max(0.0, (due_ms - self.now_ms()) / 1000))
                with trio.move_on_after(wait_s):
                    await self._wake.wait()

    async def _pass(self) -> int:
        now_s = self.clock()
        if self.settings.retention_s > 0 and now_s - self._last_purge_s >= PURGE_INTERVAL_S:
            self._last_purge_s = now_s
            before_ms = int((now_s - self.settings.retention_s) * 1000)
            purged = await self.db.write(lambda conn: store.purge_before(conn, before_ms))
            if purged:
                logger.info("purged %d notifications older than the retention", purged)
        claimed = await self.db.write(
            lambda conn: store.claim_due(conn, now_ms=self.now_ms(), limit=CLAIM_BATCH)
        )
        if claimed:
            async with trio.open_nursery() as nursery:
                for delivery in claimed:
                    nursery.start_soon(self._deliver, delivery)
        return len(claimed)

    async def _deliver(self, delivery: DueDelivery) -> None:
        # Shielded: once claimed, the outcome is always recorded (a cancelled send
        # would otherwise stay "sending" and be given up as interrupted).
        with trio.CancelScope(shield=True):
            try:
                if delivery["channel"] == "email":
                    await self._send_email(delivery)
                else:
                    await self._send_push(delivery)
            except Exception as exc:
                logger.exception("delivery %s failed unexpectedly", delivery["id"])
                await self._record(delivery, f"{type(exc).__name__}: {exc}", temporary=False)
                return

    async def _send_email(self, delivery: DueDelivery) -> None:
        if not self.email_available:
            await self._record(delivery, "email is off on this server", status="skipped")
            return
        if not delivery["email"]:
            await self._record(delivery, "the account has no email", status="skipped")
            return
        n = delivery["notification"]
        try:
            rendered = self.renderer.email(
                n["kind"], n["context"], recipient_name=delivery["display_name"], url=n["url"]
            )
        except TemplateContextError as exc:
            await self._record(delivery, str(exc), temporary=False)
            return
        try:
            await self.mail.send(
                to=delivery["email"],
                to_name=delivery["display_name"],
                subject=rendered.subject,
                text=rendered.text,
                html=rendered.html,
                headers={"X-Watchparty-Notification": f"{n['kind']}/{n['id']}"},
            )
        except MailError as exc:
            await self._record(delivery, str(exc), temporary=exc.temporary)
            return
        await self._record(delivery, None)

    async def _send_push(self, delivery: DueDelivery) -> None:
        subscription = delivery["subscription"]
        if subscription is None:
            await self._record(delivery, "the subscription was removed", status="skipped")
            return
        n = delivery["notification"]
        payload = {
            "id": n["id"],
            "kind": n["kind"],
            "title": n["title"],
            "body": n["body"],
            "url": self.renderer.absolute_url(n["url"]),
        }
        sender = await self.push_sender()
        try:
            await sender.send(subscription, payload)
        except PushError as exc:
            if exc.gone:
                sub_id = subscription["id"]
                await self.db.write(
                    lambda conn: store.drop_push_subscription(
                        conn, sub_id, reason="the push service says the subscription is gone"
                    )
                )
                logger.info("push subscription %s is gone (%s); deleted", sub_id, exc.status)
            await self._record(delivery, str(exc), temporary=exc.temporary)
            return
        await self._record(delivery, None)

    async def _record(
        self,
        delivery: DueDelivery,
        error: str | None,
        *,
        temporary: bool = False,
        status: str = "failed",
    ) -> None:
        now_ms = self.now_ms()
        did = delivery["id"]
        if error is None:
            await self.db.write(lambda conn: store.record_sent(conn, did, now_ms=now_ms))
            return
        retry_at_ms = None
        if temporary and delivery["attempts"] < self.settings.max_attempts:
            backoff_s = min(
                MAX_BACKOFF_S, self.settings.retry_base_s * 2 ** (delivery["attempts"] - 1)
            )
            retry_at_ms = now_ms + int(backoff_s * 1000)
        logger.warning(
            "%s delivery %d (attempt %d) failed: %s%s",
            delivery["channel"],
            did,
            delivery["attempts"],
            error,
            "; will retry" if retry_at_ms is not None else "",
        )
        await self.db.write(
            lambda conn: store.record_failure(
                conn, did, error=error, now_ms=now_ms, retry_at_ms=retry_at_ms, status=status
            )
        )


class NoEmailAddressError(EmailUnavailableError):
    """Email was asked for an account that has no email address (a guest)."""

    code = "no_email_address"

    def __init__(self) -> None:
        super().__init__("this account has no email address to send to")


def current() -> NotificationService:
    """The notification service of the current app (inside a request or app context)."""
    return current_app.extensions["notifications"]  # type: ignore[no-any-return]


__all__ = [
    "EmailUnavailableError",
    "NoEmailAddressError",
    "NotificationService",
    "NotificationSettings",
    "Publisher",
    "current",
    "notification_json",
]
