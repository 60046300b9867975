"""Migration 0003 (released: never edit this file; change the schema in a new one)."""

from __future__ import annotations

import sqlite_utils


def migrate(db: sqlite_utils.Database) -> None:
    """Create the video library: ``videos``, ``video_likes``, ``video_comments``,
    ``video_comment_likes`` and ``video_downloads``, and add ``users.is_premium``.

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
