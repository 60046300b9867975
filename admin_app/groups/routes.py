"""Social groups over REST (``/api/social/``), on the paths of compatible social-group
APIs: ``groups/``, ``groups/{id}/`` with ``join/``, ``leave/``, ``members/``,
``invitations/``, ``join-requests/``, ``posts/`` under it, and ``groups/mine/`` and
``invitations/`` for the caller.

Lists page by keyset (``?cursor=&page_size=``, :mod:`admin_app.core.pagination`). Who
may do what is :mod:`admin_app.groups.permissions`; a private group is a 404 to
strangers. Writes need an account (not a guest).
"""

from __future__ import annotations

import logging
from typing import Any

from quart_schema import document_response, security_scheme, validate_querystring, validate_request

from admin_app.core.errors import ApiError, documents_errors, documents_no_content
from admin_app.core.openapi import BEARER, OPTIONAL_BEARER
from admin_app.core.pagination import CursorQuery, Page, keyset_of, keyset_page
from admin_app.core.state import state
from admin_app.videos import service as videos
from data import NotFoundError
from data import groups as group_store
from data.groups import GroupConflictError

from . import bp
from .permissions import Action
from .schemas import (
    BanIn,
    BanOut,
    GroupIn,
    GroupOut,
    GroupPatch,
    GroupsQuery,
    InvitationIn,
    InvitationOut,
    JoinOut,
    JoinRequestIn,
    JoinRequestOut,
    MemberOut,
    MyGroupOut,
    PostIn,
    PostOut,
    PostUpdateIn,
    ReactIn,
    ReactOut,
    RespondIn,
    RoleIn,
    TransferIn,
)
from .service import (
    ban_json,
    group_json,
    group_not_found,
    invitation_json,
    join_request_json,
    load_group,
    member_json,
    optional_caller_id,
    post_json,
    refusal,
    require,
    require_account,
    require_content,
)

logger = logging.getLogger(__name__)

_ID = (int,)


async def _write(fn: Any, *args: Any) -> Any:
    """Run a write; the data layer's refusals become API errors."""
    try:
        return await state().db.write(fn, *args)
    except GroupConflictError as exc:
        raise refusal(exc) from None


# --- groups -----------------------------------------------------------------------------------


@bp.get("/groups/")
@validate_querystring(GroupsQuery)
@security_scheme(OPTIONAL_BEARER)
@document_response(Page[GroupOut], 200)
@documents_errors(400, 401, 422)
async def list_groups(query_args: GroupsQuery) -> dict[str, Any]:
    """Groups the caller may see (public ones and its own private ones), newest first;
    `search` matches part of the name, `category` the category exactly."""
    st = state()
    user_id = await optional_caller_id(st)
    keyset = keyset_of(query_args, _ID)
    count, rows = await st.db.read(
        lambda conn: group_store.list_groups(
            conn,
            viewer_id=user_id,
            search=query_args.search,
            category=query_args.category,
            after=keyset.after,
            before=keyset.before,
            limit=keyset.limit,
        )
    )
    return keyset_page(
        count, rows, keyset, lambda g: (g["id"],), lambda g: group_json(g, g["my_role"])
    )


@bp.post("/groups/")
@validate_request(GroupIn)
@security_scheme(BEARER)
@document_response(GroupOut, 201)
@documents_errors(400, 401, 403, 413, 415, 422)
async def create_group(data: GroupIn) -> tuple[dict[str, Any], int]:
    """Create a group; the caller is its owner and first member."""
    st = state()
    caller = await require_account(st)
    group = await st.db.write(
        lambda conn: group_store.create_group(
            conn, owner_id=caller.user_id, now_ms=st.now_ms(), **data.model_dump()
        )
    )
    logger.info("account %s created group %d", caller.user_id, group["id"])
    return group_json(group, "owner"), 201


@bp.get("/groups/mine/")
@validate_querystring(CursorQuery)
@security_scheme(BEARER)
@document_response(Page[MyGroupOut], 200)
@documents_errors(400, 401, 422)
async def my_groups(query_args: CursorQuery) -> dict[str, Any]:
    """The caller's groups, most recently joined first, with its role in each."""
    st = state()
    caller = await require_account(st)
    keyset = keyset_of(query_args, (int, int))
    count, rows = await st.db.read(
        lambda conn: group_store.list_user_groups(
            conn, caller.user_id, after=keyset.after, before=keyset.before, limit=keyset.limit
        )
    )
    return keyset_page(
        count,
        rows,
        keyset,
        lambda g: (g["joined_at_ms"], g["id"]),
        lambda g: group_json(g, g["my_role"]),
    )


@bp.get("/groups/<int:group_id>/")
@security_scheme(OPTIONAL_BEARER)
@document_response(GroupOut, 200)
@documents_errors(401, 404)
async def get_group(group_id: int) -> dict[str, Any]:
    """A group, with its exact member count and the caller's role."""
    st = state()
    group, role = await load_group(st, group_id, await optional_caller_id(st))
    return group_json(group, role)


async def _update(group_id: int, changes: dict[str, Any]) -> dict[str, Any]:
    st = state()
    caller = await require_account(st)
    _, role = await load_group(st, group_id, caller.user_id)
    require(role, Action.EDIT_GROUP)
    try:
        group = await _write(group_store.update_group, group_id, changes, st.now_ms())
    except NotFoundError:
        raise group_not_found(group_id) from None
    return group_json(group, role)


@bp.put("/groups/<int:group_id>/")
@validate_request(GroupIn)
@security_scheme(BEARER)
@document_response(GroupOut, 200)
@documents_errors(400, 401, 403, 404, 409, 413, 415, 422)
async def replace_group(group_id: int, data: GroupIn) -> dict[str, Any]:
    """Replace every field of a group (owner and admins)."""
    return await _update(group_id, data.model_dump())


@bp.patch("/groups/<int:group_id>/")
@validate_request(GroupPatch)
@security_scheme(BEARER)
@document_response(GroupOut, 200)
@documents_errors(400, 401, 403, 404, 409, 413, 415, 422)
async def patch_group(group_id: int, data: GroupPatch) -> dict[str, Any]:
    """Change some fields of a group (owner and admins); `max_members` may not go
    under the member count (409 `max_members_below_count`)."""
    changes = {
        name: value
        for name, value in data.model_dump().items()
        if name in data.model_fields_set and (value is not None or name == "avatar_url")
    }
    return await _update(group_id, changes)


@bp.delete("/groups/<int:group_id>/")
@security_scheme(BEARER)
@documents_errors(401, 403, 404)
@documents_no_content
async def delete_group(group_id: int) -> tuple[str, int]:
    """Delete a group with its members, posts, invitations and requests (owner only)."""
    st = state()
    caller = await require_account(st)
    _, role = await load_group(st, group_id, caller.user_id)
    require(role, Action.DELETE_GROUP)
    await st.db.write(group_store.delete_group, group_id)
    logger.info("account %s deleted group %d", caller.user_id, group_id)
    return "", 204


@bp.post("/groups/<int:group_id>/join/")
@security_scheme(BEARER)
@document_response(JoinOut, 200)
@documents_errors(401, 403, 404, 409)
async def join_group(group_id: int) -> dict[str, Any]:
    """Join a public group. A private group takes a join request or an invitation
    (403 `private_group`); 409 `group_full`, `already_member`; 403 `banned`."""
    st = state()
    caller = await require_account(st)
    group, role = await load_group(st, group_id, caller.user_id)
    if role is not None:
        raise ApiError(409, "already_member", f"this account is already a member of {group_id}")
    if group["privacy"] == "private":
        raise ApiError(
            403,
            "private_group",
            "a private group is joined by invitation or an approved join request",
        )
    await _write(group_store.add_member, group_id, caller.user_id, st.now_ms())
    group, role = await load_group(st, group_id, caller.user_id)
    return {"group": group_json(group, role), "role": role}


@bp.post("/groups/<int:group_id>/leave/")
@security_scheme(BEARER)
@documents_errors(401, 404, 409)
@documents_no_content
async def leave_group(group_id: int) -> tuple[str, int]:
    """Leave a group. The owner hands ownership over first (409 `owner_cannot_leave`)."""
    st = state()
    caller = await require_account(st)
    _, role = await load_group(st, group_id, caller.user_id)
    if role is None:
        raise ApiError(409, "not_member", f"this account is not a member of group {group_id}")
    await _write(group_store.remove_member, group_id, caller.user_id)
    return "", 204


@bp.post("/groups/<int:group_id>/transfer-ownership/")
@validate_request(TransferIn)
@security_scheme(BEARER)
@document_response(GroupOut, 200)
@documents_errors(400, 401, 403, 404, 409, 413, 415, 422)
async def transfer_ownership(group_id: int, data: TransferIn) -> dict[str, Any]:
    """Hand ownership over to another member (owner only); the old owner becomes an
    admin."""
    st = state()
    caller = await require_account(st)
    _, role = await load_group(st, group_id, caller.user_id)
    require(role, Action.TRANSFER_OWNERSHIP)
    await _write(group_store.transfer_ownership, group_id, caller.user_id, data.user_id)
    group, role = await load_group(st, group_id, caller.user_id)
    return group_json(group, role)


# --- members and bans -------------------------------------------------------------------------


@bp.get("/groups/<int:group_id>/members/")
@validate_querystring(CursorQuery)
@security_scheme(OPTIONAL_BEARER)
@document_response(Page[MemberOut], 200)
@documents_errors(400, 401, 403, 404, 422)
async def list_members(group_id: int, query_args: CursorQuery) -> dict[str, Any]:
    """Members: the owner, admins, moderators, then members, each by joining time."""
    st = state()
    group, role = await load_group(st, group_id, await optional_caller_id(st))
    require_content(group, role)
    keyset = keyset_of(query_args, (int, int, str))
    rows = await st.db.read(
        lambda conn: group_store.list_members(
            conn, group_id, after=keyset.after, before=keyset.before, limit=keyset.limit
        )
    )
    return keyset_page(
        group["member_count"],
        rows,
        keyset,
        lambda m: (m["role_rank"], m["joined_at_ms"], m["user_id"]),
        member_json,
    )


async def _acting_on(group_id: int, user_id: str) -> tuple[str, str | None, str | None]:
    """(caller id, caller's role, target's role) for an action on member *user_id*."""
    st = state()
    caller = await require_account(st)
    _, role = await load_group(st, group_id, caller.user_id)
    target = await st.db.read(group_store.role_of, group_id, user_id)
    return caller.user_id, role, target


@bp.patch("/groups/<int:group_id>/members/<string:user_id>/")
@validate_request(RoleIn)
@security_scheme(BEARER)
@document_response(MemberOut, 200)
@documents_errors(400, 401, 403, 404, 409, 413, 415, 422)
async def change_role(group_id: int, user_id: str, data: RoleIn) -> dict[str, Any]:
    """Give a member another role: an actor ranks above the member and above the role
    it gives (the owner makes admins; admins make moderators and members)."""
    _, role, target = await _acting_on(group_id, user_id)
    require(role, Action.CHANGE_ROLE, target_role=target, new_role=data.role)
    if target is None:
        raise ApiError(404, "member_not_found", f"account {user_id} is not a member")
    await _write(group_store.set_role, group_id, user_id, data.role)
    member = await state().db.read(group_store.find_member, group_id, user_id)
    if member is None:  # removed in between
        raise ApiError(404, "member_not_found", f"account {user_id} is not a member")
    return member_json(member)


@bp.delete("/groups/<int:group_id>/members/<string:user_id>/")
@security_scheme(BEARER)
@documents_errors(401, 403, 404)
@documents_no_content
async def remove_member(group_id: int, user_id: str) -> tuple[str, int]:
    """Remove a member of a lower role (moderators and above). They may come back as
    anyone may; a ban keeps them out."""
    _, role, target = await _acting_on(group_id, user_id)
    require(role, Action.REMOVE_MEMBER, target_role=target)
    if target is None:
        raise ApiError(404, "member_not_found", f"account {user_id} is not a member")
    await _write(group_store.remove_member, group_id, user_id)
    return "", 204


@bp.post("/groups/<int:group_id>/members/<string:user_id>/ban/")
@validate_request(BanIn)
@security_scheme(BEARER)
@document_response(BanOut, 201)
@documents_errors(400, 401, 403, 404, 409, 413, 415, 422)
async def ban_member(group_id: int, user_id: str, data: BanIn) -> tuple[dict[str, Any], int]:
    """Ban an account (a member of a lower role, or an outsider): out of the group, its
    invitation and request cancelled, kept out until unbanned (owner and admins)."""
    st = state()
    actor, role, target = await _acting_on(group_id, user_id)
    require(role, Action.BAN_MEMBER, target_role=target)
    if not await st.db.read(group_store.user_exists, user_id):
        raise ApiError(404, "user_not_found", f"no account has id {user_id!r}")
    await _write(
        lambda conn: group_store.ban(
            conn, group_id, user_id, banned_by=actor, reason=data.reason, now_ms=st.now_ms()
        )
    )
    ban = await st.db.read(group_store.find_ban, group_id, user_id)
    if ban is None:  # lifted in between
        raise ApiError(404, "ban_not_found", f"account {user_id!r} is not banned here")
    return ban_json(ban), 201


@bp.get("/groups/<int:group_id>/bans/")
@validate_querystring(CursorQuery)
@security_scheme(BEARER)
@document_response(Page[BanOut], 200)
@documents_errors(400, 401, 403, 404, 422)
async def list_bans(group_id: int, query_args: CursorQuery) -> dict[str, Any]:
    """Banned accounts, oldest ban first (owner and admins)."""
    st = state()
    caller = await require_account(st)
    _, role = await load_group(st, group_id, caller.user_id)
    require(role, Action.BAN_MEMBER)
    keyset = keyset_of(query_args, (int, str))
    count, rows = await st.db.read(
        lambda conn: group_store.list_bans(
            conn, group_id, after=keyset.after, before=keyset.before, limit=keyset.limit
        )
    )
    return keyset_page(count, rows, keyset, lambda b: (b["created_at_ms"], b["user_id"]), ban_json)


@bp.delete("/groups/<int:group_id>/bans/<string:user_id>/")
@security_scheme(BEARER)
@documents_errors(401, 403, 404)
@documents_no_content
async def unban(group_id: int, user_id: str) -> tuple[str, int]:
    """Lift a ban (owner and admins); the account may then join again."""
    st = state()
    caller = await require_account(st)
    _, role = await load_group(st, group_id, caller.user_id)
    require(role, Action.BAN_MEMBER)
    if not await st.db.write(group_store.unban, group_id, user_id):
        raise ApiError(404, "ban_not_found", f"account {user_id!r} is not banned here")
    return "", 204


# --- invitations ------------------------------------------------------------------------------


@bp.get("/groups/<int:group_id>/invitations/")
@validate_querystring(CursorQuery)
@security_scheme(BEARER)
@document_response(Page[InvitationOut], 200)
@documents_errors(400, 401, 403, 404, 422)
async def list_group_invitations(group_id: int, query_args: CursorQuery) -> dict[str, Any]:
    """Every invitation of the group, newest first, with its status (moderators and
    above)."""
    st = state()
    caller = await require_account(st)
    _, role = await load_group(st, group_id, caller.user_id)
    require(role, Action.INVITE)
    keyset = keyset_of(query_args, _ID)
    count, rows = await st.db.read(
        lambda conn: group_store.list_invitations(
            conn,
            group_id=group_id,
            pending_only=False,
            now_ms=st.now_ms(),
            after=keyset.after,
            before=keyset.before,
            limit=keyset.limit,
        )
    )
    return keyset_page(count, rows, keyset, lambda i: (i["id"],), invitation_json)


@bp.post("/groups/<int:group_id>/invitations/")
@validate_request(InvitationIn)
@security_scheme(BEARER)
@document_response(InvitationOut, 201)
@documents_errors(400, 401, 403, 404, 409, 413, 415, 422)
async def invite(group_id: int, data: InvitationIn) -> tuple[dict[str, Any], int]:
    """Invite an account, with a message and an expiry (moderators and above). 409
    `already_member`, `already_invited`, `banned`."""
    st = state()
    caller = await require_account(st)
    _, role = await load_group(st, group_id, caller.user_id)
    require(role, Action.INVITE)
    now_ms = st.now_ms()
    try:
        invitation = await _write(
            lambda conn: group_store.create_invitation(
                conn,
                group_id,
                data.user_id,
                invited_by=caller.user_id,
                message=data.message,
                expires_at_ms=now_ms + data.expires_in_s * 1000,
                now_ms=now_ms,
            )
        )
    except NotFoundError:
        raise ApiError(
            404,
            "user_not_found",
            f"no account has id {data.user_id!r}",
            details=[("user_id", "no such account")],
        ) from None
    except ApiError as exc:
        if exc.code == "banned":  # a ban is the group's business, not the invitee's state
            raise ApiError(409, "user_banned", exc.message) from None
        raise
    logger.info("account %s invited %s into group %d", caller.user_id, data.user_id, group_id)
    return invitation_json(invitation), 201


@bp.post("/groups/<int:group_id>/invitations/<int:invitation_id>/respond/")
@validate_request(RespondIn)
@security_scheme(BEARER)
@document_response(InvitationOut, 200)
@documents_errors(400, 401, 403, 404, 409, 413, 415, 422)
async def respond_invitation(group_id: int, invitation_id: int, data: RespondIn) -> dict[str, Any]:
    """Accept (join) or decline an invitation, as its invitee. 409
    `invitation_expired`, `not_pending`, `group_full`."""
    st = state()
    caller = await require_account(st)
    invitation = None
    if invitation_id < 2**63:
        invitation = await st.db.read(group_store.find_invitation, invitation_id, st.now_ms())
    if (
        invitation is None
        or invitation["group_id"] != group_id
        or invitation["user_id"] != caller.user_id
    ):
        raise ApiError(404, "invitation_not_found", f"you have no invitation {invitation_id}")
    result = await _write(
        lambda conn: group_store.respond_invitation(
            conn, invitation_id, accept=data.accept, now_ms=st.now_ms()
        )
    )
    return invitation_json(result)


@bp.get("/invitations/")
@validate_querystring(CursorQuery)
@security_scheme(BEARER)
@document_response(Page[InvitationOut], 200)
@documents_errors(400, 401, 403, 422)
async def my_invitations(query_args: CursorQuery) -> dict[str, Any]:
    """The caller's pending (unexpired) invitations, newest first."""
    st = state()
    caller = await require_account(st)
    keyset = keyset_of(query_args, _ID)
    count, rows = await st.db.read(
        lambda conn: group_store.list_invitations(
            conn,
            user_id=caller.user_id,
            pending_only=True,
            now_ms=st.now_ms(),
            after=keyset.after,
            before=keyset.before,
            limit=keyset.limit,
        )
    )
    return keyset_page(count, rows, keyset, lambda i: (i["id"],), invitation_json)


# --- join requests ----------------------------------------------------------------------------


@bp.get("/groups/<int:group_id>/join-requests/")
@validate_querystring(CursorQuery)
@security_scheme(BEARER)
@document_response(Page[JoinRequestOut], 200)
@documents_errors(400, 401, 403, 404, 422)
async def list_join_requests(group_id: int, query_args: CursorQuery) -> dict[str, Any]:
    """Pending requests to join, newest first (moderators and above)."""
    st = state()
    caller = await require_account(st)
    _, role = await load_group(st, group_id, caller.user_id)
    require(role, Action.DECIDE_REQUESTS)
    keyset = keyset_of(query_args, _ID)
    count, rows = await st.db.read(
        lambda conn: group_store.list_join_requests(
            conn, group_id, after=keyset.after, before=keyset.before, limit=keyset.limit
        )
    )
    return keyset_page(count, rows, keyset, lambda r: (r["id"],), join_request_json)


@bp.post("/groups/<int:group_id>/join-requests/")
@validate_request(JoinRequestIn)
@security_scheme(BEARER)
@document_response(JoinRequestOut, 201)
@documents_errors(400, 401, 403, 404, 409, 413, 415, 422)
async def request_to_join(group_id: int, data: JoinRequestIn) -> tuple[dict[str, Any], int]:
    """Ask to join a private group (a public one is joined directly: 409
    `public_group`). 409 `already_member`, `already_requested`; 403 `banned`.

    A private group is a 404 to strangers, so its link (its id) is what a stranger
    needs: the request is accepted for any existing private group."""
    st = state()
    caller = await require_account(st)
    group = await st.db.read(group_store.find_group, group_id) if group_id < 2**63 else None
    if group is None:
        raise group_not_found(group_id)
    if group["privacy"] == "public":
        raise ApiError(409, "public_group", "a public group is joined directly: POST …/join/")
    request = await _write(
        lambda conn: group_store.create_join_request(
            conn, group_id, caller.user_id, message=data.message, now_ms=st.now_ms()
        )
    )
    return join_request_json(request), 201


async def _decide(group_id: int, request_id: int, approve: bool) -> dict[str, Any]:
    st = state()
    caller = await require_account(st)
    _, role = await load_group(st, group_id, caller.user_id)
    require(role, Action.DECIDE_REQUESTS)
    request = None
    if request_id < 2**63:
        request = await st.db.read(group_store.find_join_request, request_id)
    if request is None or request["group_id"] != group_id:
        raise ApiError(404, "join_request_not_found", f"no join request {request_id} here")
    result = await _write(
        lambda conn: group_store.decide_join_request(
            conn, request_id, approve=approve, decided_by=caller.user_id, now_ms=st.now_ms()
        )
    )
    return join_request_json(result)


@bp.post("/groups/<int:group_id>/join-requests/<int:request_id>/approve/")
@security_scheme(BEARER)
@document_response(JoinRequestOut, 200)
@documents_errors(401, 403, 404, 409)
async def approve_join_request(group_id: int, request_id: int) -> dict[str, Any]:
    """Approve a request: the requester joins (moderators and above). 409
    `group_full`, `not_pending`."""
    return await _decide(group_id, request_id, True)


@bp.post("/groups/<int:group_id>/join-requests/<int:request_id>/deny/")
@security_scheme(BEARER)
@document_response(JoinRequestOut, 200)
@documents_errors(401, 403, 404, 409)
async def deny_join_request(group_id: int, request_id: int) -> dict[str, Any]:
    """Deny a request (moderators and above)."""
    return await _decide(group_id, request_id, False)


# --- posts and reactions ----------------------------------------------------------------------


async def _posts_json(posts: list[dict[str, Any]], user_id: str | None) -> list[dict[str, Any]]:
    mine = await state().db.read(group_store.reactions_by, [p["id"] for p in posts], user_id)
    return [post_json(p, mine.get(p["id"], [])) for p in posts]


@bp.get("/groups/<int:group_id>/posts/")
@validate_querystring(CursorQuery)
@security_scheme(OPTIONAL_BEARER)
@document_response(Page[PostOut], 200)
@documents_errors(400, 401, 403, 404, 422)
async def list_posts(group_id: int, query_args: CursorQuery) -> dict[str, Any]:
    """The group's posts, newest first, with exact reaction counts."""
    st = state()
    user_id = await optional_caller_id(st)
    group, role = await load_group(st, group_id, user_id)
    require_content(group, role)
    keyset = keyset_of(query_args, _ID)
    rows = await st.db.read(
        lambda conn: group_store.list_posts(
            conn, group_id, after=keyset.after, before=keyset.before, limit=keyset.limit
        )
    )
    body = keyset_page(group["post_count"], rows, keyset, lambda p: (p["id"],))
    body["results"] = await _posts_json(body["results"], user_id)
    return body


@bp.post("/groups/<int:group_id>/posts/")
@validate_request(PostIn)
@security_scheme(BEARER)
@document_response(PostOut, 201)
@documents_errors(400, 401, 403, 404, 409, 413, 415, 422)
async def create_post(group_id: int, data: PostIn) -> tuple[dict[str, Any], int]:
    """Post in a group (members), optionally pointing at a library video the caller
    may see."""
    st = state()
    caller = await require_account(st)
    _, role = await load_group(st, group_id, caller.user_id)
    require(role, Action.POST)
    if data.video_id is not None:
        videos.require_view(
            await videos.load_video(st, data.video_id), videos.viewer_of(caller.user)
        )
    post = await _write(
        lambda conn: group_store.create_post(
            conn,
            group_id,
            caller.user_id,
            content=data.content,
            video_id=data.video_id,
            now_ms=st.now_ms(),
        )
    )
    return (await _posts_json([post], caller.user_id))[0], 201


async def _load_post(group_id: int, post_id: int, user_id: str | None) -> tuple[Any, Any, Any]:
    st = state()
    group, role = await load_group(st, group_id, user_id)
    require_content(group, role)
    post = await st.db.read(group_store.find_post, post_id) if post_id < 2**63 else None
    if post is None or post["group_id"] != group_id:
        raise ApiError(404, "post_not_found", f"no post {post_id} in group {group_id}")
    return group, role, post


@bp.get("/groups/<int:group_id>/posts/<int:post_id>/")
@security_scheme(OPTIONAL_BEARER)
@document_response(PostOut, 200)
@documents_errors(401, 403, 404)
async def get_post(group_id: int, post_id: int) -> dict[str, Any]:
    """One post."""
    user_id = await optional_caller_id(state())
    _, _, post = await _load_post(group_id, post_id, user_id)
    return (await _posts_json([post], user_id))[0]


async def _edit(group_id: int, post_id: int, data: PostUpdateIn) -> dict[str, Any]:
    st = state()
    caller = await require_account(st)
    _, role, post = await _load_post(group_id, post_id, caller.user_id)
    if post["author_id"] != caller.user_id or role is None:
        raise ApiError(403, "forbidden", "only the post's author, while a member, may edit it")
    try:
        post = await st.db.write(group_store.update_post, post_id, data.content, st.now_ms())
    except NotFoundError:
        raise ApiError(404, "post_not_found", f"no post {post_id}") from None
    return (await _posts_json([post], caller.user_id))[0]


@bp.put("/groups/<int:group_id>/posts/<int:post_id>/")
@validate_request(PostUpdateIn)
@security_scheme(BEARER)
@document_response(PostOut, 200)
@documents_errors(400, 401, 403, 404, 413, 415, 422)
async def replace_post(group_id: int, post_id: int, data: PostUpdateIn) -> dict[str, Any]:
    """Edit a post (its author); a changed text counts an edit (`edit_count`,
    `edited_at`)."""
    return await _edit(group_id, post_id, data)


@bp.patch("/groups/<int:group_id>/posts/<int:post_id>/")
@validate_request(PostUpdateIn)
@security_scheme(BEARER)
@document_response(PostOut, 200)
@documents_errors(400, 401, 403, 404, 413, 415, 422)
async def patch_post(group_id: int, post_id: int, data: PostUpdateIn) -> dict[str, Any]:
    """Edit a post (its author), as PUT."""
    return await _edit(group_id, post_id, data)


@bp.delete("/groups/<int:group_id>/posts/<int:post_id>/")
@security_scheme(BEARER)
@documents_errors(401, 403, 404)
@documents_no_content
async def delete_post(group_id: int, post_id: int) -> tuple[str, int]:
    """Delete a post: its author, or a moderator and above."""
    st = state()
    caller = await require_account(st)
    _, role, post = await _load_post(group_id, post_id, caller.user_id)
    if post["author_id"] != caller.user_id:
        require(role, Action.DELETE_ANY_POST)
    await st.db.write(group_store.delete_post, post_id)
    return "", 204


@bp.post("/groups/<int:group_id>/posts/<int:post_id>/react/")
@validate_request(ReactIn)
@security_scheme(BEARER)
@document_response(ReactOut, 200)
@documents_errors(400, 401, 403, 404, 413, 415, 422)
async def react(group_id: int, post_id: int, data: ReactIn) -> dict[str, Any]:
    """Put an emoji reaction on a post, or take it back when it is there (members)."""
    st = state()
    caller = await require_account(st)
    _, role, _ = await _load_post(group_id, post_id, caller.user_id)
    require(role, Action.POST)
    try:
        reacted, counts = await st.db.write(
            group_store.toggle_reaction, post_id, caller.user_id, data.emoji, st.now_ms()
        )
    except NotFoundError:
        raise ApiError(404, "post_not_found", f"no post {post_id}") from None
    return {
        "reacted": reacted,
        "emoji": data.emoji,
        "count": counts.get(data.emoji, 0),
        "reaction_counts": counts,
    }
