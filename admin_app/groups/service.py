"""The rules of social groups, and what other domains may ask of them.

For other domains (events, rooms), callable inside ``Database.read``:

* :func:`is_member` ``(conn, group_id, user_id) -> bool``
* :func:`shares_group` ``(conn, user_a, user_b) -> bool``: whether two accounts are in
  a group together (an event's ``friends_only``).

For the routes: who may see a group (:func:`load_group`: a private group is a 404 to
anyone but its members and the people invited into it), the permission check
(:func:`require`, over the one table of :mod:`admin_app.groups.permissions`), the
conversion of the data layer's refusals (:func:`refusal`) and the JSON of each thing.
"""

from __future__ import annotations

from typing import Any

from admin_app.core.caller import Caller, authenticate, require_caller
from admin_app.core.errors import ApiError
from admin_app.core.state import WebState
from admin_app.core.times import iso_ms
from data import groups as group_store
from data.groups import GroupConflictError

from .permissions import Action, check

#: HTTP status of each refusal of the data layer (409 unless named).
_REFUSAL_STATUS = {"banned": 403}


def is_member(conn: Any, group_id: int, user_id: str) -> bool:
    """Whether *user_id* is a member of group *group_id* (any role); run it in
    ``Database.read`` or ``Database.write``."""
    return group_store.role_of(conn, group_id, user_id) is not None


def shares_group(db_conn: Any, user_a: str, user_b: str) -> bool:
    """Whether accounts *user_a* and *user_b* are members of at least one group
    together; run it in ``Database.read`` or ``Database.write``."""
    return group_store.shares_group(db_conn, user_a, user_b)


def require(
    role: str | None,
    action: Action,
    *,
    target_role: str | None = None,
    new_role: str | None = None,
) -> None:
    """The one permission check of the domain (:func:`admin_app.groups.permissions.check`).

    Raises:
        ApiError: 403 ``not_a_member`` or ``insufficient_role``.
    """
    check(role, action, target_role=target_role, new_role=new_role)


def refusal(exc: GroupConflictError) -> ApiError:
    """The API error for a refusal of the data layer: 403 ``banned``, else 409 with
    its code (``group_full``, ``already_member``, ``not_member``, ``owner``, ...)."""
    code = exc.code
    if code == "owner":
        code = "owner_cannot_leave"
    return ApiError(_REFUSAL_STATUS.get(exc.code, 409), code, exc.message)


def group_not_found(group_id: int) -> ApiError:
    return ApiError(404, "group_not_found", f"no group has id {group_id}")


async def require_account(st: WebState) -> Caller:
    """The caller, who must have an account (guests take no part in groups).

    Raises:
        ApiError: 401 without a token; 403 ``account_required`` for a guest.
    """
    caller = await require_caller(st)
    if caller.user["is_guest"]:
        raise ApiError(403, "account_required", "groups are for accounts; sign up first")
    return caller


async def optional_caller_id(st: WebState) -> str | None:
    caller = await authenticate(st)
    return None if caller is None else caller.user_id


async def load_group(
    st: WebState, group_id: int, user_id: str | None
) -> tuple[dict[str, Any], str | None]:
    """A group the caller may know of, and the caller's role in it (None: not a member).

    Raises:
        ApiError: 404 ``group_not_found`` when there is no such group, or it is private
            and *user_id* is neither a member nor invited (a stranger cannot tell).
    """
    now_ms = st.now_ms()

    def read(conn: Any) -> tuple[dict[str, Any] | None, str | None, bool]:
        group = group_store.find_group(conn, group_id)
        if group is None:
            return None, None, False
        role = group_store.role_of(conn, group_id, user_id)
        invited = role is None and group_store.has_pending_invitation(
            conn, group_id, user_id, now_ms
        )
        return group, role, invited

    if not 1 <= group_id < 2**63:
        raise group_not_found(group_id)
    group, role, invited = await st.db.read(read)
    if group is None or (group["privacy"] == "private" and role is None and not invited):
        raise group_not_found(group_id)
    return group, role


def may_read_content(group: dict[str, Any], role: str | None) -> bool:
    """Members and posts of a public group are open to all; a private group's to members."""
    return group["privacy"] == "public" or role is not None


def require_content(group: dict[str, Any], role: str | None) -> None:
    """Raise 403 ``not_a_member`` unless :func:`may_read_content`."""
    if not may_read_content(group, role):
        raise ApiError(403, "not_a_member", "only members see a private group's members and posts")


# --- JSON -------------------------------------------------------------------------------------


def group_json(group: dict[str, Any], my_role: str | None) -> dict[str, Any]:
    body = {
        "id": group["id"],
        "name": group["name"],
        "description": group["description"],
        "category": group["category"],
        "avatar_url": group["avatar_url"],
        "privacy": group["privacy"],
        "max_members": group["max_members"],
        "member_count": group["member_count"],
        "post_count": group["post_count"],
        "owner_id": group["owner_id"],
        "my_role": my_role,
        "created_at": iso_ms(group["created_at_ms"]),
        "updated_at": iso_ms(group["updated_at_ms"]),
    }
    if "joined_at_ms" in group:
        body["joined_at"] = iso_ms(group["joined_at_ms"])
    return body


def member_json(member: dict[str, Any]) -> dict[str, Any]:
    return {
        "user": {"id": member["user_id"], "display_name": member["display_name"]},
        "role": member["role"],
        "joined_at": iso_ms(member["joined_at_ms"]),
    }


def ban_json(ban: dict[str, Any]) -> dict[str, Any]:
    return {
        "user": {"id": ban["user_id"], "display_name": ban["display_name"]},
        "banned_by": ban["banned_by"],
        "reason": ban["reason"],
        "created_at": iso_ms(ban["created_at_ms"]),
    }


def invitation_json(invitation: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": invitation["id"],
        "group_id": invitation["group_id"],
        "group_name": invitation["group_name"],
        "user": {"id": invitation["user_id"], "display_name": invitation["display_name"]},
        "invited_by": invitation["invited_by"],
        "message": invitation["message"],
        "status": invitation["status"],
        "created_at": iso_ms(invitation["created_at_ms"]),
        "expires_at": iso_ms(invitation["expires_at_ms"]),
        "responded_at": iso_ms(invitation["responded_at_ms"]),
    }


def join_request_json(request: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": request["id"],
        "group_id": request["group_id"],
        "user": {"id": request["user_id"], "display_name": request["display_name"]},
        "message": request["message"],
        "status": request["status"],
        "decided_by": request["decided_by"],
        "created_at": iso_ms(request["created_at_ms"]),
        "decided_at": iso_ms(request["decided_at_ms"]),
    }


def post_json(post: dict[str, Any], mine: list[str]) -> dict[str, Any]:
    return {
        "id": post["id"],
        "group_id": post["group_id"],
        "author": {"id": post["author_id"], "display_name": post["author_name"]},
        "content": post["content"],
        "video_id": post["video_id"],
        "is_edited": post["edit_count"] > 0,
        "edit_count": post["edit_count"],
        "edited_at": iso_ms(post["edited_at_ms"]),
        "created_at": iso_ms(post["created_at_ms"]),
        "reaction_counts": post["reaction_counts"],
        "my_reactions": mine,
    }


__all__ = [
    "Action",
    "group_json",
    "is_member",
    "load_group",
    "require",
    "shares_group",
]
