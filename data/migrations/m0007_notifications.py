"""Migration 0007 (released: never edit this file; change the schema in a new one)."""

from __future__ import annotations

import sqlite_utils


def migrate(db: sqlite_utils.Database) -> None:
    """Create ``notifications``, ``notification_deliveries``,
    ``notification_preferences`` and ``push_subscriptions`` (the notification service,
    ``admin_app/notifications``).

    Self-contained: it depends only on ``users`` (m0002).

    ``notifications.in_app`` says whether the row shows in the user's list (it may
    exist only to carry an email or push delivery, or have been deleted by its user
    while deliveries are still recorded). A delivery is one attempt chain on one
    channel: ``pending`` (due at ``next_attempt_at_ms``, also after a failed attempt
    that will be retried), ``sending`` (claimed by the delivery worker), ``sent``,
    ``failed`` (final, ``last_error`` says why), ``skipped`` (nothing to send to) or
    ``opened`` (an in-app notification that was read). Preferences hold only the
    choices a user changed from the kind's defaults. A push subscription (RFC 8030
    with RFC 8291 keys) belongs to one account; its endpoint is unique.
    """
    db.execute(
        """
        CREATE TABLE notifications (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            kind TEXT NOT NULL,
            title TEXT NOT NULL,
            body TEXT NOT NULL,
            url TEXT,
            context TEXT NOT NULL,
            in_app INTEGER NOT NULL CHECK (in_app IN (0, 1)),
            bulk_id TEXT,
            created_at_ms INTEGER NOT NULL,
            read_at_ms INTEGER
        )
        """
    )
    db.execute("CREATE INDEX idx_notifications_user_id ON notifications (user_id, in_app, id)")
    db.execute(
        "CREATE INDEX idx_notifications_unread ON notifications (user_id) "
        "WHERE in_app = 1 AND read_at_ms IS NULL"
    )
    db.execute("CREATE INDEX idx_notifications_created_at_ms ON notifications (created_at_ms)")
    db.execute(
        """
        CREATE TABLE push_subscriptions (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            endpoint TEXT NOT NULL UNIQUE,
            p256dh TEXT NOT NULL,
            auth TEXT NOT NULL,
            user_agent TEXT NOT NULL DEFAULT '',
            created_at_ms INTEGER NOT NULL,
            last_success_at_ms INTEGER
        )
        """
    )
    db.execute("CREATE INDEX idx_push_subscriptions_user_id ON push_subscriptions (user_id)")
    db.execute(
        """
        CREATE TABLE notification_deliveries (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            notification_id INTEGER NOT NULL REFERENCES notifications(id) ON DELETE CASCADE,
            channel TEXT NOT NULL CHECK (channel IN ('in_app', 'email', 'push')),
            subscription_id INTEGER REFERENCES push_subscriptions(id) ON DELETE SET NULL,
            status TEXT NOT NULL CHECK (
                status IN ('pending', 'sending', 'sent', 'failed', 'skipped', 'opened')
            ),
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at_ms INTEGER,
            last_error TEXT,
            created_at_ms INTEGER NOT NULL,
            updated_at_ms INTEGER NOT NULL,
            sent_at_ms INTEGER
        )
        """
    )
    db.execute(
        "CREATE INDEX idx_notification_deliveries_due ON notification_deliveries "
        "(next_attempt_at_ms) WHERE status = 'pending'"
    )
    db.execute(
        "CREATE INDEX idx_notification_deliveries_notification_id "
        "ON notification_deliveries (notification_id)"
    )
    db.execute(
        "CREATE INDEX idx_notification_deliveries_subscription_id "
        "ON notification_deliveries (subscription_id)"
    )
    db.execute(
        "CREATE INDEX idx_notification_deliveries_channel_status "
        "ON notification_deliveries (channel, status)"
    )
    db.execute(
        """
        CREATE TABLE notification_preferences (
            user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            kind TEXT NOT NULL,
            channel TEXT NOT NULL CHECK (channel IN ('in_app', 'email', 'push')),
            enabled INTEGER NOT NULL CHECK (enabled IN (0, 1)),
            PRIMARY KEY (user_id, kind, channel)
        )
        """
    )
