"""Migration 0008 (released: never edit this file; change the schema in a new one)."""

from __future__ import annotations

import sqlite_utils


def migrate(db: sqlite_utils.Database) -> None:
    """Create the support desk: ``support_tickets`` with their ``support_messages``
    (replies and staff-only internal notes) and ``support_attachments``; the FAQ
    (``faq_categories``, ``faq_entries``, ``faq_votes``); and the feedback board
    (``support_feedback``, ``feedback_votes``).

    Enumerations are CHECK constraints, so no code path can store a status or a
    priority the API does not know. ``faq_entries.answer_html`` is the sanitised
    rendering of ``answer_md``, made when the entry is written. The ``*_count`` columns
    are recomputed from their vote tables inside the transaction that changes them,
    so lists can order by them and concurrent votes never lose one. Attachments are
    small (``support_max_attachment_bytes``) and kept in the database, backed up
    with it. A ticket and everything under it cascades from its requester; an
    assignee or author who is deleted leaves the ticket (``SET NULL``).
    """
    db.execute(
        """
        CREATE TABLE support_tickets (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            requester_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            contact_email TEXT,
            subject TEXT NOT NULL,
            description TEXT NOT NULL,
            category TEXT NOT NULL CHECK (category IN ('general', 'account', 'playback',
                'rooms', 'videos', 'billing', 'bug', 'other')),
            priority TEXT NOT NULL CHECK (priority IN ('low', 'medium', 'high', 'urgent')),
            status TEXT NOT NULL CHECK (status IN ('open', 'in_progress', 'waiting_on_user',
                'resolved', 'closed')),
            assignee_id TEXT REFERENCES users(id) ON DELETE SET NULL,
            reopen_count INTEGER NOT NULL DEFAULT 0,
            created_at_ms INTEGER NOT NULL,
            updated_at_ms INTEGER NOT NULL,
            first_response_at_ms INTEGER,
            resolved_at_ms INTEGER,
            closed_at_ms INTEGER
        )
        """
    )
    db.execute("CREATE INDEX idx_support_tickets_requester ON support_tickets (requester_id, id)")
    db.execute("CREATE INDEX idx_support_tickets_status ON support_tickets (status, id)")
    db.execute("CREATE INDEX idx_support_tickets_assignee ON support_tickets (assignee_id, id)")
    db.execute(
        """
        CREATE TABLE support_messages (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            ticket_id INTEGER NOT NULL REFERENCES support_tickets(id) ON DELETE CASCADE,
            author_id TEXT REFERENCES users(id) ON DELETE SET NULL,
            author_name TEXT NOT NULL,
            from_staff INTEGER NOT NULL CHECK (from_staff IN (0, 1)),
            is_internal INTEGER NOT NULL CHECK (is_internal IN (0, 1)),
            body TEXT NOT NULL,
            created_at_ms INTEGER NOT NULL,
            CHECK (is_internal = 0 OR from_staff = 1)
        )
        """
    )
    db.execute("CREATE INDEX idx_support_messages_ticket ON support_messages (ticket_id, id)")
    db.execute(
        """
        CREATE TABLE support_attachments (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            ticket_id INTEGER NOT NULL REFERENCES support_tickets(id) ON DELETE CASCADE,
            uploader_id TEXT REFERENCES users(id) ON DELETE SET NULL,
            is_internal INTEGER NOT NULL CHECK (is_internal IN (0, 1)),
            file_name TEXT NOT NULL,
            content_type TEXT NOT NULL,
            size_bytes INTEGER NOT NULL CHECK (size_bytes > 0),
            content BLOB NOT NULL,
            created_at_ms INTEGER NOT NULL
        )
        """
    )
    db.execute("CREATE INDEX idx_support_attachments_ticket ON support_attachments (ticket_id, id)")
    db.execute(
        """
        CREATE TABLE faq_categories (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            name TEXT NOT NULL UNIQUE COLLATE NOCASE,
            description TEXT NOT NULL DEFAULT '',
            position INTEGER NOT NULL DEFAULT 0,
            created_at_ms INTEGER NOT NULL
        )
        """
    )
    db.execute(
        """
        CREATE TABLE faq_entries (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            category_id INTEGER NOT NULL REFERENCES faq_categories(id) ON DELETE RESTRICT,
            question TEXT NOT NULL,
            answer_md TEXT NOT NULL,
            answer_html TEXT NOT NULL,
            is_published INTEGER NOT NULL CHECK (is_published IN (0, 1)),
            position INTEGER NOT NULL DEFAULT 0,
            view_count INTEGER NOT NULL DEFAULT 0,
            helpful_count INTEGER NOT NULL DEFAULT 0,
            not_helpful_count INTEGER NOT NULL DEFAULT 0,
            created_at_ms INTEGER NOT NULL,
            updated_at_ms INTEGER NOT NULL
        )
        """
    )
    db.execute("CREATE INDEX idx_faq_entries_category ON faq_entries (category_id, position)")
    db.execute(
        """
        CREATE TABLE faq_votes (
            faq_id INTEGER NOT NULL REFERENCES faq_entries(id) ON DELETE CASCADE,
            user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            is_helpful INTEGER NOT NULL CHECK (is_helpful IN (0, 1)),
            created_at_ms INTEGER NOT NULL,
            PRIMARY KEY (faq_id, user_id)
        )
        """
    )
    db.execute("CREATE INDEX idx_faq_votes_user ON faq_votes (user_id)")
    db.execute(
        """
        CREATE TABLE support_feedback (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            kind TEXT NOT NULL CHECK (kind IN ('bug', 'feature', 'general')),
            title TEXT NOT NULL,
            description TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('new', 'planned', 'in_progress', 'done',
                'declined')),
            staff_response TEXT NOT NULL DEFAULT '',
            vote_count INTEGER NOT NULL DEFAULT 0,
            created_at_ms INTEGER NOT NULL,
            updated_at_ms INTEGER NOT NULL
        )
        """
    )
    db.execute("CREATE INDEX idx_support_feedback_votes ON support_feedback (vote_count, id)")
    db.execute("CREATE INDEX idx_support_feedback_user ON support_feedback (user_id)")
    db.execute(
        """
        CREATE TABLE feedback_votes (
            feedback_id INTEGER NOT NULL REFERENCES support_feedback(id) ON DELETE CASCADE,
            user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            created_at_ms INTEGER NOT NULL,
            PRIMARY KEY (feedback_id, user_id)
        )
        """
    )
    db.execute("CREATE INDEX idx_feedback_votes_user ON feedback_votes (user_id)")
