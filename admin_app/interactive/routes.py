"""Polls and reactions over REST: list and open a party's polls, vote, read results,
close; a party's reactions and the per-second reaction timeline of a media.

Every action goes through ``RoomControl.interact``: the rules (the room's ``polls``
setting, who may close, one vote per account, changing a vote) are the sync socket's,
and everyone in the room sees the change live. Errors: 404 ``room_not_found`` /
``poll_not_found`` / ``not_found``, 403 ``forbidden``, 409 ``poll_closed``, 422 for a
bad body or choice.
"""

from __future__ import annotations

from typing import Any

from quart_schema import (
    document_response,
    security_scheme,
    validate_querystring,
    validate_request,
)

from admin_app.core.caller import authenticate, require_caller
from admin_app.core.errors import ApiError, documents_errors
from admin_app.core.openapi import BEARER, OPTIONAL_BEARER
from admin_app.core.pagination import Page, PageQuery, page_of
from admin_app.core.state import WebState, state
from admin_app.videos import service as videos
from data import audit as audit_store
from data import polls as poll_store
from data import reactions as reaction_store
from protocol.reactions import BUCKET_S, MAX_TIMELINE_ENTRIES, media_key

from . import bp
from .schemas import (
    AuditEntryOut,
    PollCreateIn,
    PollOut,
    PollRespondIn,
    PollVoteOut,
    QueueAddIn,
    QueueChangeOut,
    QueueMoveIn,
    QueueOut,
    ReactionOut,
    TimelineOut,
)
from .service import (
    audit_json,
    display_name,
    live_polls,
    party,
    poll_json,
    reaction_json,
    require_entry,
    stored_poll,
)


@bp.get("/parties/<party_id>/polls/")
@validate_querystring(PageQuery)
@security_scheme(OPTIONAL_BEARER)
@document_response(Page[PollOut], 200)
@documents_errors(401, 403, 404, 422)
async def list_polls(party_id: str, query_args: PageQuery) -> dict[str, Any]:
    """The party's polls, newest first, paginated: open ones with live results,
    closed ones with their final results (private rooms: members only)."""
    st = state()
    caller = await authenticate(st)
    ctx = await party(st, party_id, caller)
    count, rows = await st.db.read(
        lambda db: poll_store.list_polls(
            db, ctx.code, offset=query_args.offset, limit=query_args.page_size
        )
    )
    live = live_polls(ctx)
    return page_of(count, [poll_json(r, live.get(r["id"])) for r in rows], query_args)


@bp.post("/parties/<party_id>/polls/")
@validate_request(PollCreateIn)
@security_scheme(BEARER)
@document_response(PollOut, 201)
@documents_errors(400, 401, 403, 404, 413, 415, 422)
async def create_poll(party_id: str, data: PollCreateIn) -> tuple[dict[str, Any], int]:
    """Open a poll in the party, as on the socket (`poll_create`): who may is the
    room's `polls` setting (403 `forbidden`); the room's owner acts as host."""
    st = state()
    caller = await require_caller(st)
    ctx = await party(st, party_id, caller)
    require_entry(ctx, caller)
    result = await st.rooms.interact(
        ctx.code,
        user_id=caller.user_id,
        name=display_name(caller),
        action={"type": "poll_create", **data.model_dump()},
    )
    poll = result["poll"]
    row = await stored_poll(st, int(poll["id"]))
    return poll_json(row, poll), 201


@bp.get("/polls/<int:poll_id>/")
@security_scheme(OPTIONAL_BEARER)
@document_response(PollOut, 200)
@documents_errors(401, 403, 404)
async def poll_detail(poll_id: int) -> dict[str, Any]:
    """A poll with its results (live while open)."""
    st = state()
    caller = await authenticate(st)
    row = await stored_poll(st, poll_id)
    ctx = await party(st, row["room_code"], caller)
    return poll_json(row, live_polls(ctx).get(poll_id))


@bp.get("/polls/<int:poll_id>/results/")
@security_scheme(OPTIONAL_BEARER)
@document_response(PollOut, 200)
@documents_errors(401, 403, 404)
async def poll_results(poll_id: int) -> dict[str, Any]:
    """The same as the poll itself: its results are in `results` (live while open,
    final once closed)."""
    return await poll_detail(poll_id)


@bp.post("/polls/<int:poll_id>/respond/")
@validate_request(PollRespondIn)
@security_scheme(BEARER)
@document_response(PollVoteOut, 200)
@documents_errors(400, 401, 403, 404, 409, 413, 415, 422)
async def respond(poll_id: int, data: PollRespondIn) -> dict[str, Any]:
    """Vote, or change one's vote (`choices`: option indexes; none withdraws it). An
    account has one vote per poll, on the socket and here together. 409
    `poll_closed` once it closed."""
    st = state()
    caller = await require_caller(st)
    row = await stored_poll(st, poll_id)
    ctx = await party(st, row["room_code"], caller)
    require_entry(ctx, caller)
    result = await st.rooms.interact(
        ctx.code,
        user_id=caller.user_id,
        name=display_name(caller),
        action={"type": "poll_vote", "poll_id": poll_id, "choices": data.choices},
    )
    return {"poll_id": result["poll_id"], "choices": result["choices"]}


@bp.post("/polls/<int:poll_id>/close/")
@security_scheme(BEARER)
@document_response(PollOut, 200)
@documents_errors(401, 403, 404, 409)
async def close(poll_id: int) -> dict[str, Any]:
    """Close a poll now (its creator, the room's host or owner, a co-host); its final
    results are stored. 409 `poll_closed` when it already closed."""
    st = state()
    caller = await require_caller(st)
    row = await stored_poll(st, poll_id)
    ctx = await party(st, row["room_code"], caller)
    require_entry(ctx, caller)
    result = await st.rooms.interact(
        ctx.code,
        user_id=caller.user_id,
        name=display_name(caller),
        action={"type": "poll_close", "poll_id": poll_id},
    )
    row = await stored_poll(st, poll_id)
    return poll_json(row, result["poll"])


async def _timeline(st: WebState, key: str | None) -> dict[str, Any]:
    counts = (
        []
        if key is None
        else await st.db.read(
            lambda db: reaction_store.timeline(db, key, limit=MAX_TIMELINE_ENTRIES)
        )
    )
    return {"media_key": key, "bucket_s": BUCKET_S, "counts": [list(c) for c in counts]}


@bp.get("/parties/<party_id>/reactions/")
@validate_querystring(PageQuery)
@security_scheme(OPTIONAL_BEARER)
@document_response(Page[ReactionOut], 200)
@documents_errors(401, 403, 404, 422)
async def list_reactions(party_id: str, query_args: PageQuery) -> dict[str, Any]:
    """The party's reactions, newest first, paginated, each with the media position
    (seconds) the server computed. Stored within a second of being sent."""
    st = state()
    caller = await authenticate(st)
    ctx = await party(st, party_id, caller)
    count, rows = await st.db.read(
        lambda db: reaction_store.list_reactions(
            db, ctx.code, offset=query_args.offset, limit=query_args.page_size
        )
    )
    return page_of(count, [reaction_json(dict(r)) for r in rows], query_args)


@bp.get("/parties/<party_id>/reactions/timeline/")
@security_scheme(OPTIONAL_BEARER)
@document_response(TimelineOut, 200)
@documents_errors(401, 403, 404)
async def party_timeline(party_id: str) -> dict[str, Any]:
    """Reactions per second of the media the party plays now, summed over every room
    that played it (`media_key` null without media)."""
    st = state()
    caller = await authenticate(st)
    ctx = await party(st, party_id, caller)
    return await _timeline(st, media_key(ctx.room["playback"].get("media")))


@bp.get("/videos/<video_id>/reactions/timeline/")
@security_scheme(OPTIONAL_BEARER)
@document_response(TimelineOut, 200)
@documents_errors(401, 403, 404)
async def video_timeline(video_id: str) -> dict[str, Any]:
    """Reactions per second of a library video over every room that played it (who may
    see the video may see this)."""
    st = state()
    video = await videos.load_video(st, video_id)
    videos.require_view(video, await videos.current_viewer(st))
    return await _timeline(st, f"video:{video['id']}")


async def _queue_action(party_id: str, action: dict[str, Any]) -> dict[str, Any]:
    st = state()
    caller = await require_caller(st)
    ctx = await party(st, party_id, caller)
    require_entry(ctx, caller)
    result = await st.rooms.interact(
        ctx.code, user_id=caller.user_id, name=display_name(caller), action=action
    )
    return {"seq": result["seq"], "queue": result["queue"]}


@bp.get("/parties/<party_id>/queue/")
@security_scheme(OPTIONAL_BEARER)
@document_response(QueueOut, 200)
@documents_errors(401, 403, 404)
async def get_queue(party_id: str) -> dict[str, Any]:
    """The party's shared queue: what plays after the current media, next first."""
    st = state()
    caller = await authenticate(st)
    ctx = await party(st, party_id, caller)
    queue: dict[str, Any] = ctx.room["queue"]
    return queue


@bp.post("/parties/<party_id>/queue/")
@validate_request(QueueAddIn)
@security_scheme(BEARER)
@document_response(QueueChangeOut, 201)
@documents_errors(400, 401, 403, 404, 413, 415, 422)
async def queue_add(party_id: str, data: QueueAddIn) -> tuple[dict[str, Any], int]:
    """Queue a media at the end (anyone in the party; at most 100 items): an http(s)
    URL or path, or a library video rooms may play (404 `not_found` otherwise)."""
    return await _queue_action(party_id, data.action()), 201


@bp.delete("/parties/<string:party_id>/queue/<int:item_id>/")
@security_scheme(BEARER)
@document_response(QueueChangeOut, 200)
@documents_errors(401, 403, 404)
async def queue_remove(party_id: str, item_id: int) -> dict[str, Any]:
    """Remove a queued item: one's own, or any for the host, owner and co-hosts."""
    return await _queue_action(party_id, {"type": "queue_remove", "item_id": item_id})


@bp.post("/parties/<string:party_id>/queue/<int:item_id>/move/")
@validate_request(QueueMoveIn)
@security_scheme(BEARER)
@document_response(QueueChangeOut, 200)
@documents_errors(400, 401, 403, 404, 409, 413, 415, 422)
async def queue_move(party_id: str, item_id: int, data: QueueMoveIn) -> dict[str, Any]:
    """Move a queued item (who may control playback). The request names the queue
    `version` it was made against: 409 `stale_queue` when it changed since."""
    action = {"type": "queue_move", "item_id": item_id, **data.model_dump()}
    return await _queue_action(party_id, action)


@bp.post("/parties/<party_id>/queue/skip/")
@security_scheme(BEARER)
@document_response(QueueChangeOut, 200)
@documents_errors(401, 403, 404, 422)
async def queue_skip(party_id: str) -> dict[str, Any]:
    """Play the next queued item now (who may control playback)."""
    return await _queue_action(party_id, {"type": "queue_skip"})


@bp.post("/parties/<party_id>/queue/vote-skip/")
@security_scheme(BEARER)
@document_response(QueueChangeOut, 200)
@documents_errors(401, 403, 404, 409, 422)
async def vote_skip(party_id: str) -> dict[str, Any]:
    """Vote to skip what plays (once per item and account: 409 `already_voted`)."""
    return await _queue_action(party_id, {"type": "vote_skip"})


@bp.get("/parties/<party_id>/audit/")
@validate_querystring(PageQuery)
@security_scheme(BEARER)
@document_response(Page[AuditEntryOut], 200)
@documents_errors(401, 403, 404, 422)
async def audit(party_id: str, query_args: PageQuery) -> dict[str, Any]:
    """The party's audit log, newest first, paginated: every moderation and control
    action (who, what, whom, when). The room's owner, its host and staff only."""
    st = state()
    caller = await require_caller(st)
    ctx = await party(st, party_id, caller)
    if not ctx.may_moderate(caller):
        raise ApiError(403, "forbidden", f"only the owner or host of room {ctx.code} may see this")
    count, rows = await st.db.read(
        lambda db: audit_store.list_entries(
            db, ctx.code, offset=query_args.offset, limit=query_args.page_size
        )
    )
    return page_of(count, [audit_json(dict(r)) for r in rows], query_args)
