"""Rooms over REST: create, join, approve or deny, list,
detail, leave, playback control, media change, members and chat history.

Room ids in paths are room codes. Live state comes from the sync server through
:class:`~protocol.control.RoomControl`; entry rules and memberships are stored in
``room_access`` and ``room_members``. Playback permissions are the sync socket's,
enforced by ``RoomControl.act``.
"""

from __future__ import annotations

import logging
from typing import Any

import trio
from quart_schema import (
    document_response,
    security_scheme,
    validate_querystring,
    validate_request,
)

from admin_app.core.caller import Caller, authenticate, require_caller
from admin_app.core.errors import ApiError, documents_errors, documents_no_content
from admin_app.core.openapi import BEARER, OPTIONAL_BEARER
from admin_app.core.pagination import Page, PageQuery, page_of, paginate
from admin_app.core.ratelimit import rate_limited
from admin_app.core.state import WebState, state
from admin_app.videos import service as videos
from data import NotFoundError
from data import room_access as access_store
from protocol.errors import WatchpartyError

from . import bp
from .schemas import (
    ChangeVideoIn,
    ControlIn,
    ControlOut,
    CreateRoomIn,
    DecideIn,
    JoinedOut,
    JoinIn,
    MemberOut,
    MembersQuery,
    MessageOut,
    PendingOut,
    RoomOut,
    RoomSummaryOut,
)
from .service import (
    RoomContext,
    load_room,
    member_json,
    message_json,
    messages_page,
    require_view,
    room_detail,
    room_summary,
)

logger = logging.getLogger(__name__)


@bp.post("/create/")
@validate_request(CreateRoomIn)
@security_scheme(BEARER)
@document_response(RoomOut, 201)
@documents_errors(400, 401, 403, 413, 415, 422, 503)
async def create(data: CreateRoomIn) -> tuple[dict[str, Any], int]:
    """Create a room; the caller owns it and is its host whenever connected.

    `visibility` public (listed) or private; `entry_mode` open, password (then
    `password`, 4 characters or more) or approval. 503 `server_full` at the server's
    room limit.
    """
    st = state()
    caller = await require_caller(st)
    if caller.user["is_guest"] and not getattr(st.config, "guest_rooms", True):
        raise ApiError(403, "guests_cannot_create", "guests may not create rooms here; register")
    password_hash = await st.passwords.hash(data.password) if data.password else None
    room = await st.rooms.create_room(
        name=data.room_title,
        settings=data.settings.model_dump(exclude_none=True) if data.settings else None,
        media=data.media_dict(),
        owner_user_id=caller.user_id,
    )
    code = str(room["code"])
    try:
        # Shielded: once the live room exists, its rules are written (or the room
        # removed again) even if the client goes away meanwhile.
        with trio.CancelScope(shield=True):
            access = await st.db.write(
                lambda conn: access_store.create_room_access(
                    conn,
                    room_code=code,
                    visibility=data.visibility,
                    entry_mode=data.entry_mode,
                    password_hash=password_hash,
                    owner_user_id=caller.user_id,
                    now_ms=st.now_ms(),
                )
            )
    except Exception:
        logger.exception("room %s: storing its entry rules failed; deleting the room", code)
        with trio.CancelScope(shield=True):
            await st.rooms.delete_room(code)
        raise
    logger.info(
        "room %s created by account %s (%s, %s)",
        code,
        caller.user_id,
        data.visibility,
        data.entry_mode,
    )
    return room_detail(st, room, access), 201


@bp.post("/join/")
@rate_limited("join")
@validate_request(JoinIn)
@security_scheme(BEARER)
@document_response(JoinedOut, 200)
@document_response(PendingOut, 202)
@documents_errors(400, 401, 403, 404, 409, 413, 415, 422, 429)
async def join(data: JoinIn) -> tuple[dict[str, Any], int]:
    """Join a room (password rooms: with the password; approval rooms: by request).

    200 `joined`, or 202 `pending` while an approval room's host decides. 403
    `password_required` or `wrong_password` (password rooms), `join_denied` (the host
    said no), `guests_not_allowed`; 409 `join_pending` when a request is already
    waiting.
    """
    st = state()
    caller = await require_caller(st)
    ctx = await load_room(st, data.room, caller)
    if caller.user["is_guest"] and not ctx.room["settings"].get("allow_guests", True):
        raise ApiError(
            403, "guests_not_allowed", f"room {ctx.code} does not admit guests; register"
        )
    status = "approved"
    if not ctx.may_enter(caller):
        status = await _entry_status(st, ctx, data)
    member = ctx.membership
    if member is None or member["status"] != status:
        await st.db.write(
            lambda conn: access_store.set_membership(
                conn, ctx.code, caller.user_id, status, st.now_ms()
            )
        )
    if status == "pending":
        logger.info("room %s: account %s asks to join", ctx.code, caller.user_id)
        await _tell_moderators(st, ctx.code, caller, "pending", st.now_ms())
        message = "waiting for the host's approval; join again once approved"
        return {"status": "pending", "room_code": ctx.code, "message": message}, 202
    return {"status": "joined", "room": room_detail(st, ctx.room, ctx.access)}, 200


async def _tell_moderators(
    st: WebState, code: str, caller: Caller, status: str, requested_at_ms: float
) -> None:
    """Push a ``join_request`` (*status* ``pending`` or ``withdrawn``; the request
    made at *requested_at_ms*, Unix epoch milliseconds) to the room's host and owner on
    the sync socket.

    A notice only: the request is stored (or removed) already and listed by
    ``members``, so a failure (the room just closed, the sync server unreachable) is
    logged, not raised.
    """
    try:
        await st.rooms.notify_join_request(
            code,
            user_id=caller.user_id,
            display_name=str(caller.user["display_name"]),
            requested_at_ms=requested_at_ms,
            status=status,
        )
    except WatchpartyError as exc:
        logger.warning("room %s: join request not pushed to its host: %s", code, exc)


async def _entry_status(st: WebState, ctx: RoomContext, data: JoinIn) -> str:
    """The membership status a join gets in a password or approval room, or raise."""
    if ctx.entry_mode == "password":
        assert ctx.access is not None
        if data.password is None:
            raise ApiError(
                403,
                "password_required",
                f"room {ctx.code} needs a password",
                details=[("password", "required for this room")],
            )
        if not await st.passwords.verify(ctx.access["password_hash"], data.password):
            raise ApiError(
                403,
                "wrong_password",
                f"the password for room {ctx.code} is wrong",
                details=[("password", "wrong password")],
            )
        return "approved"
    member = ctx.membership
    if member is not None and member["status"] == "pending":
        raise ApiError(409, "join_pending", "your request to join is waiting for approval")
    if member is not None and member["status"] == "denied":
        raise ApiError(403, "join_denied", f"the host of room {ctx.code} denied your request")
    return "pending"


async def _decide(data: DecideIn, status: str) -> dict[str, Any]:
    st = state()
    caller = await require_caller(st)
    ctx = await load_room(st, data.room, caller)
    if not ctx.may_moderate(caller):
        raise ApiError(403, "forbidden", f"only the owner or host of room {ctx.code} may decide")
    try:
        member = await st.db.write(
            lambda conn: access_store.decide_membership(
                conn, ctx.code, data.user_id, status, st.now_ms()
            )
        )
    except NotFoundError:
        raise ApiError(
            404,
            "no_pending_request",
            f"account {data.user_id} has no pending request to join room {ctx.code}",
            details=[("user_id", "no pending request")],
        ) from None
    return member_json(dict(member))


@bp.post("/approve/")
@validate_request(DecideIn)
@security_scheme(BEARER)
@document_response(MemberOut, 200)
@documents_errors(400, 401, 403, 404, 413, 415, 422)
async def approve(data: DecideIn) -> dict[str, Any]:
    """Approve a pending request to join (owner, host or staff)."""
    return await _decide(data, "approved")


@bp.post("/deny/")
@validate_request(DecideIn)
@security_scheme(BEARER)
@document_response(MemberOut, 200)
@documents_errors(400, 401, 403, 404, 413, 415, 422)
async def deny(data: DecideIn) -> dict[str, Any]:
    """Deny a pending request to join (owner, host or staff)."""
    return await _decide(data, "denied")


@bp.get("/")
@validate_querystring(PageQuery)
@document_response(Page[RoomSummaryOut], 200)
@documents_errors(404, 422)
async def list_rooms(query_args: PageQuery) -> dict[str, Any]:
    """Live public rooms, newest first, paginated."""
    st = state()
    rooms = await st.rooms.list_rooms()
    rules = await st.db.read(access_store.room_access_map, [str(r["code"]) for r in rooms])
    public = [
        r
        for r in rooms
        if (rule := rules.get(str(r["code"]))) is None or rule["visibility"] == "public"
    ]
    public.sort(key=lambda r: (-(r.get("created_at_ms") or 0), str(r["code"])))
    page = paginate(public, query_args)
    page["results"] = [room_summary(r, rules.get(str(r["code"]))) for r in page["results"]]
    return page


@bp.get("/<room_id>/")
@security_scheme(OPTIONAL_BEARER)
@document_response(RoomOut, 200)
@documents_errors(401, 403, 404)
async def detail(room_id: str) -> dict[str, Any]:
    """A room with its live participants and playback (private rooms: members only)."""
    st = state()
    caller = await authenticate(st)
    ctx = await load_room(st, room_id, caller)
    require_view(ctx, caller)
    return room_detail(st, ctx.room, ctx.access)


@bp.delete("/<room_id>/leave/")
@security_scheme(BEARER)
@documents_errors(401, 404)
@documents_no_content
async def leave(room_id: str) -> tuple[str, int]:
    """Leave a room: remove the caller's participants and membership (idempotent)."""
    st = state()
    caller = await require_caller(st)
    ctx = await load_room(st, room_id, caller)
    removed = await st.rooms.remove_user(ctx.code, caller.user_id)
    await st.db.write(access_store.remove_membership, ctx.code, caller.user_id)
    member = ctx.membership
    if member is not None and member["status"] == "pending":
        await _tell_moderators(st, ctx.code, caller, "withdrawn", member["requested_at_ms"])
    logger.info(
        "room %s: account %s left (%d participants removed)", ctx.code, caller.user_id, removed
    )
    return "", 204


async def _act(room_id: str, action: dict[str, Any]) -> dict[str, Any]:
    st = state()
    caller = await require_caller(st)
    ctx = await load_room(st, room_id, caller)
    if not ctx.may_enter(caller):
        raise ApiError(403, "forbidden", f"join room {ctx.code} before controlling it")
    result = await st.rooms.act(ctx.code, user_id=caller.user_id, action=action)
    return {"seq": result["seq"], "playback": result["playback"]}


@bp.post("/<room_id>/control/")
@validate_request(ControlIn)
@security_scheme(BEARER)
@document_response(ControlOut, 200)
@documents_errors(400, 401, 403, 404, 409, 413, 415, 422)
async def control(room_id: str, data: ControlIn) -> dict[str, Any]:
    """Play, pause, seek or set the playback rate.

    With the caller's rights in the room, as on the sync socket: the room's `control`
    setting against the caller's role; the owner has host rights. 403 `forbidden`
    when not allowed; 409 `no_media` to play or seek nothing.
    """
    return await _act(room_id, data.action_dict())


@bp.post("/<room_id>/change-video/")
@validate_request(ChangeVideoIn)
@security_scheme(BEARER)
@document_response(ControlOut, 200)
@documents_errors(400, 401, 403, 404, 413, 415, 422)
async def change_video(room_id: str, data: ChangeVideoIn) -> dict[str, Any]:
    """Change what the room plays (same rights as playback control).

    A URL (`video_url` or `url`), or `video_id`, a library video: the room then plays
    its stream (`/api/videos/{id}/stream/`) with its title and duration. Private
    videos are refused (403 `video_private`): make them unlisted to share them.
    404 `video_not_found` for an unknown video.
    """
    media = None
    if data.video_id is not None:
        st = state()
        await require_caller(st)
        media = await videos.room_media(st, data.video_id)
    return await _act(room_id, {"type": "change_media", "media": media or data.media_dict()})


@bp.get("/<room_id>/messages/")
@validate_querystring(PageQuery)
@security_scheme(OPTIONAL_BEARER)
@document_response(Page[MessageOut], 200)
@documents_errors(401, 403, 404, 422)
async def messages(room_id: str, query_args: PageQuery) -> dict[str, Any]:
    """Chat history, newest first, paginated (private rooms: members only)."""
    st = state()
    caller = await authenticate(st)
    ctx = await load_room(st, room_id, caller)
    require_view(ctx, caller)
    count, rows = await st.db.read(messages_page, ctx.code, query_args.offset, query_args.page_size)
    return page_of(count, [message_json(dict(m)) for m in rows], query_args)


@bp.get("/<room_id>/members/")
@validate_querystring(MembersQuery)
@security_scheme(BEARER)
@document_response(Page[MemberOut], 200)
@documents_errors(401, 403, 404, 422)
async def members(room_id: str, query_args: MembersQuery) -> dict[str, Any]:
    """Requests to join a room and its memberships (owner, host or staff).

    Filtered by `status` (default pending), oldest first, paginated.
    """
    st = state()
    caller = await require_caller(st)
    ctx = await load_room(st, room_id, caller)
    if not ctx.may_moderate(caller):
        raise ApiError(403, "forbidden", f"only the owner or host of room {ctx.code} may see this")
    count, rows = await st.db.read(
        lambda conn: access_store.list_memberships(
            conn,
            ctx.code,
            query_args.status,
            offset=query_args.offset,
            limit=query_args.page_size,
        )
    )
    return page_of(count, [member_json(dict(m)) for m in rows], query_args)
