"""Comments on videos, with one level of replies and likes (as in
Watch Party).

Threads are two levels deep: a comment on a video, and replies to it. A reply to a
reply joins the same thread: it is stored as a reply to the thread's first comment
(:func:`create_comment` resolves the parent), so clients never have to draw deeper
trees. Deleting a comment deletes its replies (the foreign key cascades).

Every function takes a ``sqlite_utils.Database`` first and is meant to run inside
``Database.write`` or ``Database.read``. Times are milliseconds since the Unix epoch.
``videos.comment_count`` and ``video_comments.like_count`` are recomputed in the
transaction that changes them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any, TypedDict

import sqlite_utils

from .errors import NotFoundError

logger = logging.getLogger(__name__)

_COLUMNS = (
    "id, video_id, user_id, parent_id, content, is_edited, like_count, created_at_ms, updated_at_ms"
)
_KEYS = tuple(_COLUMNS.split(", "))
_SELECT = (
    f"SELECT {', '.join('c.' + k for k in _KEYS)}, u.display_name "
    "FROM video_comments AS c JOIN users AS u ON u.id = c.user_id"
)


class Comment(TypedDict):
    """A comment as the query functions return it.

    Attributes:
        id: Increasing integer.
        video_id: The video it is on.
        user_id: Its author.
        user_name: The author's display name.
        parent_id: The thread's first comment for a reply, else None.
        content: The text.
        is_edited: Whether its author changed it after posting.
        like_count: Likes.
        created_at_ms: When it was posted.
        updated_at_ms: When it was last changed.
        replies: For a thread's first comment returned by :func:`list_threads` or
            :func:`get_thread`, its replies oldest first; else empty.
    """

    id: int
    video_id: str
    user_id: str
    user_name: str
    parent_id: int | None
    content: str
    is_edited: bool
    like_count: int
    created_at_ms: int
    updated_at_ms: int
    replies: list[Comment]


def create_comment(
    db: sqlite_utils.Database,
    *,
    video_id: str,
    user_id: str,
    content: str,
    parent_id: int | None,
    now_ms: int,
) -> Comment:
    """Post a comment on a video, or a reply in a thread.

    Args:
        db: The writer connection.
        video_id: The video.
        user_id: The author.
        content: The text (checked by the caller).
        parent_id: The comment replied to, or None for a new thread. A reply to a
            reply is stored as a reply to that thread's first comment.
        now_ms: Time of posting.

    Raises:
        NotFoundError: if the video does not exist, or *parent_id* names no comment
            on this video. Nothing was written then.
    """
    if db.execute("SELECT 1 FROM videos WHERE id = ?", [video_id]).fetchone() is None:
        raise NotFoundError(f"expected a video with id {video_id!r}, got none")
    if parent_id is not None:
        row = db.execute(
            "SELECT parent_id FROM video_comments WHERE id = ? AND video_id = ?",
            [parent_id, video_id],
        ).fetchone()
        if row is None:
            raise NotFoundError(
                f"expected a comment with id {parent_id} on video {video_id!r} to reply to, "
                "got none"
            )
        if row[0] is not None:
            parent_id = int(row[0])
    cursor = db.execute(
        "INSERT INTO video_comments (video_id, user_id, parent_id, content, is_edited, "
        "like_count, created_at_ms, updated_at_ms) VALUES (?, ?, ?, ?, 0, 0, ?, ?)",
        [video_id, user_id, parent_id, content, now_ms, now_ms],
    )
    _recount(db, video_id)
    comment = find_comment(db, int(cursor.lastrowid or 0))
    assert comment is not None
    return comment


def find_comment(db: sqlite_utils.Database, comment_id: int) -> Comment | None:
    """Return one comment (without its replies), or None when there is none."""
    row = db.execute(f"{_SELECT} WHERE c.id = ?", [comment_id]).fetchone()
    return None if row is None else _comment(row)


def get_thread(db: sqlite_utils.Database, comment_id: int) -> Comment | None:
    """Return one comment with its replies (a reply has none), or None."""
    comment = find_comment(db, comment_id)
    if comment is not None and comment["parent_id"] is None:
        comment["replies"] = _replies(db, [comment_id]).get(comment_id, [])
    return comment


def list_threads(
    db: sqlite_utils.Database,
    *,
    video_id: str | None,
    viewer_id: str | None,
    viewer_is_staff: bool,
    offset: int,
    limit: int,
) -> tuple[int, list[Comment]]:
    """Return one page of threads, newest first, each with all its replies.

    Args:
        db: Either connection.
        video_id: The video whose threads to list (the caller checked that the
            viewer may see it); None for threads on every video the viewer may list
            (public videos and its own; staff: all).
        viewer_id: The listing account, or None.
        viewer_is_staff: Whether the viewer is staff or admin.
        offset: Threads to skip.
        limit: Threads to return at most.

    Returns:
        ``(count of all such threads, the page)``.

    Raises:
        ValueError: for a negative *offset* or *limit*.
    """
    if offset < 0 or limit < 0:
        raise ValueError(f"expected offset and limit of 0 or more, got {offset} and {limit}")
    where = ["c.parent_id IS NULL"]
    params: list[Any] = []
    join = ""
    if video_id is not None:
        where.append("c.video_id = ?")
        params.append(video_id)
    elif not viewer_is_staff:
        join = " JOIN videos AS v ON v.id = c.video_id"
        where.append("(v.visibility = 'public' OR v.owner_id = ?)")
        params.append(viewer_id)
    clause = " WHERE " + " AND ".join(where)
    (count,) = db.execute(
        f"SELECT count(*) FROM video_comments AS c{join}{clause}", params
    ).fetchone()
    rows = db.execute(
        f"{_SELECT}{join}{clause} ORDER BY c.id DESC LIMIT ? OFFSET ?", [*params, limit, offset]
    ).fetchall()
    threads = [_comment(row) for row in rows]
    replies = _replies(db, [t["id"] for t in threads])
    for thread in threads:
        thread["replies"] = replies.get(thread["id"], [])
    return int(count), threads


def update_comment(
    db: sqlite_utils.Database, comment_id: int, content: str, now_ms: int
) -> Comment:
    """Replace a comment's text; it is marked edited when the text changed.

    Returns:
        The comment with its replies.

    Raises:
        NotFoundError: if no comment has *comment_id*.
    """
    db.execute(
        "UPDATE video_comments SET is_edited = CASE WHEN content = ? THEN is_edited ELSE 1 END, "
        "updated_at_ms = CASE WHEN content = ? THEN updated_at_ms ELSE ? END, content = ? "
        "WHERE id = ?",
        [content, content, now_ms, content, comment_id],
    )
    comment = get_thread(db, comment_id)
    if comment is None:
        raise NotFoundError(f"expected a comment with id {comment_id}, got none")
    return comment


def delete_comment(db: sqlite_utils.Database, comment_id: int) -> bool:
    """Delete a comment and its replies; return whether it existed."""
    row = db.execute("SELECT video_id FROM video_comments WHERE id = ?", [comment_id]).fetchone()
    if row is None:
        return False
    db.execute("DELETE FROM video_comments WHERE id = ?", [comment_id])
    _recount(db, str(row[0]))
    return True


def toggle_comment_like(
    db: sqlite_utils.Database, comment_id: int, user_id: str, now_ms: int
) -> tuple[bool, int]:
    """Like a comment, or take the like back when *user_id* liked it already.

    Returns:
        ``(whether the account likes it now, the comment's like count)``.

    Raises:
        NotFoundError: if no comment has *comment_id*. Nothing was written then.
    """
    if db.execute("SELECT 1 FROM video_comments WHERE id = ?", [comment_id]).fetchone() is None:
        raise NotFoundError(f"expected a comment with id {comment_id}, got none")
    removed = db.execute(
        "DELETE FROM video_comment_likes WHERE comment_id = ? AND user_id = ?",
        [comment_id, user_id],
    ).rowcount
    if not removed:
        db.execute(
            "INSERT INTO video_comment_likes (comment_id, user_id, created_at_ms) VALUES (?, ?, ?)",
            [comment_id, user_id, now_ms],
        )
    (count,) = db.execute(
        "SELECT count(*) FROM video_comment_likes WHERE comment_id = ?", [comment_id]
    ).fetchone()
    db.execute("UPDATE video_comments SET like_count = ? WHERE id = ?", [count, comment_id])
    return not removed, int(count)


def liked_by(
    db: sqlite_utils.Database, comment_ids: Iterable[int], user_id: str | None
) -> set[int]:
    """Return those of *comment_ids* that *user_id* likes."""
    ids = list(dict.fromkeys(comment_ids))
    if user_id is None or not ids:
        return set()
    found: set[int] = set()
    for start in range(0, len(ids), 500):
        batch = ids[start : start + 500]
        marks = ", ".join("?" * len(batch))
        rows = db.execute(
            f"SELECT comment_id FROM video_comment_likes WHERE user_id = ? "
            f"AND comment_id IN ({marks})",
            [user_id, *batch],
        ).fetchall()
        found.update(int(r[0]) for r in rows)
    return found


def _replies(db: sqlite_utils.Database, thread_ids: list[int]) -> dict[int, list[Comment]]:
    found: dict[int, list[Comment]] = {}
    for start in range(0, len(thread_ids), 500):
        batch = thread_ids[start : start + 500]
        marks = ", ".join("?" * len(batch))
        rows = db.execute(
            f"{_SELECT} WHERE c.parent_id IN ({marks}) ORDER BY c.id", batch
        ).fetchall()
        for row in rows:
            reply = _comment(row)
            found.setdefault(int(reply["parent_id"] or 0), []).append(reply)
    return found


def _recount(db: sqlite_utils.Database, video_id: str) -> None:
    db.execute(
        "UPDATE videos SET comment_count = (SELECT count(*) FROM video_comments "
        "WHERE video_id = ?) WHERE id = ?",
        [video_id, video_id],
    )


def _comment(row: tuple[Any, ...]) -> Comment:
    comment: dict[str, Any] = dict(zip(_KEYS, row[:-1], strict=True))
    comment["user_name"] = row[-1]
    comment["is_edited"] = bool(comment["is_edited"])
    comment["replies"] = []
    return comment  # type: ignore[return-value]
