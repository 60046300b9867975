"""Notifications, their deliveries per channel, preferences and Web Push subscriptions.

Query functions take a ``sqlite_utils.Database`` first and run through
``data.Database.write`` / ``read`` (see :mod:`data.db`); each write function is one
transaction there, so a notification and all its deliveries appear together or not
at all. Times are milliseconds since the Unix epoch (``*_ms``).

Channels are ``in_app``, ``email`` and ``push``. Delivery statuses (see the
``m0004_notifications`` migration): ``pending`` → ``sending`` → ``sent`` or back to
``pending`` (a retry) or ``failed``; ``skipped`` when there was nothing to send to;
``opened`` for an in-app notification its user read.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypedDict

import sqlite_utils

from .errors import NotFoundError, StoreError

CHANNELS = ("in_app", "email", "push")
STATUSES = ("pending", "sending", "sent", "failed", "skipped", "opened")

#: The server_secrets row that holds the VAPID private key (RFC 8292).
VAPID_SECRET_NAME = "vapid_private_key"

#: The error recorded for a delivery that was being sent when the process stopped.
INTERRUPTED_ERROR = (
    "interrupted: the server stopped while this delivery was being sent; it is not "
    "retried, since it may have arrived and must never arrive twice"
)


class Notification(TypedDict):
    """A notification as the query functions return it.

    Attributes:
        id: Its id (never reused).
        user_id: The account it is for.
        kind: Its kind (``event_reminder``, ...).
        title: Short in-app title.
        body: Short in-app text.
        url: A path or URL it points to, or None.
        context: The values its templates were rendered with.
        in_app: Whether it shows in its user's list.
        created_at_ms: When it was made.
        read_at_ms: When its user read it, or None.
    """

    id: int
    user_id: str
    kind: str
    title: str
    body: str
    url: str | None
    context: dict[str, Any]
    in_app: bool
    created_at_ms: int
    read_at_ms: int | None


class Recipient(TypedDict):
    """An active account notifications may go to."""

    id: str
    email: str | None
    display_name: str


@dataclass
class NewNotification:
    """One notification to insert, already rendered.

    Attributes:
        user_id: The account it is for.
        kind: Its kind.
        title: In-app title.
        body: In-app text.
        url: Where it points, or None.
        context: Template values (JSON-serialisable), kept for email and push.
        in_app: Whether it shows in the user's list (in-app channel on).
        email: ``"pending"`` to send an email, ``"skipped: <why>"`` to record that
            none can go, None for no email delivery at all (the channel is off).
        push_subscription_ids: Push subscriptions to deliver to, one delivery each.
        bulk_id: The staff bulk send it belongs to, or None.
    """

    user_id: str
    kind: str
    title: str
    body: str
    url: str | None
    context: dict[str, Any]
    in_app: bool
    email: str | None = None
    push_subscription_ids: list[int] = field(default_factory=list)
    bulk_id: str | None = None


class DueDelivery(TypedDict):
    """An email or push delivery claimed for sending, with what it needs.

    ``subscription`` is None for email and for a push subscription that was removed
    since the delivery was queued; ``email`` is the account's address now.
    """

    id: int
    channel: str
    attempts: int
    notification: Notification
    email: str | None
    display_name: str
    subscription: dict[str, Any] | None


_N_COLUMNS = "id, user_id, kind, title, body, url, context, in_app, created_at_ms, read_at_ms"


def _notification(row: Sequence[Any]) -> Notification:
    keys = _N_COLUMNS.split(", ")
    item: dict[str, Any] = dict(zip(keys, row, strict=True))
    item["context"] = json.loads(item["context"])
    item["in_app"] = bool(item["in_app"])
    return item  # type: ignore[return-value]


# --- recipients and preferences -----------------------------------------------------------
def recipients(db: sqlite_utils.Database, user_ids: Iterable[str]) -> dict[str, Recipient]:
    """The active accounts among *user_ids*, by id (unknown and disabled ones left out)."""
    ids = list(dict.fromkeys(user_ids))
    found: dict[str, Recipient] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        marks = ", ".join("?" for _ in chunk)
        for uid, email, name in db.execute(
            f"SELECT id, email, display_name FROM users WHERE is_active = 1 AND id IN ({marks})",
            chunk,
        ).fetchall():
            found[uid] = {"id": uid, "email": email, "display_name": name}
    return found


def active_user_ids(db: sqlite_utils.Database, *, include_guests: bool) -> list[str]:
    """Ids of every active account (guests only when *include_guests*)."""
    sql = "SELECT id FROM users WHERE is_active = 1"
    if not include_guests:
        sql += " AND is_guest = 0"
    return [row[0] for row in db.execute(sql + " ORDER BY id").fetchall()]


def preferences(
    db: sqlite_utils.Database, user_ids: Sequence[str], kind: str | None = None
) -> dict[tuple[str, str, str], bool]:
    """The preferences users changed: ``{(user_id, kind, channel): enabled}``.

    Args:
        db: The database.
        user_ids: Whose preferences.
        kind: Only this kind's, or every kind's when None.
    """
    found: dict[tuple[str, str, str], bool] = {}
    ids = list(user_ids)
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        marks = ", ".join("?" for _ in chunk)
        sql = (
            "SELECT user_id, kind, channel, enabled FROM notification_preferences "
            f"WHERE user_id IN ({marks})"
        )
        params: list[Any] = list(chunk)
        if kind is not None:
            sql += " AND kind = ?"
            params.append(kind)
        for uid, k, channel, enabled in db.execute(sql, params).fetchall():
            found[(uid, k, channel)] = bool(enabled)
    return found


def set_preferences(
    db: sqlite_utils.Database, user_id: str, changes: Iterable[tuple[str, str, bool]]
) -> None:
    """Store ``(kind, channel, enabled)`` choices of one user (replacing earlier ones)."""
    db.conn.executemany(
        "INSERT INTO notification_preferences (user_id, kind, channel, enabled) "
        "VALUES (?, ?, ?, ?) ON CONFLICT (user_id, kind, channel) "
        "DO UPDATE SET enabled = excluded.enabled",
        [(user_id, kind, channel, int(enabled)) for kind, channel, enabled in changes],
    )


# --- writing notifications ------------------------------------------------------------------
def insert_notifications(
    db: sqlite_utils.Database, items: Sequence[NewNotification], *, now_ms: int
) -> list[Notification]:
    """Insert notifications with their deliveries, in the caller's transaction.

    Each gets an ``in_app`` delivery (``sent``) when it shows in the list, an
    ``email`` delivery (``pending``, due now, or ``skipped`` with the reason) as
    :attr:`NewNotification.email` says, and one ``push`` delivery (``pending``) per
    subscription.

    Returns:
        The notifications inserted, in the order of *items*.
    """
    created: list[Notification] = []
    for item in items:
        context = json.dumps(item.context, separators=(",", ":"), sort_keys=True)
        cursor = db.execute(
            "INSERT INTO notifications (user_id, kind, title, body, url, context, in_app, "
            "bulk_id, created_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                item.user_id,
                item.kind,
                item.title,
                item.body,
                item.url,
                context,
                int(item.in_app),
                item.bulk_id,
                now_ms,
            ],
        )
        nid = int(cursor.lastrowid or 0)
        rows: list[tuple[Any, ...]] = []
        if item.in_app:
            rows.append((nid, "in_app", None, "sent", None, None, now_ms, now_ms, now_ms))
        if item.email == "pending":
            rows.append((nid, "email", None, "pending", now_ms, None, now_ms, now_ms, None))
        elif item.email is not None:
            reason = item.email.removeprefix("skipped: ")
            rows.append((nid, "email", None, "skipped", None, reason, now_ms, now_ms, None))
        for sub_id in item.push_subscription_ids:
            rows.append((nid, "push", sub_id, "pending", now_ms, None, now_ms, now_ms, None))
        db.conn.executemany(
            "INSERT INTO notification_deliveries (notification_id, channel, subscription_id, "
            "status, next_attempt_at_ms, last_error, created_at_ms, updated_at_ms, sent_at_ms) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
        created.append(
            {
                "id": nid,
                "user_id": item.user_id,
                "kind": item.kind,
                "title": item.title,
                "body": item.body,
                "url": item.url,
                "context": item.context,
                "in_app": item.in_app,
                "created_at_ms": now_ms,
                "read_at_ms": None,
            }
        )
    return created


# --- reading and changing one user's list -----------------------------------------------------
def list_notifications(
    db: sqlite_utils.Database, user_id: str, *, unread_only: bool, offset: int, limit: int
) -> tuple[int, list[Notification]]:
    """One page of a user's in-app notifications, newest first, and their count."""
    where = "user_id = ? AND in_app = 1" + (" AND read_at_ms IS NULL" if unread_only else "")
    (count,) = db.execute(f"SELECT count(*) FROM notifications WHERE {where}", [user_id]).fetchone()
    rows = db.execute(
        f"SELECT {_N_COLUMNS} FROM notifications WHERE {where} ORDER BY id DESC LIMIT ? OFFSET ?",
        [user_id, limit, offset],
    ).fetchall()
    return int(count), [_notification(row) for row in rows]


def unread_count(db: sqlite_utils.Database, user_id: str) -> int:
    """How many of a user's in-app notifications are unread."""
    (count,) = db.execute(
        "SELECT count(*) FROM notifications WHERE user_id = ? AND in_app = 1 "
        "AND read_at_ms IS NULL",
        [user_id],
    ).fetchone()
    return int(count)


def get_notification(db: sqlite_utils.Database, user_id: str, notification_id: int) -> Notification:
    """A user's in-app notification.

    Raises:
        NotFoundError: if it does not exist, is another user's, or was deleted.
    """
    row = db.execute(
        f"SELECT {_N_COLUMNS} FROM notifications WHERE id = ? AND user_id = ? AND in_app = 1",
        [notification_id, user_id],
    ).fetchone()
    if row is None:
        raise NotFoundError(f"no notification {notification_id} for this account")
    return _notification(row)


def mark_read(
    db: sqlite_utils.Database, user_id: str, notification_id: int, *, now_ms: int
) -> Notification:
    """Mark one notification read (its in-app delivery ``opened``); idempotent.

    Raises:
        NotFoundError: as :func:`get_notification`.
    """
    notification = get_notification(db, user_id, notification_id)
    if notification["read_at_ms"] is None:
        _mark_read_where(db, "id = ?", [notification_id], now_ms)
        notification["read_at_ms"] = now_ms
    return notification


def mark_all_read(db: sqlite_utils.Database, user_id: str, *, now_ms: int) -> int:
    """Mark every unread in-app notification of a user read; returns how many."""
    return _mark_read_where(db, "user_id = ?", [user_id], now_ms)


def _mark_read_where(db: sqlite_utils.Database, where: str, params: list[Any], now_ms: int) -> int:
    unread = f"{where} AND in_app = 1 AND read_at_ms IS NULL"
    db.execute(
        "UPDATE notification_deliveries SET status = 'opened', updated_at_ms = ? "
        "WHERE channel = 'in_app' AND status = 'sent' AND notification_id IN "
        f"(SELECT id FROM notifications WHERE {unread})",
        [now_ms, *params],
    )
    cursor = db.execute(
        f"UPDATE notifications SET read_at_ms = ? WHERE {unread}", [now_ms, *params]
    )
    return int(cursor.rowcount)


def delete_notification(db: sqlite_utils.Database, user_id: str, notification_id: int) -> bool:
    """Remove a notification from its user's list; False when there is none to remove.

    The row stays (hidden) while its delivery records are kept for the statistics;
    the retention purge deletes it later.
    """
    cursor = db.execute(
        "UPDATE notifications SET in_app = 0 WHERE id = ? AND user_id = ? AND in_app = 1",
        [notification_id, user_id],
    )
    return bool(cursor.rowcount)


# --- the delivery queue -------------------------------------------------------------------------
def recover_interrupted(db: sqlite_utils.Database, *, now_ms: int) -> int:
    """Mark deliveries left ``sending`` by a stopped process ``failed``; returns how many.

    Called once when the delivery worker starts, before it claims anything. At most
    once is the rule: an email or push message whose sending was cut off may have
    arrived, so it is never sent again.
    """
    cursor = db.execute(
        "UPDATE notification_deliveries SET status = 'failed', last_error = ?, "
        "next_attempt_at_ms = NULL, updated_at_ms = ? WHERE status = 'sending'",
        [INTERRUPTED_ERROR, now_ms],
    )
    return int(cursor.rowcount)


def claim_due(db: sqlite_utils.Database, *, now_ms: int, limit: int) -> list[DueDelivery]:
    """Claim up to *limit* due email and push deliveries: each becomes ``sending``
    with one more attempt counted, in this transaction, so it is claimed once.

    Returns:
        The claimed deliveries, oldest due first.
    """
    rows = db.execute(
        "SELECT d.id, d.channel, d.attempts, d.subscription_id, "
        + ", ".join(f"n.{c}" for c in _N_COLUMNS.split(", "))
        + ", u.email, u.display_name, s.endpoint, s.p256dh, s.auth "
        "FROM notification_deliveries d "
        "JOIN notifications n ON n.id = d.notification_id "
        "JOIN users u ON u.id = n.user_id "
        "LEFT JOIN push_subscriptions s ON s.id = d.subscription_id "
        "WHERE d.status = 'pending' AND d.next_attempt_at_ms <= ? "
        "ORDER BY d.next_attempt_at_ms, d.id LIMIT ?",
        [now_ms, limit],
    ).fetchall()
    claimed: list[DueDelivery] = []
    for row in rows:
        did, channel, attempts, sub_id = row[0:4]
        notification = _notification(row[4:14])
        email, display_name, endpoint, p256dh, auth = row[14:19]
        db.execute(
            "UPDATE notification_deliveries SET status = 'sending', attempts = attempts + 1, "
            "updated_at_ms = ? WHERE id = ?",
            [now_ms, did],
        )
        subscription = None
        if endpoint is not None:
            subscription = {"id": sub_id, "endpoint": endpoint, "p256dh": p256dh, "auth": auth}
        claimed.append(
            {
                "id": did,
                "channel": channel,
                "attempts": attempts + 1,
                "notification": notification,
                "email": email,
                "display_name": display_name,
                "subscription": subscription,
            }
        )
    return claimed


def next_due_at_ms(db: sqlite_utils.Database) -> int | None:
    """When the next pending delivery falls due, or None when none is pending."""
    (due,) = db.execute(
        "SELECT min(next_attempt_at_ms) FROM notification_deliveries WHERE status = 'pending'"
    ).fetchone()
    return None if due is None else int(due)


def record_sent(db: sqlite_utils.Database, delivery_id: int, *, now_ms: int) -> None:
    """A claimed delivery was sent."""
    db.execute(
        "UPDATE notification_deliveries SET status = 'sent', sent_at_ms = ?, updated_at_ms = ?, "
        "next_attempt_at_ms = NULL, last_error = NULL WHERE id = ? AND status = 'sending'",
        [now_ms, now_ms, delivery_id],
    )
    db.execute(
        "UPDATE push_subscriptions SET last_success_at_ms = ? WHERE id = "
        "(SELECT subscription_id FROM notification_deliveries WHERE id = ?)",
        [now_ms, delivery_id],
    )


def record_failure(
    db: sqlite_utils.Database,
    delivery_id: int,
    *,
    error: str,
    now_ms: int,
    retry_at_ms: int | None,
    status: str = "failed",
) -> None:
    """A claimed delivery failed: back to ``pending`` due at *retry_at_ms*, or final
    (*status* ``failed``, or ``skipped`` when there was nothing to send to)."""
    if retry_at_ms is not None:
        status = "pending"
    db.execute(
        "UPDATE notification_deliveries SET status = ?, last_error = ?, next_attempt_at_ms = ?, "
        "updated_at_ms = ? WHERE id = ? AND status = 'sending'",
        [status, error[:2000], retry_at_ms, now_ms, delivery_id],
    )


def delivery_status(db: sqlite_utils.Database, notification_id: int) -> list[dict[str, Any]]:
    """The deliveries of one notification: ``[{"id", "channel", "status", "attempts",
    "last_error", "sent_at_ms", "next_attempt_at_ms"}]`` by id."""
    keys = ("id", "channel", "status", "attempts", "last_error", "sent_at_ms", "next_attempt_at_ms")
    rows = db.execute(
        f"SELECT {', '.join(keys)} FROM notification_deliveries WHERE notification_id = ? "
        "ORDER BY id",
        [notification_id],
    ).fetchall()
    return [dict(zip(keys, row, strict=True)) for row in rows]


def statistics(db: sqlite_utils.Database, *, since_ms: int | None = None) -> dict[str, Any]:
    """Delivery counts per channel and status, and retries waiting.

    Args:
        db: The database.
        since_ms: Count only deliveries created at or after this time; all when None.

    Returns:
        ``{"channels": {channel: {status: count, ..., "retrying": n}}, "notifications": n,
        "push_subscriptions": n}``; every channel and status is present (0 when none);
        ``retrying`` counts ``pending`` deliveries that have failed before.
    """
    since = 0 if since_ms is None else since_ms
    channels: dict[str, dict[str, int]] = {
        c: {**{s: 0 for s in STATUSES}, "retrying": 0} for c in CHANNELS
    }
    for channel, status, retrying, count in db.execute(
        "SELECT channel, status, attempts > 0 AND status = 'pending', count(*) "
        "FROM notification_deliveries WHERE created_at_ms >= ? GROUP BY 1, 2, 3",
        [since],
    ).fetchall():
        channels[channel][status] += count
        if retrying:
            channels[channel]["retrying"] += count
    (notifications,) = db.execute(
        "SELECT count(*) FROM notifications WHERE created_at_ms >= ?", [since]
    ).fetchone()
    (subscriptions,) = db.execute("SELECT count(*) FROM push_subscriptions").fetchone()
    return {
        "channels": channels,
        "notifications": int(notifications),
        "push_subscriptions": int(subscriptions),
    }


def purge_before(db: sqlite_utils.Database, before_ms: int) -> int:
    """Delete notifications made before *before_ms* with no delivery still pending or
    being sent, with their delivery records; returns how many notifications."""
    cursor = db.execute(
        "DELETE FROM notifications WHERE created_at_ms < ? AND NOT EXISTS ("
        "SELECT 1 FROM notification_deliveries d WHERE d.notification_id = notifications.id "
        "AND d.status IN ('pending', 'sending'))",
        [before_ms],
    )
    return int(cursor.rowcount)


# --- Web Push subscriptions -------------------------------------------------------------------
_S_KEYS = ("id", "user_id", "endpoint", "p256dh", "auth", "user_agent", "created_at_ms")


class TooManySubscriptionsError(StoreError):
    """An account already has the most push subscriptions allowed."""


def add_push_subscription(
    db: sqlite_utils.Database,
    *,
    user_id: str,
    endpoint: str,
    p256dh: str,
    auth: str,
    user_agent: str,
    now_ms: int,
    max_per_user: int,
) -> tuple[dict[str, Any], bool]:
    """Store a push subscription for *user_id*; returns it and whether it is new.

    A known endpoint is updated and moved to *user_id* (a browser's subscription
    follows whoever signed in on it last).

    Raises:
        TooManySubscriptionsError: if the account has *max_per_user* subscriptions and
            this endpoint is not one of them.
    """
    existing = db.execute(
        "SELECT id, user_id FROM push_subscriptions WHERE endpoint = ?", [endpoint]
    ).fetchone()
    if existing is None or existing[1] != user_id:
        (count,) = db.execute(
            "SELECT count(*) FROM push_subscriptions WHERE user_id = ?", [user_id]
        ).fetchone()
        if count >= max_per_user:
            raise TooManySubscriptionsError(
                f"expected at most {max_per_user} push subscriptions per account, "
                f"this one has {count}: remove one first"
            )
    if existing is None:
        cursor = db.execute(
            "INSERT INTO push_subscriptions (user_id, endpoint, p256dh, auth, user_agent, "
            "created_at_ms) VALUES (?, ?, ?, ?, ?, ?)",
            [user_id, endpoint, p256dh, auth, user_agent, now_ms],
        )
        sub_id, created = int(cursor.lastrowid or 0), True
    else:
        sub_id, created = int(existing[0]), False
        db.execute(
            "UPDATE push_subscriptions SET user_id = ?, p256dh = ?, auth = ?, user_agent = ? "
            "WHERE id = ?",
            [user_id, p256dh, auth, user_agent, sub_id],
        )
    row = db.execute(
        f"SELECT {', '.join(_S_KEYS)} FROM push_subscriptions WHERE id = ?", [sub_id]
    ).fetchone()
    return dict(zip(_S_KEYS, row, strict=True)), created


def list_push_subscriptions(db: sqlite_utils.Database, user_id: str) -> list[dict[str, Any]]:
    """A user's push subscriptions, oldest first."""
    rows = db.execute(
        f"SELECT {', '.join(_S_KEYS)} FROM push_subscriptions WHERE user_id = ? ORDER BY id",
        [user_id],
    ).fetchall()
    return [dict(zip(_S_KEYS, row, strict=True)) for row in rows]


def push_subscription_ids(
    db: sqlite_utils.Database, user_ids: Sequence[str]
) -> dict[str, list[int]]:
    """Push subscription ids by user, for the users among *user_ids* that have any."""
    found: dict[str, list[int]] = {}
    ids = list(user_ids)
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        marks = ", ".join("?" for _ in chunk)
        for uid, sid in db.execute(
            f"SELECT user_id, id FROM push_subscriptions WHERE user_id IN ({marks}) ORDER BY id",
            chunk,
        ).fetchall():
            found.setdefault(uid, []).append(int(sid))
    return found


def delete_push_subscription(
    db: sqlite_utils.Database,
    user_id: str,
    *,
    subscription_id: int | None = None,
    endpoint: str | None = None,
) -> bool:
    """Delete one of a user's subscriptions, by id or endpoint; False if none matched.

    Pending deliveries to it are marked ``skipped``.
    """
    value: int | str
    if subscription_id is not None:
        where, value = "id = ?", subscription_id
    elif endpoint is not None:
        where, value = "endpoint = ?", endpoint
    else:
        raise ValueError("expected subscription_id or endpoint, got neither")
    row = db.execute(
        f"SELECT id FROM push_subscriptions WHERE {where} AND user_id = ?", [value, user_id]
    ).fetchone()
    if row is None:
        return False
    drop_push_subscription(db, int(row[0]), reason="the subscription was removed")
    return True


def drop_push_subscription(db: sqlite_utils.Database, subscription_id: int, *, reason: str) -> None:
    """Delete a subscription (removed, or expired at the push service) and skip the
    deliveries still waiting for it."""
    db.execute(
        "UPDATE notification_deliveries SET status = 'skipped', last_error = ?, "
        "next_attempt_at_ms = NULL WHERE subscription_id = ? AND status = 'pending'",
        [reason, subscription_id],
    )
    db.execute("DELETE FROM push_subscriptions WHERE id = ?", [subscription_id])


# --- VAPID key ------------------------------------------------------------------------------------
def get_or_create_vapid_key(db: sqlite_utils.Database, new_key: str, *, now_ms: int) -> str:
    """The server's VAPID private key, storing *new_key* if there is none yet.

    Race-free as :func:`data.secrets.get_or_create_secret`: whoever inserts first wins.

    Args:
        db: The writer connection.
        new_key: A freshly generated key (raw P-256 private key, base64url), used only
            when none is stored.
        now_ms: Stored as its creation time.

    Returns:
        The stored key.
    """
    db.execute(
        "INSERT OR IGNORE INTO server_secrets (name, value, created_at_ms) VALUES (?, ?, ?)",
        [VAPID_SECRET_NAME, new_key, now_ms],
    )
    (value,) = db.execute(
        "SELECT value FROM server_secrets WHERE name = ?", [VAPID_SECRET_NAME]
    ).fetchone()
    return str(value)
