"""Migration 0004 (released: never edit this file; change the schema in a new one)."""

from __future__ import annotations

import sqlite_utils


def migrate(db: sqlite_utils.Database) -> None:
    """Create social groups: ``social_groups``, ``group_members``, ``group_bans``,
    ``group_invitations``, ``group_join_requests``, ``group_posts`` and
    ``group_post_reactions``.

    ``social_groups.member_count`` and ``post_count`` and ``group_posts.reaction_counts``
    (a JSON object, emoji to count) are kept by triggers, in the transaction that changes
    their rows (cascades from a deleted account included), so they stay exact. A
    membership's ``role_rank`` (0 owner, 1 admin, 2 moderator, 3 member) orders member
    lists; a partial unique index holds at most one owner per group. The indexes serve
    keyset pagination: members by ``(role_rank, joined_at_ms, user_id)``, a user's groups
    by ``(joined_at_ms, group_id)``, posts by ``id``. Everything cascades from
    ``social_groups`` and ``users``; a post's video link is cleared with its video.
    """
    db.execute(
        """
        CREATE TABLE social_groups (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            name TEXT NOT NULL,
            description TEXT NOT NULL DEFAULT '',
            category TEXT NOT NULL DEFAULT '',
            avatar_url TEXT,
            privacy TEXT NOT NULL CHECK (privacy IN ('public', 'private')),
            max_members INTEGER NOT NULL CHECK (max_members >= 1),
            member_count INTEGER NOT NULL DEFAULT 0 CHECK (member_count >= 0),
            post_count INTEGER NOT NULL DEFAULT 0 CHECK (post_count >= 0),
            created_by TEXT REFERENCES users(id) ON DELETE SET NULL,
            created_at_ms INTEGER NOT NULL,
            updated_at_ms INTEGER NOT NULL
        )
        """
    )
    db.execute("CREATE INDEX idx_social_groups_category ON social_groups (category, id)")
    db.execute(
        """
        CREATE TABLE group_members (
            group_id INTEGER NOT NULL REFERENCES social_groups(id) ON DELETE CASCADE,
            user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            role TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'moderator', 'member')),
            role_rank INTEGER NOT NULL CHECK (role_rank BETWEEN 0 AND 3),
            joined_at_ms INTEGER NOT NULL,
            PRIMARY KEY (group_id, user_id)
        ) WITHOUT ROWID
        """
    )
    db.execute(
        "CREATE INDEX idx_group_members_list "
        "ON group_members (group_id, role_rank, joined_at_ms, user_id)"
    )
    db.execute(
        "CREATE INDEX idx_group_members_user ON group_members (user_id, joined_at_ms, group_id)"
    )
    db.execute(
        "CREATE UNIQUE INDEX idx_group_members_owner ON group_members (group_id) "
        "WHERE role = 'owner'"
    )
    db.execute(
        """
        CREATE TABLE group_bans (
            group_id INTEGER NOT NULL REFERENCES social_groups(id) ON DELETE CASCADE,
            user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            banned_by TEXT REFERENCES users(id) ON DELETE SET NULL,
            reason TEXT NOT NULL DEFAULT '',
            created_at_ms INTEGER NOT NULL,
            PRIMARY KEY (group_id, user_id)
        ) WITHOUT ROWID
        """
    )
    db.execute("CREATE INDEX idx_group_bans_list ON group_bans (group_id, created_at_ms, user_id)")
    db.execute(
        """
        CREATE TABLE group_invitations (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            group_id INTEGER NOT NULL REFERENCES social_groups(id) ON DELETE CASCADE,
            user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            invited_by TEXT REFERENCES users(id) ON DELETE SET NULL,
            message TEXT NOT NULL DEFAULT '',
            status TEXT NOT NULL
                CHECK (status IN ('pending', 'accepted', 'declined', 'expired', 'cancelled')),
            created_at_ms INTEGER NOT NULL,
            expires_at_ms INTEGER NOT NULL,
            responded_at_ms INTEGER
        )
        """
    )
    db.execute(
        "CREATE UNIQUE INDEX idx_group_invitations_pending ON group_invitations "
        "(group_id, user_id) WHERE status = 'pending'"
    )
    db.execute("CREATE INDEX idx_group_invitations_group ON group_invitations (group_id, id)")
    db.execute("CREATE INDEX idx_group_invitations_user ON group_invitations (user_id, id)")
    db.execute(
        """
        CREATE TABLE group_join_requests (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            group_id INTEGER NOT NULL REFERENCES social_groups(id) ON DELETE CASCADE,
            user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            message TEXT NOT NULL DEFAULT '',
            status TEXT NOT NULL
                CHECK (status IN ('pending', 'approved', 'denied', 'cancelled')),
            decided_by TEXT REFERENCES users(id) ON DELETE SET NULL,
            created_at_ms INTEGER NOT NULL,
            decided_at_ms INTEGER
        )
        """
    )
    db.execute(
        "CREATE UNIQUE INDEX idx_group_join_requests_pending ON group_join_requests "
        "(group_id, user_id) WHERE status = 'pending'"
    )
    db.execute("CREATE INDEX idx_group_join_requests_group ON group_join_requests (group_id, id)")
    db.execute(
        """
        CREATE TABLE group_posts (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            group_id INTEGER NOT NULL REFERENCES social_groups(id) ON DELETE CASCADE,
            author_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            content TEXT NOT NULL,
            video_id TEXT REFERENCES videos(id) ON DELETE SET NULL,
            edit_count INTEGER NOT NULL DEFAULT 0 CHECK (edit_count >= 0),
            reaction_counts TEXT NOT NULL DEFAULT '{}',
            created_at_ms INTEGER NOT NULL,
            edited_at_ms INTEGER
        )
        """
    )
    db.execute("CREATE INDEX idx_group_posts_group ON group_posts (group_id, id)")
    db.execute(
        """
        CREATE TABLE group_post_reactions (
            post_id INTEGER NOT NULL REFERENCES group_posts(id) ON DELETE CASCADE,
            emoji TEXT NOT NULL,
            user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            created_at_ms INTEGER NOT NULL,
            PRIMARY KEY (post_id, emoji, user_id)
        ) WITHOUT ROWID
        """
    )
    db.execute(
        "CREATE INDEX idx_group_post_reactions_user ON group_post_reactions (user_id, post_id)"
    )
    db.execute(
        "CREATE TRIGGER group_members_count_insert AFTER INSERT ON group_members BEGIN "
        "UPDATE social_groups SET member_count = member_count + 1 WHERE id = NEW.group_id; END"
    )
    db.execute(
        "CREATE TRIGGER group_members_count_delete AFTER DELETE ON group_members BEGIN "
        "UPDATE social_groups SET member_count = member_count - 1 WHERE id = OLD.group_id; END"
    )
    db.execute(
        "CREATE TRIGGER group_posts_count_insert AFTER INSERT ON group_posts BEGIN "
        "UPDATE social_groups SET post_count = post_count + 1 WHERE id = NEW.group_id; END"
    )
    db.execute(
        "CREATE TRIGGER group_posts_count_delete AFTER DELETE ON group_posts BEGIN "
        "UPDATE social_groups SET post_count = post_count - 1 WHERE id = OLD.group_id; END"
    )
    for event, row in (("INSERT", "NEW"), ("DELETE", "OLD")):
        db.execute(
            f"""
            CREATE TRIGGER group_post_reactions_count_{event.lower()}
            AFTER {event} ON group_post_reactions BEGIN
                UPDATE group_posts SET reaction_counts = (
                    SELECT CASE WHEN n = 0
                        THEN json_remove(reaction_counts, '$."' || {row}.emoji || '"')
                        ELSE json_set(reaction_counts, '$."' || {row}.emoji || '"', n) END
                    FROM (SELECT count(*) AS n FROM group_post_reactions
                          WHERE post_id = {row}.post_id AND emoji = {row}.emoji)
                ) WHERE id = {row}.post_id;
            END
            """
        )
