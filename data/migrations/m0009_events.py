"""Migration 0009 (released: never edit this file; change the schema in a new one)."""

from __future__ import annotations

import sqlite_utils


def migrate(db: sqlite_utils.Database) -> None:
    """Create events: ``events`` (with the full-text index ``events_fts`` and the tag
    index ``event_tags``), ``event_banners``, ``event_attendees``,
    ``event_invitations``, ``event_reminders`` and ``event_feed_tokens``.

    ``events.id`` is random (32 hex digits), so a private event's id cannot be guessed.
    An event lasts at most 7 days (a CHECK), so "not ended yet" bounds the start too.
    ``attending_count`` is recomputed inside the transaction that changes an attendee,
    which is also where ``max_attendees`` is checked: concurrent joins never overfill.
    ``sequence`` is the iCalendar SEQUENCE (RFC 5545 section 3.8.7.4), raised by every
    change a calendar must see. ``starting_sent_at_ms`` marks the one "starting now"
    notice. A reminder is ``scheduled`` until the scheduler records it ``sent``,
    ``failed`` or ``skipped`` in the same transaction that hands it on, so it is never
    sent twice.
    """
    db.execute(
        """
        CREATE TABLE events (
            id TEXT PRIMARY KEY,
            organizer_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            title TEXT NOT NULL,
            description TEXT NOT NULL DEFAULT '',
            starts_at_ms INTEGER NOT NULL,
            ends_at_ms INTEGER NOT NULL
                CHECK (ends_at_ms > starts_at_ms AND ends_at_ms - starts_at_ms <= 604800000),
            timezone TEXT NOT NULL,
            location TEXT NOT NULL DEFAULT '',
            is_virtual INTEGER NOT NULL DEFAULT 1 CHECK (is_virtual IN (0, 1)),
            category TEXT NOT NULL DEFAULT '',
            tags TEXT NOT NULL DEFAULT '[]',
            privacy TEXT NOT NULL CHECK (privacy IN ('public', 'private', 'friends_only')),
            max_attendees INTEGER CHECK (max_attendees IS NULL OR max_attendees >= 1),
            require_approval INTEGER NOT NULL DEFAULT 0 CHECK (require_approval IN (0, 1)),
            room_code TEXT,
            banner_type TEXT,
            cancelled_at_ms INTEGER,
            sequence INTEGER NOT NULL DEFAULT 0,
            attending_count INTEGER NOT NULL DEFAULT 0,
            starting_sent_at_ms INTEGER,
            created_at_ms INTEGER NOT NULL,
            updated_at_ms INTEGER NOT NULL
        )
        """
    )
    # Lists filter on the start (an event lasts at most 7 days, so "not ended" is also a
    # start range) and on what decides visibility: covering indexes count without
    # reading the rows.
    db.execute(
        "CREATE INDEX idx_events_start ON events "
        "(starts_at_ms, ends_at_ms, privacy, cancelled_at_ms, organizer_id, is_virtual, id)"
    )
    db.execute(
        "CREATE INDEX idx_events_category ON events "
        "(category, starts_at_ms, ends_at_ms, privacy, cancelled_at_ms, organizer_id, id)"
    )
    db.execute("CREATE INDEX idx_events_organizer ON events (organizer_id, starts_at_ms)")
    db.execute(
        "CREATE INDEX idx_events_room ON events (room_code, starts_at_ms) "
        "WHERE room_code IS NOT NULL"
    )
    db.execute(
        "CREATE VIRTUAL TABLE events_fts USING fts5("
        "title, description, tags, content='events', content_rowid='rowid')"
    )
    db.execute(
        """
        CREATE TRIGGER events_fts_insert AFTER INSERT ON events BEGIN
            INSERT INTO events_fts (rowid, title, description, tags)
            VALUES (new.rowid, new.title, new.description, new.tags);
        END
        """
    )
    db.execute(
        """
        CREATE TRIGGER events_fts_delete AFTER DELETE ON events BEGIN
            INSERT INTO events_fts (events_fts, rowid, title, description, tags)
            VALUES ('delete', old.rowid, old.title, old.description, old.tags);
        END
        """
    )
    db.execute(
        """
        CREATE TRIGGER events_fts_update AFTER UPDATE OF title, description, tags ON events
        BEGIN
            INSERT INTO events_fts (events_fts, rowid, title, description, tags)
            VALUES ('delete', old.rowid, old.title, old.description, old.tags);
            INSERT INTO events_fts (rowid, title, description, tags)
            VALUES (new.rowid, new.title, new.description, new.tags);
        END
        """
    )
    db.execute(
        """
        CREATE TABLE event_tags (
            tag TEXT NOT NULL,
            event_id TEXT NOT NULL REFERENCES events(id) ON DELETE CASCADE,
            PRIMARY KEY (tag, event_id)
        ) WITHOUT ROWID
        """
    )
    db.execute("CREATE INDEX idx_event_tags_event ON event_tags (event_id)")
    db.execute(
        """
        CREATE TABLE event_banners (
            event_id TEXT PRIMARY KEY REFERENCES events(id) ON DELETE CASCADE,
            content_type TEXT NOT NULL,
            data BLOB NOT NULL,
            updated_at_ms INTEGER NOT NULL
        )
        """
    )
    db.execute(
        """
        CREATE TABLE event_attendees (
            event_id TEXT NOT NULL REFERENCES events(id) ON DELETE CASCADE,
            user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            status TEXT NOT NULL
                CHECK (status IN ('attending', 'maybe', 'not_attending', 'pending', 'denied')),
            wanted TEXT NOT NULL CHECK (wanted IN ('attending', 'maybe')),
            created_at_ms INTEGER NOT NULL,
            updated_at_ms INTEGER NOT NULL,
            PRIMARY KEY (event_id, user_id)
        )
        """
    )
    db.execute("CREATE INDEX idx_event_attendees_user ON event_attendees (user_id, status)")
    db.execute(
        "CREATE INDEX idx_event_attendees_status "
        "ON event_attendees (event_id, status, created_at_ms)"
    )
    db.execute(
        """
        CREATE TABLE event_invitations (
            id INTEGER PRIMARY KEY,
            event_id TEXT NOT NULL REFERENCES events(id) ON DELETE CASCADE,
            invitee_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            inviter_id TEXT REFERENCES users(id) ON DELETE SET NULL,
            status TEXT NOT NULL CHECK (status IN ('pending', 'accepted', 'declined')),
            created_at_ms INTEGER NOT NULL,
            expires_at_ms INTEGER NOT NULL,
            responded_at_ms INTEGER,
            UNIQUE (event_id, invitee_id)
        )
        """
    )
    db.execute("CREATE INDEX idx_event_invitations_invitee ON event_invitations (invitee_id)")
    db.execute(
        """
        CREATE TABLE event_reminders (
            id INTEGER PRIMARY KEY,
            event_id TEXT NOT NULL REFERENCES events(id) ON DELETE CASCADE,
            user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            minutes_before INTEGER NOT NULL CHECK (minutes_before BETWEEN 0 AND 40320),
            channel TEXT NOT NULL CHECK (channel IN ('in_app', 'email')),
            due_at_ms INTEGER NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('scheduled', 'sent', 'failed', 'skipped')),
            outcome TEXT,
            notification_id INTEGER,
            handled_at_ms INTEGER,
            created_at_ms INTEGER NOT NULL,
            UNIQUE (event_id, user_id, minutes_before, channel)
        )
        """
    )
    db.execute("CREATE INDEX idx_event_reminders_due ON event_reminders (status, due_at_ms)")
    db.execute("CREATE INDEX idx_event_reminders_user ON event_reminders (user_id)")
    db.execute(
        """
        CREATE TABLE event_feed_tokens (
            user_id TEXT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
            token TEXT NOT NULL UNIQUE,
            created_at_ms INTEGER NOT NULL
        )
        """
    )
