"""Who may do what in a group: the one permission table and the one check.

Roles, from the highest: ``owner`` (exactly one a group), ``admin``, ``moderator``,
``member``. :data:`PERMISSIONS` names the roles allowed each :class:`Action`; actions
aimed at another member (:data:`TARGETED`) also need the actor to rank strictly above
that member, and a role given (``change_role``) must rank strictly below the actor's.
So an admin manages moderators and members but not another admin, and only the owner
makes admins. :func:`check` is the only place these rules are applied; routes call it
through :func:`admin_app.groups.service.require`.

======================  =====  =====  =========  ======
action                  owner  admin  moderator  member
======================  =====  =====  =========  ======
post (and react)        yes    yes    yes        yes
edit_group              yes    yes
delete_group            yes
invite                  yes    yes    yes
decide_requests         yes    yes    yes
remove_member           yes    yes    yes
ban_member              yes    yes
change_role             yes    yes
delete_any_post         yes    yes    yes
transfer_ownership      yes
======================  =====  =====  =========  ======
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

from admin_app.core.errors import ApiError
from data.groups import ROLE_RANK, ROLES


class Action(StrEnum):
    """What a member may try to do in a group."""

    POST = "post"
    EDIT_GROUP = "edit_group"
    DELETE_GROUP = "delete_group"
    INVITE = "invite"
    DECIDE_REQUESTS = "decide_requests"
    REMOVE_MEMBER = "remove_member"
    BAN_MEMBER = "ban_member"
    CHANGE_ROLE = "change_role"
    DELETE_ANY_POST = "delete_any_post"
    TRANSFER_OWNERSHIP = "transfer_ownership"


_STAFF = frozenset({"owner", "admin", "moderator"})
_ADMINS = frozenset({"owner", "admin"})
_OWNER = frozenset({"owner"})

#: The roles allowed each action (the table in the module docstring).
PERMISSIONS: Mapping[Action, frozenset[str]] = {
    Action.POST: frozenset(ROLES),
    Action.EDIT_GROUP: _ADMINS,
    Action.DELETE_GROUP: _OWNER,
    Action.INVITE: _STAFF,
    Action.DECIDE_REQUESTS: _STAFF,
    Action.REMOVE_MEMBER: _STAFF,
    Action.BAN_MEMBER: _ADMINS,
    Action.CHANGE_ROLE: _ADMINS,
    Action.DELETE_ANY_POST: _STAFF,
    Action.TRANSFER_OWNERSHIP: _OWNER,
}

#: Actions on another member: the actor must rank strictly above the target.
TARGETED = frozenset({Action.REMOVE_MEMBER, Action.BAN_MEMBER, Action.CHANGE_ROLE})


def allowed(
    role: str | None,
    action: Action,
    *,
    target_role: str | None = None,
    new_role: str | None = None,
) -> bool:
    """Whether a member of *role* (None: not a member) may do *action*.

    Args:
        role: The actor's role, or None.
        action: What it tries.
        target_role: The role of the member acted on (for :data:`TARGETED` actions;
            None when the target is not a member, as for banning an outsider).
        new_role: The role given, for ``change_role``.
    """
    if role is None or role not in PERMISSIONS[action]:
        return False
    rank = ROLE_RANK[role]
    if action in TARGETED and target_role is not None and ROLE_RANK[target_role] <= rank:
        return False
    return not (
        action is Action.CHANGE_ROLE and new_role is not None and ROLE_RANK[new_role] <= rank
    )


def check(
    role: str | None,
    action: Action,
    *,
    target_role: str | None = None,
    new_role: str | None = None,
) -> None:
    """Raise unless :func:`allowed`.

    Raises:
        ApiError: 403 ``not_a_member`` when *role* is None; 403 ``insufficient_role``
            when the role does not allow *action*, or does not rank above the target
            or the role given.
    """
    if allowed(role, action, target_role=target_role, new_role=new_role):
        return
    if role is None:
        raise ApiError(403, "not_a_member", f"only members of the group may {_say(action)}")
    if role not in PERMISSIONS[action]:
        roles = ", ".join(r for r in ROLES if r in PERMISSIONS[action])
        raise ApiError(
            403,
            "insufficient_role",
            f"to {_say(action)} a member needs the role {roles}; this account is {role}",
        )
    if new_role is not None and ROLE_RANK[new_role] <= ROLE_RANK[role]:
        raise ApiError(
            403, "insufficient_role", f"a {role} may only give roles below its own, not {new_role}"
        )
    raise ApiError(
        403,
        "insufficient_role",
        f"a {role} may not {_say(action)} a member whose role is {target_role}",
    )


def _say(action: Action) -> str:
    return action.value.replace("_", " ")
