"""Comments on videos over REST, under both of the paths compatible APIs use:

* ``/api/videos/{video_id}/comments/`` (GET, POST) and
  ``/api/videos/{video_id}/comments/{comment_id}/`` (GET, PUT, PATCH, DELETE);
* ``/api/videos/comments/`` (GET with ``?video_id=``, POST with ``video_id`` in the
  body) and ``/api/videos/comments/{comment_id}/`` (GET, PUT, PATCH, DELETE).

Replies: ``parent_id`` names the comment replied to. Threads are two levels deep: a
reply to a reply joins the same thread (it is stored as a reply to the thread's
first comment), so a list shows each thread with all its replies nested, oldest
first. Only the author edits a comment (it is then marked ``is_edited``); the
author or staff delete it, its replies with it. Whoever may see the video may read
and, signed in, post comments.
"""

from __future__ import annotations

import logging
from typing import Any

from quart_schema import (
    document_response,
    security_scheme,
    validate_querystring,
    validate_request,
)

from admin_app.core.caller import require_caller
from admin_app.core.errors import ApiError, documents_errors, documents_no_content
from admin_app.core.openapi import BEARER, OPTIONAL_BEARER
from admin_app.core.pagination import Page, PageQuery, page_of
from admin_app.core.state import WebState, state
from admin_app.core.times import iso_ms
from data import NotFoundError
from data import video_comments as comment_store
from data.video_comments import Comment

from . import comments_bp as bp
from .schemas import (
    CommentCreateIn,
    CommentIn,
    CommentOut,
    CommentsQuery,
    CommentUpdateIn,
    LikeOut,
)
from .service import Viewer, current_viewer, load_video, require_view, viewer_of

logger = logging.getLogger(__name__)

MAX_COMMENT_ID = 2**63 - 1


def comment_json(comment: Comment, liked: set[int]) -> dict[str, Any]:
    """A comment as the API shows it, replies nested; *liked*: ids the caller likes."""
    return {
        "id": comment["id"],
        "video_id": comment["video_id"],
        "user": {"id": comment["user_id"], "display_name": comment["user_name"]},
        "content": comment["content"],
        "parent_id": comment["parent_id"],
        "is_edited": comment["is_edited"],
        "likes_count": comment["like_count"],
        "is_liked": comment["id"] in liked,
        "created_at": iso_ms(comment["created_at_ms"]),
        "updated_at": iso_ms(comment["updated_at_ms"]),
        "replies": [comment_json(reply, liked) for reply in comment["replies"]],
    }


async def _json(st: WebState, comments: list[Comment], viewer: Viewer) -> list[dict[str, Any]]:
    ids = [c["id"] for c in comments] + [r["id"] for c in comments for r in c["replies"]]
    liked = await st.db.read(comment_store.liked_by, ids, viewer.user_id)
    return [comment_json(c, liked) for c in comments]


async def _list(video_id: str | None, query: PageQuery) -> dict[str, Any]:
    st = state()
    viewer = await current_viewer(st)
    if video_id is not None:
        video = await load_video(st, video_id)
        require_view(video, viewer)
        video_id = video["id"]
    count, threads = await st.db.read(
        lambda conn: comment_store.list_threads(
            conn,
            video_id=video_id,
            viewer_id=viewer.user_id,
            viewer_is_staff=viewer.is_staff,
            offset=query.offset,
            limit=query.page_size,
        )
    )
    return page_of(count, await _json(st, threads, viewer), query)


async def _create(video_id: str, data: CommentIn) -> tuple[dict[str, Any], int]:
    st = state()
    caller = await require_caller(st)
    viewer = viewer_of(caller.user)
    video = await load_video(st, video_id)
    require_view(video, viewer)
    try:
        comment = await st.db.write(
            lambda conn: comment_store.create_comment(
                conn,
                video_id=video["id"],
                user_id=caller.user_id,
                content=data.content,
                parent_id=data.parent_id,
                now_ms=st.now_ms(),
            )
        )
    except NotFoundError as exc:
        if data.parent_id is None:
            raise ApiError(404, "video_not_found", str(exc)) from None
        raise ApiError(
            404,
            "comment_not_found",
            f"no comment {data.parent_id} on video {video['id']} to reply to",
            details=[("parent_id", "no such comment on this video")],
        ) from None
    logger.info("account %s commented on video %s (%d)", caller.user_id, video["id"], comment["id"])
    return (await _json(st, [comment], viewer))[0], 201


async def _load_comment(
    st: WebState, comment_id: int, viewer: Viewer, video_id: str | None
) -> Comment:
    """A comment (with its replies) the viewer may see, on *video_id* when given.

    Raises:
        ApiError: 404 ``comment_not_found`` (also for a comment on another video);
            401/403 when its video is private to the viewer.
    """
    comment = None
    if comment_id <= MAX_COMMENT_ID:  # larger ids do not fit SQLite's integers
        comment = await st.db.read(comment_store.get_thread, comment_id)
    if comment is None or (video_id is not None and comment["video_id"] != video_id):
        where = f" on video {video_id}" if video_id is not None else ""
        raise ApiError(404, "comment_not_found", f"no comment has id {comment_id}{where}")
    require_view(await load_video(st, comment["video_id"]), viewer)
    return comment


async def _get(comment_id: int, video_id: str | None) -> dict[str, Any]:
    st = state()
    viewer = await current_viewer(st)
    comment = await _load_comment(st, comment_id, viewer, video_id)
    return (await _json(st, [comment], viewer))[0]


async def _update(comment_id: int, video_id: str | None, data: CommentUpdateIn) -> dict[str, Any]:
    st = state()
    caller = await require_caller(st)
    viewer = viewer_of(caller.user)
    comment = await _load_comment(st, comment_id, viewer, video_id)
    if comment["user_id"] != caller.user_id:
        raise ApiError(403, "forbidden", "only the comment's author may edit it")
    try:
        comment = await st.db.write(
            comment_store.update_comment, comment_id, data.content, st.now_ms()
        )
    except NotFoundError:
        raise ApiError(404, "comment_not_found", f"no comment has id {comment_id}") from None
    return (await _json(st, [comment], viewer))[0]


async def _delete(comment_id: int, video_id: str | None) -> tuple[str, int]:
    st = state()
    caller = await require_caller(st)
    viewer = viewer_of(caller.user)
    comment = await _load_comment(st, comment_id, viewer, video_id)
    if comment["user_id"] != caller.user_id and not viewer.is_staff:
        raise ApiError(403, "forbidden", "only the comment's author or staff may delete it")
    await st.db.write(comment_store.delete_comment, comment_id)
    logger.info("account %s deleted comment %d", caller.user_id, comment_id)
    return "", 204


# --- /api/videos/comments/ -------------------------------------------------------------------


@bp.get("/comments/")
@validate_querystring(CommentsQuery)
@security_scheme(OPTIONAL_BEARER)
@document_response(Page[CommentOut], 200)
@documents_errors(401, 403, 404, 422)
async def list_comments(query_args: CommentsQuery) -> dict[str, Any]:
    """Comment threads, newest first, replies nested, paginated.

    With `video_id`: that video's. Without: those on every video the caller may list
    (public ones and its own; staff: all).
    """
    return await _list(query_args.video_id, query_args)


@bp.post("/comments/")
@validate_request(CommentCreateIn)
@security_scheme(BEARER)
@document_response(CommentOut, 201)
@documents_errors(400, 401, 403, 404, 413, 415, 422)
async def create_comment(data: CommentCreateIn) -> tuple[dict[str, Any], int]:
    """Comment on the video `video_id`, or reply to `parent_id`.

    A reply to a reply joins the same thread (its `parent_id` is the thread's first
    comment).
    """
    return await _create(data.video_id, data)


@bp.get("/comments/<int:comment_id>/")
@security_scheme(OPTIONAL_BEARER)
@document_response(CommentOut, 200)
@documents_errors(401, 403, 404)
async def get_comment(comment_id: int) -> dict[str, Any]:
    """A comment, with its replies."""
    return await _get(comment_id, None)


@bp.route("/comments/<int:comment_id>/", methods=["PUT", "PATCH"])
@validate_request(CommentUpdateIn)
@security_scheme(BEARER)
@document_response(CommentOut, 200)
@documents_errors(400, 401, 403, 404, 413, 415, 422)
async def update_comment(comment_id: int, data: CommentUpdateIn) -> dict[str, Any]:
    """Edit a comment (its author only); it is then marked `is_edited`."""
    return await _update(comment_id, None, data)


@bp.delete("/comments/<int:comment_id>/")
@security_scheme(BEARER)
@documents_errors(401, 403, 404)
@documents_no_content
async def delete_comment(comment_id: int) -> tuple[str, int]:
    """Delete a comment and its replies (its author or staff)."""
    return await _delete(comment_id, None)


@bp.post("/comments/<int:comment_id>/like/")
@security_scheme(BEARER)
@document_response(LikeOut, 200)
@documents_errors(401, 403, 404)
async def like_comment(comment_id: int) -> dict[str, Any]:
    """Like a comment, or take the like back; answers as the video like does."""
    st = state()
    caller = await require_caller(st)
    await _load_comment(st, comment_id, viewer_of(caller.user), None)
    try:
        liked, count = await st.db.write(
            comment_store.toggle_comment_like, comment_id, caller.user_id, st.now_ms()
        )
    except NotFoundError:
        raise ApiError(404, "comment_not_found", f"no comment has id {comment_id}") from None
    return {"success": True, "is_liked": liked, "like_count": count}


# --- /api/videos/{video_id}/comments/ --------------------------------------------------------


@bp.get("/<video_id>/comments/")
@validate_querystring(PageQuery)
@security_scheme(OPTIONAL_BEARER)
@document_response(Page[CommentOut], 200)
@documents_errors(401, 403, 404, 422)
async def video_comments(video_id: str, query_args: PageQuery) -> dict[str, Any]:
    """A video's comment threads, newest first, replies nested, paginated."""
    return await _list(video_id, query_args)


@bp.post("/<video_id>/comments/")
@validate_request(CommentIn)
@security_scheme(BEARER)
@document_response(CommentOut, 201)
@documents_errors(400, 401, 403, 404, 413, 415, 422)
async def create_video_comment(video_id: str, data: CommentIn) -> tuple[dict[str, Any], int]:
    """Comment on a video, or reply to `parent_id` (a reply to a reply joins its
    thread)."""
    return await _create(video_id, data)


@bp.get("/<string:video_id>/comments/<int:comment_id>/")
@security_scheme(OPTIONAL_BEARER)
@document_response(CommentOut, 200)
@documents_errors(401, 403, 404)
async def get_video_comment(video_id: str, comment_id: int) -> dict[str, Any]:
    """A comment of this video, with its replies."""
    return await _get(comment_id, video_id)


@bp.route("/<string:video_id>/comments/<int:comment_id>/", methods=["PUT", "PATCH"])
@validate_request(CommentUpdateIn)
@security_scheme(BEARER)
@document_response(CommentOut, 200)
@documents_errors(400, 401, 403, 404, 413, 415, 422)
async def update_video_comment(
    video_id: str, comment_id: int, data: CommentUpdateIn
) -> dict[str, Any]:
    """Edit a comment of this video (its author only)."""
    return await _update(comment_id, video_id, data)


@bp.delete("/<string:video_id>/comments/<int:comment_id>/")
@security_scheme(BEARER)
@documents_errors(401, 403, 404)
@documents_no_content
async def delete_video_comment(video_id: str, comment_id: int) -> tuple[str, int]:
    """Delete a comment of this video and its replies (its author or staff)."""
    return await _delete(comment_id, video_id)
