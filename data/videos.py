"""The video library: videos, likes, downloads, the premium flag, and what a room may
play (as in Watch Party). Comments are in
:mod:`data.video_comments`.

Every function takes a ``sqlite_utils.Database`` first and is meant to run inside
``Database.write`` (the writing ones) or ``Database.read``. Times are milliseconds
since the Unix epoch. Files are not touched here: the web app stores and removes
them under ``media_dir``, by the ``file_name`` these rows hold.

Counters (``like_count``, ``dislike_count``, ``download_count``) are recomputed from
their tables in the same transaction as the change, so concurrent requests cannot
leave them wrong: ``Database.write`` runs one transaction at a time.

The sync server calls :func:`media_for_room` to turn a video id from a client's
``change_media`` into the media a room plays.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Mapping
from typing import Any, TypedDict

import sqlite_utils

from .errors import NotFoundError

logger = logging.getLogger(__name__)

VISIBILITIES = ("public", "unlisted", "private")
#: Orderings of :func:`list_videos`: a column, ``-`` for descending.
ORDERINGS = {
    "created_at": "v.created_at_ms",
    "title": "v.title COLLATE NOCASE",
    "views": "v.view_count",
    "likes": "v.like_count",
}
#: Columns :func:`update_video` may change.
EDITABLE = ("title", "description", "visibility", "allow_download", "is_premium")
#: Video ids: what :func:`new_video_id` makes.
VIDEO_ID_PATTERN = r"^[0-9a-f]{32}$"
_VIDEO_ID = re.compile(VIDEO_ID_PATTERN)

_COLUMNS = (
    "id, owner_id, title, description, visibility, allow_download, is_premium, file_name, "
    "original_filename, content_type, size_bytes, duration_s, view_count, like_count, "
    "dislike_count, comment_count, download_count, created_at_ms, updated_at_ms"
)
_KEYS = tuple(_COLUMNS.split(", "))
_SELECT = (
    f"SELECT {', '.join('v.' + k for k in _KEYS)}, u.display_name "
    "FROM videos AS v JOIN users AS u ON u.id = v.owner_id"
)
_BOOLS = ("allow_download", "is_premium")


class Video(TypedDict):
    """A video as the query functions return it.

    Attributes:
        id: 32 hex digits, random.
        owner_id: The uploading account.
        owner_name: Its display name.
        title: 1 to 200 characters.
        description: Up to 5,000 characters.
        visibility: ``public`` (listed), ``unlisted`` (anyone with the link) or
            ``private`` (owner and staff only).
        allow_download: Whether viewers other than the owner may download it.
        is_premium: Whether downloading it needs a premium account.
        file_name: The stored file's name in the media directory (generated).
        original_filename: The uploaded file's name, for ``Content-Disposition`` only.
        content_type: MIME type found from the file's content.
        size_bytes: File size.
        duration_s: Length in seconds when ffprobe could tell, else None.
        view_count: Plays started (stream requests from byte 0).
        like_count: Likes.
        dislike_count: Dislikes.
        comment_count: Comments and replies.
        download_count: Downloads started.
        created_at_ms: Upload time.
        updated_at_ms: Last change of its metadata.
    """

    id: str
    owner_id: str
    owner_name: str
    title: str
    description: str
    visibility: str
    allow_download: bool
    is_premium: bool
    file_name: str
    original_filename: str
    content_type: str
    size_bytes: int
    duration_s: float | None
    view_count: int
    like_count: int
    dislike_count: int
    comment_count: int
    download_count: int
    created_at_ms: int
    updated_at_ms: int


class LikeState(TypedDict):
    """A viewer's reaction to a video after a toggle, and the video's counts.

    Attributes:
        reaction: True (likes it), False (dislikes it) or None (neither).
        like_count: Likes of the video.
        dislike_count: Dislikes of the video.
    """

    reaction: bool | None
    like_count: int
    dislike_count: int


def new_video_id() -> str:
    """A fresh random video id (a uuid4 as 32 hex digits)."""
    return uuid.uuid4().hex


def is_video_id(value: str) -> bool:
    """Whether *value* has the shape of a video id (it may still not exist)."""
    return bool(_VIDEO_ID.match(value))


def create_video(
    db: sqlite_utils.Database,
    *,
    video_id: str,
    owner_id: str,
    title: str,
    description: str,
    visibility: str,
    allow_download: bool,
    is_premium: bool,
    file_name: str,
    original_filename: str,
    content_type: str,
    size_bytes: int,
    duration_s: float | None,
    now_ms: int,
) -> Video:
    """Store a new video whose file is already in place.

    Raises:
        ValueError: for an unknown *visibility* or a malformed *video_id*.
        sqlite3.IntegrityError: if the owner does not exist, or the id or file name
            is taken. Nothing was written then.
    """
    _check_visibility(visibility)
    if not is_video_id(video_id):
        raise ValueError(f"expected a video id of 32 hex digits, got {video_id!r}")
    db.execute(
        "INSERT INTO videos (id, owner_id, title, description, visibility, allow_download, "
        "is_premium, file_name, original_filename, content_type, size_bytes, duration_s, "
        "created_at_ms, updated_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            video_id,
            owner_id,
            title,
            description,
            visibility,
            int(allow_download),
            int(is_premium),
            file_name,
            original_filename,
            content_type,
            size_bytes,
            duration_s,
            now_ms,
            now_ms,
        ],
    )
    logger.info("video %s stored for account %s (%d bytes)", video_id, owner_id, size_bytes)
    return get_video(db, video_id)


def find_video(db: sqlite_utils.Database, video_id: str) -> Video | None:
    """Return one video, or None when no video has *video_id*."""
    row = db.execute(f"{_SELECT} WHERE v.id = ?", [video_id]).fetchone()
    return None if row is None else _video(row)


def get_video(db: sqlite_utils.Database, video_id: str) -> Video:
    """Return one video.

    Raises:
        NotFoundError: if no video has *video_id*.
    """
    video = find_video(db, video_id)
    if video is None:
        raise NotFoundError(f"expected a video with id {video_id!r}, got none")
    return video


def list_videos(
    db: sqlite_utils.Database,
    *,
    viewer_id: str | None,
    viewer_is_staff: bool,
    search: str | None = None,
    owner_id: str | None = None,
    visibility: str | None = None,
    is_premium: bool | None = None,
    ordering: str = "-created_at",
    offset: int = 0,
    limit: int = 20,
) -> tuple[int, list[Video]]:
    """Return one page of the videos a viewer may list, with the count of all of them.

    A viewer lists public videos and its own; staff list every video. Unlisted
    videos are never listed for others: they are reached by their link only.

    Args:
        db: Either connection.
        viewer_id: The listing account, or None for someone signed out.
        viewer_is_staff: Whether the viewer is staff or admin.
        search: Words that must each appear in the title or description (any
            ASCII case).
        owner_id: Only this account's videos.
        visibility: Only videos with this visibility.
        is_premium: Only premium (True) or only free (False) videos.
        ordering: A key of :data:`ORDERINGS`, ``-`` first for descending; ties are
            broken by id.
        offset: Videos to skip.
        limit: Videos to return at most.

    Raises:
        ValueError: for an unknown *ordering* or *visibility*, or a negative
            *offset* or *limit*.
    """
    descending = ordering.startswith("-")
    column = ORDERINGS.get(ordering.lstrip("-"))
    if column is None:
        raise ValueError(
            f"expected an ordering in {sorted(ORDERINGS)} (or -name), got {ordering!r}"
        )
    if offset < 0 or limit < 0:
        raise ValueError(f"expected offset and limit of 0 or more, got {offset} and {limit}")
    where: list[str] = []
    params: list[Any] = []
    if not viewer_is_staff:
        where.append("(v.visibility = 'public' OR v.owner_id = ?)")
        params.append(viewer_id)
    for word in (search or "").split():
        pattern = "%" + _escape_like(word) + "%"
        where.append("(v.title LIKE ? ESCAPE '\\' OR v.description LIKE ? ESCAPE '\\')")
        params += [pattern, pattern]
    if owner_id is not None:
        where.append("v.owner_id = ?")
        params.append(owner_id)
    if visibility is not None:
        _check_visibility(visibility)
        where.append("v.visibility = ?")
        params.append(visibility)
    if is_premium is not None:
        where.append("v.is_premium = ?")
        params.append(int(is_premium))
    clause = f" WHERE {' AND '.join(where)}" if where else ""
    (count,) = db.execute(f"SELECT count(*) FROM videos AS v{clause}", params).fetchone()
    direction = "DESC" if descending else "ASC"
    rows = db.execute(
        f"{_SELECT}{clause} ORDER BY {column} {direction}, v.id {direction} LIMIT ? OFFSET ?",
        [*params, limit, offset],
    ).fetchall()
    return int(count), [_video(row) for row in rows]


def update_video(
    db: sqlite_utils.Database, video_id: str, changes: Mapping[str, Any], now_ms: int
) -> Video:
    """Change a video's metadata (the columns of :data:`EDITABLE`).

    Args:
        db: The writer connection.
        video_id: The video.
        changes: New values by column; an empty mapping changes nothing (not even
            ``updated_at_ms``).
        now_ms: Time of the change.

    Raises:
        ValueError: for a column outside :data:`EDITABLE` or an unknown visibility.
        NotFoundError: if no video has *video_id*.
    """
    unknown = sorted(set(changes) - set(EDITABLE))
    if unknown:
        raise ValueError(f"expected changes to {EDITABLE}, got {unknown}")
    if "visibility" in changes:
        _check_visibility(changes["visibility"])
    if changes:
        values = [int(v) if k in _BOOLS else v for k, v in changes.items()]
        sets = ", ".join(f"{name} = ?" for name in changes)
        db.execute(
            f"UPDATE videos SET {sets}, updated_at_ms = ? WHERE id = ?",
            [*values, now_ms, video_id],
        )
    return get_video(db, video_id)


def delete_video(db: sqlite_utils.Database, video_id: str) -> str | None:
    """Delete a video with its likes, comments and download records.

    Returns:
        The deleted video's ``file_name`` (for the caller to remove the file), or
        None when there was no such video.
    """
    row = db.execute("SELECT file_name FROM videos WHERE id = ?", [video_id]).fetchone()
    if row is None:
        return None
    db.execute("DELETE FROM videos WHERE id = ?", [video_id])
    logger.info("video %s deleted", video_id)
    return str(row[0])


def add_view(db: sqlite_utils.Database, video_id: str) -> None:
    """Count one view of a video (nothing happens for an unknown video)."""
    db.execute("UPDATE videos SET view_count = view_count + 1 WHERE id = ?", [video_id])


# --- likes ------------------------------------------------------------------------------


def toggle_like(
    db: sqlite_utils.Database, video_id: str, user_id: str, is_like: bool, now_ms: int
) -> LikeState:
    """Like or dislike a video; the same reaction again takes it back.

    As in Watch Party: one reaction per account and video (the primary key), a like
    replaces a dislike and the reverse. The counts are recomputed in the same
    transaction, so they are right however many toggles run at once.

    Args:
        db: The writer connection.
        video_id: The video.
        user_id: The reacting account.
        is_like: True to like, False to dislike.
        now_ms: Time of the reaction.

    Raises:
        NotFoundError: if no video has *video_id*. Nothing was written then.
    """
    if db.execute("SELECT 1 FROM videos WHERE id = ?", [video_id]).fetchone() is None:
        raise NotFoundError(f"expected a video with id {video_id!r}, got none")
    row = db.execute(
        "SELECT is_like FROM video_likes WHERE video_id = ? AND user_id = ?", [video_id, user_id]
    ).fetchone()
    reaction: bool | None
    if row is not None and bool(row[0]) == is_like:
        db.execute(
            "DELETE FROM video_likes WHERE video_id = ? AND user_id = ?", [video_id, user_id]
        )
        reaction = None
    else:
        db.execute(
            "INSERT INTO video_likes (video_id, user_id, is_like, created_at_ms) "
            "VALUES (?, ?, ?, ?) ON CONFLICT (video_id, user_id) DO UPDATE SET "
            "is_like = excluded.is_like, created_at_ms = excluded.created_at_ms",
            [video_id, user_id, int(is_like), now_ms],
        )
        reaction = is_like
    likes, dislikes = db.execute(
        "SELECT coalesce(sum(is_like), 0), coalesce(sum(1 - is_like), 0) FROM video_likes "
        "WHERE video_id = ?",
        [video_id],
    ).fetchone()
    db.execute(
        "UPDATE videos SET like_count = ?, dislike_count = ? WHERE id = ?",
        [likes, dislikes, video_id],
    )
    return LikeState(reaction=reaction, like_count=int(likes), dislike_count=int(dislikes))


def reaction_of(db: sqlite_utils.Database, video_id: str, user_id: str | None) -> bool | None:
    """Return *user_id*'s reaction to a video: True (like), False (dislike) or None."""
    if user_id is None:
        return None
    row = db.execute(
        "SELECT is_like FROM video_likes WHERE video_id = ? AND user_id = ?", [video_id, user_id]
    ).fetchone()
    return None if row is None else bool(row[0])


# --- downloads --------------------------------------------------------------------------


def record_download(
    db: sqlite_utils.Database, video_id: str, user_id: str | None, now_ms: int
) -> int:
    """Record that someone (None: signed out) started downloading a video.

    Returns:
        The video's download count, this one included.

    Raises:
        NotFoundError: if no video has *video_id*. Nothing was written then.
    """
    if db.execute("SELECT 1 FROM videos WHERE id = ?", [video_id]).fetchone() is None:
        raise NotFoundError(f"expected a video with id {video_id!r}, got none")
    db.execute(
        "INSERT INTO video_downloads (video_id, user_id, created_at_ms) VALUES (?, ?, ?)",
        [video_id, user_id, now_ms],
    )
    (count,) = db.execute(
        "SELECT count(*) FROM video_downloads WHERE video_id = ?", [video_id]
    ).fetchone()
    db.execute("UPDATE videos SET download_count = ? WHERE id = ?", [count, video_id])
    return int(count)


def list_downloads(
    db: sqlite_utils.Database, video_id: str, *, offset: int = 0, limit: int = 100
) -> tuple[int, list[dict[str, Any]]]:
    """Return one page of a video's download records, newest first, with the count.

    Each record: ``{"id", "video_id", "user_id", "created_at_ms"}``.
    """
    (count,) = db.execute(
        "SELECT count(*) FROM video_downloads WHERE video_id = ?", [video_id]
    ).fetchone()
    rows = db.execute(
        "SELECT id, video_id, user_id, created_at_ms FROM video_downloads WHERE video_id = ? "
        "ORDER BY created_at_ms DESC, id DESC LIMIT ? OFFSET ?",
        [video_id, limit, offset],
    ).fetchall()
    keys = ("id", "video_id", "user_id", "created_at_ms")
    return int(count), [dict(zip(keys, row, strict=True)) for row in rows]


# --- premium ----------------------------------------------------------------------------


def is_premium(db: sqlite_utils.Database, user_id: str | None) -> bool:
    """Return whether an account is premium (False for None or an unknown account)."""
    if user_id is None:
        return False
    row = db.execute("SELECT is_premium FROM users WHERE id = ?", [user_id]).fetchone()
    return row is not None and bool(row[0])


def set_premium(db: sqlite_utils.Database, user_id: str, premium: bool) -> bool:
    """Set or clear an account's premium flag; return the new value.

    Raises:
        NotFoundError: if no account has *user_id*.
    """
    cursor = db.execute("UPDATE users SET is_premium = ? WHERE id = ?", [int(premium), user_id])
    if cursor.rowcount == 0:
        raise NotFoundError(f"expected an account with id {user_id!r}, got none")
    logger.info("account %s premium: %s", user_id, premium)
    return premium


# --- rooms ------------------------------------------------------------------------------


def stream_path(video_id: str) -> str:
    """The path a player streams a video from (a valid ``Media.url``)."""
    return f"/api/videos/{video_id}/stream/"


def playable_in_rooms(video: Video) -> bool:
    """Whether rooms may play a video: public and unlisted ones only.

    A room hands its media URL to everyone in it, so a private video would be
    shared with strangers; its owner makes it unlisted to watch it with others.
    """
    return video["visibility"] in ("public", "unlisted")


def room_media(video: Video) -> dict[str, Any]:
    """The media a room plays for *video*: ``{"url", "title", "duration_s",
    "video_id"}`` (``url`` a path on the web app, see :func:`stream_path`)."""
    return {
        "url": stream_path(video["id"]),
        "title": video["title"][:200],
        "duration_s": video["duration_s"],
        "video_id": video["id"],
    }


def media_for_room(
    db: sqlite_utils.Database, video_id: str, user_id: str | None
) -> dict[str, Any] | None:
    """The media a room plays when *user_id* picks library video *video_id*.

    For the sync server's ``change_media`` by video id: the same rule as the web
    app's ``POST /api/rooms/{room}/change-video/`` with ``video_id``. Everyone
    may put a public or unlisted video on (both are open to whoever has the link);
    a private video is refused, its owner's request included (see
    :func:`playable_in_rooms`).

    Args:
        db: Either connection.
        video_id: The video.
        user_id: The account asking, or None for a guest without one (kept so that
            a later rule can depend on it; no rule does yet).

    Returns:
        ``{"url", "title", "duration_s", "video_id"}``, or None when the video does
        not exist or may not be played in rooms (one answer for both, so that the
        socket does not tell private videos from missing ones).
    """
    del user_id  # no rule depends on the account yet
    if not is_video_id(video_id):
        return None
    video = find_video(db, video_id)
    if video is None or not playable_in_rooms(video):
        return None
    return room_media(video)


def _check_visibility(visibility: str) -> None:
    if visibility not in VISIBILITIES:
        raise ValueError(f"expected a visibility in {VISIBILITIES}, got {visibility!r}")


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _video(row: tuple[Any, ...]) -> Video:
    video: dict[str, Any] = dict(zip(_KEYS, row[:-1], strict=True))
    video["owner_name"] = row[-1]
    for key in _BOOLS:
        video[key] = bool(video[key])
    return video  # type: ignore[return-value]
