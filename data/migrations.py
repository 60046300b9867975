"""The watchparty schema as numbered sqlite-utils migrations.

Each migration is a function ``m<NNNN>_<what>(db)`` registered on :data:`migrations`.
A released migration is never edited: a schema change is a new function with the
next number. sqlite-utils records every applied migration in ``_sqlite_migrations``
(columns ``migration_set``, ``name``, ``applied_at``) and runs each pending one in
its own transaction together with that record, so a failing migration leaves no
trace and stays pending.

Time columns are integers in milliseconds since the Unix epoch (``*_ms``).
"""

from __future__ import annotations

import logging

import sqlite_utils
from sqlite_utils.migrations import Migrations

from .errors import StoreError

logger = logging.getLogger(__name__)

MIGRATION_SET = "watchparty"

migrations = Migrations(MIGRATION_SET)


@migrations()
def m0001_initial(db: sqlite_utils.Database) -> None:
    """Create ``rooms``, ``chat_messages`` and ``server_secrets``.

    Plain SQL rather than ``table.create`` because ``AUTOINCREMENT`` and
    ``ON DELETE CASCADE`` have no sqlite-utils spelling. ``AUTOINCREMENT`` keeps
    message ids from being reused after the newest message of a room is deleted
    with its room, so a client's ``before_id`` cursor never points at a stranger's
    message.
    """
    db.execute(
        """
        CREATE TABLE rooms (
            code TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            settings TEXT NOT NULL,
            state TEXT NOT NULL,
            last_seq INTEGER NOT NULL DEFAULT 0,
            created_at_ms INTEGER NOT NULL,
            updated_at_ms INTEGER NOT NULL
        )
        """
    )
    db.execute(
        """
        CREATE TABLE chat_messages (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            room_code TEXT NOT NULL REFERENCES rooms(code) ON DELETE CASCADE,
            participant_id TEXT NOT NULL,
            user_id TEXT,
            display_name TEXT NOT NULL,
            text TEXT NOT NULL,
            created_at_ms INTEGER NOT NULL,
            edited_at_ms INTEGER,
            deleted_at_ms INTEGER,
            deleted_by TEXT
        )
        """
    )
    # Serves the per-room history queries (newest first, keyset on id) and the
    # cascade from rooms, which would otherwise scan the whole table per room.
    db.execute("CREATE INDEX idx_chat_messages_room_code_id ON chat_messages (room_code, id)")
    db.execute(
        """
        CREATE TABLE server_secrets (
            name TEXT PRIMARY KEY,
            value TEXT NOT NULL,
            created_at_ms INTEGER NOT NULL
        )
        """
    )


@migrations()
def m0002_accounts_and_access(db: sqlite_utils.Database) -> None:
    """Create ``users``, ``revoked_tokens``, ``refresh_tokens``, ``room_access`` and
    ``room_members`` (accounts and room entry rules of the web app, seeds/004).

    ``users.email`` is ``COLLATE NOCASE`` so that uniqueness and look-ups ignore
    ASCII case; guests have no email (NULL, which UNIQUE does not compare). Token
    tables hold expiry as Unix seconds (``*_s``), the unit of JWT ``exp``, so rows
    can be purged once the token they name could no longer be accepted anyway.
    ``room_access`` and ``room_members`` cascade from ``rooms``: deleting a room
    deletes its entry rules and memberships with it.
    """
    db.execute(
        """
        CREATE TABLE users (
            id TEXT PRIMARY KEY,
            email TEXT UNIQUE COLLATE NOCASE,
            password_hash TEXT,
            display_name TEXT NOT NULL,
            role TEXT NOT NULL CHECK (role IN ('user', 'staff', 'admin')),
            is_guest INTEGER NOT NULL CHECK (is_guest IN (0, 1)),
            is_active INTEGER NOT NULL DEFAULT 1 CHECK (is_active IN (0, 1)),
            created_at_ms INTEGER NOT NULL,
            last_login_ms INTEGER
        )
        """
    )
    db.execute(
        """
        CREATE TABLE revoked_tokens (
            jti TEXT PRIMARY KEY,
            expires_at_s INTEGER NOT NULL
        )
        """
    )
    db.execute("CREATE INDEX idx_revoked_tokens_expires_at_s ON revoked_tokens (expires_at_s)")
    db.execute(
        """
        CREATE TABLE refresh_tokens (
            jti TEXT PRIMARY KEY,
            user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            expires_at_s INTEGER NOT NULL,
            revoked INTEGER NOT NULL DEFAULT 0 CHECK (revoked IN (0, 1))
        )
        """
    )
    # Logout revokes every refresh token of a user; the cascade from users needs it too.
    db.execute("CREATE INDEX idx_refresh_tokens_user_id ON refresh_tokens (user_id)")
    db.execute(
        """
        CREATE TABLE room_access (
            room_code TEXT PRIMARY KEY REFERENCES rooms(code) ON DELETE CASCADE,
            visibility TEXT NOT NULL CHECK (visibility IN ('public', 'private')),
            entry_mode TEXT NOT NULL CHECK (entry_mode IN ('open', 'password', 'approval')),
            password_hash TEXT,
            owner_user_id TEXT,
            CHECK (entry_mode != 'password' OR password_hash IS NOT NULL)
        )
        """
    )
    db.execute(
        """
        CREATE TABLE room_members (
            room_code TEXT NOT NULL REFERENCES rooms(code) ON DELETE CASCADE,
            user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            status TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'denied')),
            requested_at_ms INTEGER NOT NULL,
            decided_at_ms INTEGER,
            PRIMARY KEY (room_code, user_id)
        )
        """
    )
    db.execute("CREATE INDEX idx_room_members_user_id ON room_members (user_id)")


@migrations()
def m0003_videos(db: sqlite_utils.Database) -> None:
    """Create the video library (seeds/000 tasks 1-3, seeds/001 items 1-3): ``videos``,
    ``video_likes``, ``video_comments``, ``video_comment_likes`` and
    ``video_downloads``, and add ``users.is_premium``.

    ``videos.id`` is random (32 hex digits): an unlisted video is reached by whoever
    has its link, so its id must not be guessable. ``file_name`` is generated from the
    id, never from the uploaded name. The ``*_count`` columns are recomputed from
    their tables inside the transaction that changes them, so lists can order by
    them without a join. Everything cascades from ``videos`` and ``users``; a
    download row outlives its account as an anonymous one (``SET NULL``).
    """
    db.execute(
        "ALTER TABLE users ADD COLUMN is_premium INTEGER NOT NULL DEFAULT 0 "
        "CHECK (is_premium IN (0, 1))"
    )
    db.execute(
        """
        CREATE TABLE videos (
            id TEXT PRIMARY KEY,
            owner_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            title TEXT NOT NULL,
            description TEXT NOT NULL DEFAULT '',
            visibility TEXT NOT NULL CHECK (visibility IN ('public', 'unlisted', 'private')),
            allow_download INTEGER NOT NULL DEFAULT 0 CHECK (allow_download IN (0, 1)),
            is_premium INTEGER NOT NULL DEFAULT 0 CHECK (is_premium IN (0, 1)),
            file_name TEXT NOT NULL UNIQUE,
            original_filename TEXT NOT NULL DEFAULT '',
            content_type TEXT NOT NULL,
            size_bytes INTEGER NOT NULL CHECK (size_bytes >= 0),
            duration_s REAL,
            view_count INTEGER NOT NULL DEFAULT 0,
            like_count INTEGER NOT NULL DEFAULT 0,
            dislike_count INTEGER NOT NULL DEFAULT 0,
            comment_count INTEGER NOT NULL DEFAULT 0,
            download_count INTEGER NOT NULL DEFAULT 0,
            created_at_ms INTEGER NOT NULL,
            updated_at_ms INTEGER NOT NULL
        )
        """
    )
    db.execute("CREATE INDEX idx_videos_owner_id ON videos (owner_id, created_at_ms)")
    db.execute("CREATE INDEX idx_videos_visibility ON videos (visibility, created_at_ms)")
    db.execute(
        """
        CREATE TABLE video_likes (
            video_id TEXT NOT NULL REFERENCES videos(id) ON DELETE CASCADE,
            user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            is_like INTEGER NOT NULL CHECK (is_like IN (0, 1)),
            created_at_ms INTEGER NOT NULL,
            PRIMARY KEY (video_id, user_id)
        )
        """
    )
    db.execute("CREATE INDEX idx_video_likes_user_id ON video_likes (user_id)")
    db.execute(
        """
        CREATE TABLE video_comments (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            video_id TEXT NOT NULL REFERENCES videos(id) ON DELETE CASCADE,
            user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            parent_id INTEGER REFERENCES video_comments(id) ON DELETE CASCADE,
            content TEXT NOT NULL,
            is_edited INTEGER NOT NULL DEFAULT 0 CHECK (is_edited IN (0, 1)),
            like_count INTEGER NOT NULL DEFAULT 0,
            created_at_ms INTEGER NOT NULL,
            updated_at_ms INTEGER NOT NULL
        )
        """
    )
    db.execute(
        "CREATE INDEX idx_video_comments_video_id ON video_comments (video_id, parent_id, id)"
    )
    db.execute("CREATE INDEX idx_video_comments_parent_id ON video_comments (parent_id, id)")
    db.execute("CREATE INDEX idx_video_comments_user_id ON video_comments (user_id)")
    db.execute(
        """
        CREATE TABLE video_comment_likes (
            comment_id INTEGER NOT NULL REFERENCES video_comments(id) ON DELETE CASCADE,
            user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            created_at_ms INTEGER NOT NULL,
            PRIMARY KEY (comment_id, user_id)
        )
        """
    )
    db.execute("CREATE INDEX idx_video_comment_likes_user_id ON video_comment_likes (user_id)")
    db.execute(
        """
        CREATE TABLE video_downloads (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            video_id TEXT NOT NULL REFERENCES videos(id) ON DELETE CASCADE,
            user_id TEXT REFERENCES users(id) ON DELETE SET NULL,
            created_at_ms INTEGER NOT NULL
        )
        """
    )
    db.execute(
        "CREATE INDEX idx_video_downloads_video_id ON video_downloads (video_id, created_at_ms)"
    )
    db.execute("CREATE INDEX idx_video_downloads_user_id ON video_downloads (user_id)")


@migrations()
def m0004_notifications(db: sqlite_utils.Database) -> None:
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


def migration_names() -> list[str]:
    """Return the names of the registered migrations, in the order they apply."""
    # sqlite-utils 4 offers no public list of registered migrations.
    return [migration.name for migration in migrations._migrations]


def apply_migrations(db: sqlite_utils.Database) -> list[str]:
    """Apply every pending migration of the ``watchparty`` set.

    Args:
        db: The writer connection, with no transaction open.

    Returns:
        The names of the migrations applied by this call, in order; empty when the
        schema was already current.

    Raises:
        StoreError: if the database records a ``watchparty`` migration this code does
            not know, meaning a newer watchparty migrated it. Nothing is applied then,
            since running old code on a newer schema could corrupt it.

    Error handling:
        Everything runs in one ``BEGIN IMMEDIATE`` transaction, so concurrent openers
        (two processes on a new database) apply the migrations once. A migration that
        raises rolls back the whole call, records included, and its exception
        propagates.
    """
    # One write transaction around the check and every migration: a second process
    # opening the same new database waits for the lock (busy_timeout) and then finds
    # nothing pending, instead of both creating the same tables. sqlite-utils turns
    # each migration's own transaction into a savepoint inside this one.
    db.execute("BEGIN IMMEDIATE")
    try:
        known = migration_names()
        unknown = [m.name for m in migrations.applied(db) if m.name not in known]
        if unknown:
            raise StoreError(
                f"expected only known migrations {known} in {MIGRATION_SET!r}, "
                f"got unknown {unknown}: this database was migrated by a newer watchparty"
            )
        pending = [m.name for m in migrations.pending(db)]
        migrations.apply(db)
    except BaseException:
        if db.conn.in_transaction:
            db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
    for name in pending:
        logger.info("applied migration %s", name)
    return pending
