"""Social groups: groups, memberships with roles, bans, invitations, join requests,
posts and their reactions.

Every function takes a ``sqlite_utils.Database`` first and is meant to run inside
``Database.write`` or ``Database.read`` (one transaction a call, so a check and the
write it guards cannot be separated by another writer). Times are milliseconds since
the Unix epoch. ``member_count``, ``post_count`` and ``reaction_counts`` are kept by
triggers (``data/migrations/m0004_groups.py``).

Who may do what is the web app's business (``admin_app/groups/permissions.py``); the
rules here are those of the data itself: capacity, bans, one owner, one pending
invitation or request per person, and they raise :class:`GroupConflictError`.

Lists page by keyset (``after`` / ``before`` a sort key, ``limit`` rows), see
:class:`admin_app.core.pagination.Keyset`: members by
``(role_rank, joined_at_ms, user_id)``, a user's groups by ``(joined_at_ms, group_id)``
newest first, groups, posts, invitations and requests by id newest first.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

import sqlite_utils

from .errors import NotFoundError, StoreError

#: Roles, from the highest; the index is the stored ``role_rank``.
ROLES = ("owner", "admin", "moderator", "member")
ROLE_RANK = {role: rank for rank, role in enumerate(ROLES)}

Key = tuple[Any, ...]


class GroupConflictError(StoreError):
    """A write that the group's state refuses.

    Attributes:
        code: ``group_full``, ``already_member``, ``not_member``, ``banned``,
            ``already_invited``, ``already_requested``, ``not_pending``,
            ``invitation_expired`` or ``max_members_below_count``.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


_GROUP_COLUMNS = (
    "id, name, description, category, avatar_url, privacy, max_members, member_count, "
    "post_count, created_at_ms, updated_at_ms"
)
_GROUP_KEYS = tuple(_GROUP_COLUMNS.split(", "))
_GROUP_SELECT = (
    f"SELECT {', '.join('g.' + k for k in _GROUP_KEYS)}, "
    "(SELECT user_id FROM group_members WHERE group_id = g.id AND role_rank = 0)"
    "{extra} FROM social_groups AS g"
)


def _group(row: Sequence[Any]) -> dict[str, Any]:
    group = dict(zip(_GROUP_KEYS, row[: len(_GROUP_KEYS)], strict=True))
    group["owner_id"] = row[len(_GROUP_KEYS)]
    return group


# --- groups -----------------------------------------------------------------------------------


def create_group(
    db: sqlite_utils.Database,
    *,
    owner_id: str,
    name: str,
    description: str,
    category: str,
    avatar_url: str | None,
    privacy: str,
    max_members: int,
    now_ms: int,
) -> dict[str, Any]:
    """Create a group with *owner_id* as its owner and only member; return it."""
    cursor = db.execute(
        "INSERT INTO social_groups (name, description, category, avatar_url, privacy, "
        "max_members, created_by, created_at_ms, updated_at_ms) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [name, description, category, avatar_url, privacy, max_members, owner_id, now_ms, now_ms],
    )
    group_id = int(cursor.lastrowid or 0)
    _insert_member(db, group_id, owner_id, "owner", now_ms)
    return get_group(db, group_id)


def find_group(db: sqlite_utils.Database, group_id: int) -> dict[str, Any] | None:
    """The group with *group_id* (with its ``owner_id``), or None."""
    row = db.execute(f"{_GROUP_SELECT.format(extra='')} WHERE g.id = ?", [group_id]).fetchone()
    return None if row is None else _group(row)


def get_group(db: sqlite_utils.Database, group_id: int) -> dict[str, Any]:
    """As :func:`find_group`; raises NotFoundError when there is none."""
    group = find_group(db, group_id)
    if group is None:
        raise NotFoundError(f"expected a group with id {group_id}, got none")
    return group


def update_group(
    db: sqlite_utils.Database, group_id: int, changes: dict[str, Any], now_ms: int
) -> dict[str, Any]:
    """Change some of ``name``, ``description``, ``category``, ``avatar_url``,
    ``privacy``, ``max_members``; return the group.

    Raises:
        NotFoundError: no such group.
        GroupConflictError: ``max_members_below_count`` when *max_members* is under
            the current member count.
    """
    group = get_group(db, group_id)
    allowed = ("name", "description", "category", "avatar_url", "privacy", "max_members")
    fields = {k: v for k, v in changes.items() if k in allowed}
    limit = fields.get("max_members")
    if limit is not None and limit < group["member_count"]:
        raise GroupConflictError(
            "max_members_below_count",
            f"expected max_members of at least the {group['member_count']} current members, "
            f"got {limit}",
        )
    if fields:
        sets = ", ".join(f"{k} = ?" for k in fields)
        db.execute(
            f"UPDATE social_groups SET {sets}, updated_at_ms = ? WHERE id = ?",
            [*fields.values(), now_ms, group_id],
        )
    return get_group(db, group_id)


def delete_group(db: sqlite_utils.Database, group_id: int) -> bool:
    """Delete a group and everything in it; return whether it existed."""
    return db.execute("DELETE FROM social_groups WHERE id = ?", [group_id]).rowcount > 0


def list_groups(
    db: sqlite_utils.Database,
    *,
    viewer_id: str | None,
    search: str | None,
    category: str | None,
    after: Key | None,
    before: Key | None,
    limit: int,
) -> tuple[int, list[dict[str, Any]]]:
    """Groups *viewer_id* may see (public ones, and private ones it belongs to), newest
    first, filtered by a case-insensitive substring of the name and an exact category.

    Returns:
        ``(count of all such groups, the rows of this page)``; rows carry ``my_role``.
    """
    where = ["(g.privacy = 'public' OR m.user_id IS NOT NULL)"]
    params: list[Any] = []
    if search:
        escaped = search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        where.append("g.name LIKE ? ESCAPE '\\'")
        params.append(f"%{escaped}%")
    if category is not None:
        where.append("g.category = ?")
        params.append(category)
    join = " LEFT JOIN group_members AS m ON m.group_id = g.id AND m.user_id = ?"
    clause = " WHERE " + " AND ".join(where)
    (count,) = db.execute(
        f"SELECT count(*) FROM social_groups AS g{join}{clause}", [viewer_id, *params]
    ).fetchone()
    page_where, order = _id_keyset("g.id", after, before)
    rows = db.execute(
        f"{_GROUP_SELECT.format(extra=', m.role')}{join}{clause}{page_where} "
        f"ORDER BY g.id {order} LIMIT ?",
        [viewer_id, *params, *_key_params(after, before), limit],
    ).fetchall()
    groups = []
    for row in rows:
        group = _group(row[:-1])
        group["my_role"] = row[-1]
        groups.append(group)
    return int(count), _in_order(groups, before)


def list_user_groups(
    db: sqlite_utils.Database,
    user_id: str,
    *,
    after: Key | None,
    before: Key | None,
    limit: int,
) -> tuple[int, list[dict[str, Any]]]:
    """The groups *user_id* belongs to, most recently joined first.

    Returns:
        ``(count, rows)``; each row is the group with ``my_role`` and ``joined_at_ms``.
        Sort key ``(joined_at_ms, id)``.
    """
    (count,) = db.execute(
        "SELECT count(*) FROM group_members WHERE user_id = ?", [user_id]
    ).fetchone()
    page_where = ""
    order = "DESC"
    params: list[Any] = [user_id]
    if after is not None:
        page_where = " AND (m.joined_at_ms, m.group_id) < (?, ?)"
        params.extend(after)
    elif before is not None:
        page_where = " AND (m.joined_at_ms, m.group_id) > (?, ?)"
        params.extend(before)
        order = "ASC"
    rows = db.execute(
        f"{_GROUP_SELECT.format(extra=', m.role, m.joined_at_ms')} "
        f"JOIN group_members AS m ON m.group_id = g.id WHERE m.user_id = ?{page_where} "
        f"ORDER BY m.joined_at_ms {order}, m.group_id {order} LIMIT ?",
        [*params, limit],
    ).fetchall()
    groups = []
    for row in rows:
        group = _group(row[:-2])
        group["my_role"], group["joined_at_ms"] = row[-2], row[-1]
        groups.append(group)
    return int(count), _in_order(groups, before)


# --- members ----------------------------------------------------------------------------------


def role_of(db: sqlite_utils.Database, group_id: int, user_id: str | None) -> str | None:
    """*user_id*'s role in the group, or None when it is not a member."""
    if user_id is None:
        return None
    row = db.execute(
        "SELECT role FROM group_members WHERE group_id = ? AND user_id = ?", [group_id, user_id]
    ).fetchone()
    return None if row is None else str(row[0])


def find_member(db: sqlite_utils.Database, group_id: int, user_id: str) -> dict[str, Any] | None:
    """One membership as :func:`list_members` rows, or None."""
    row = db.execute(
        "SELECT m.user_id, u.display_name, m.role, m.role_rank, m.joined_at_ms "
        "FROM group_members AS m JOIN users AS u ON u.id = m.user_id "
        "WHERE m.group_id = ? AND m.user_id = ?",
        [group_id, user_id],
    ).fetchone()
    keys = ("user_id", "display_name", "role", "role_rank", "joined_at_ms")
    return None if row is None else dict(zip(keys, row, strict=True))


def user_exists(db: sqlite_utils.Database, user_id: str) -> bool:
    return db.execute("SELECT 1 FROM users WHERE id = ?", [user_id]).fetchone() is not None


def is_banned(db: sqlite_utils.Database, group_id: int, user_id: str) -> bool:
    return (
        db.execute(
            "SELECT 1 FROM group_bans WHERE group_id = ? AND user_id = ?", [group_id, user_id]
        ).fetchone()
        is not None
    )


def shares_group(db: sqlite_utils.Database, user_a: str, user_b: str) -> bool:
    """Whether two accounts are members of at least one group together."""
    row = db.execute(
        "SELECT 1 FROM group_members AS a JOIN group_members AS b "
        "ON b.group_id = a.group_id AND b.user_id = ? WHERE a.user_id = ? LIMIT 1",
        [user_b, user_a],
    ).fetchone()
    return row is not None


def _insert_member(
    db: sqlite_utils.Database, group_id: int, user_id: str, role: str, now_ms: int
) -> None:
    db.execute(
        "INSERT INTO group_members (group_id, user_id, role, role_rank, joined_at_ms) "
        "VALUES (?, ?, ?, ?, ?)",
        [group_id, user_id, role, ROLE_RANK[role], now_ms],
    )


def add_member(db: sqlite_utils.Database, group_id: int, user_id: str, now_ms: int) -> None:
    """Make *user_id* a ``member`` of the group.

    Raises:
        NotFoundError: no such group.
        GroupConflictError: ``banned``, ``already_member`` or ``group_full``.
    """
    group = get_group(db, group_id)
    if is_banned(db, group_id, user_id):
        raise GroupConflictError("banned", f"account {user_id} is banned from group {group_id}")
    if role_of(db, group_id, user_id) is not None:
        raise GroupConflictError(
            "already_member", f"account {user_id} is already a member of group {group_id}"
        )
    if group["member_count"] >= group["max_members"]:
        raise GroupConflictError(
            "group_full", f"group {group_id} is full ({group['max_members']} members)"
        )
    _insert_member(db, group_id, user_id, "member", now_ms)
    # Whatever was pending for this person is settled by their joining.
    db.execute(
        "UPDATE group_join_requests SET status = 'cancelled', decided_at_ms = ? "
        "WHERE group_id = ? AND user_id = ? AND status = 'pending'",
        [now_ms, group_id, user_id],
    )
    db.execute(
        "UPDATE group_invitations SET status = 'cancelled', responded_at_ms = ? "
        "WHERE group_id = ? AND user_id = ? AND status = 'pending'",
        [now_ms, group_id, user_id],
    )


def remove_member(db: sqlite_utils.Database, group_id: int, user_id: str) -> bool:
    """Remove a membership; return whether there was one. The owner is never removed
    here (hand ownership over first): raises GroupConflictError ``owner``."""
    if role_of(db, group_id, user_id) == "owner":
        raise GroupConflictError("owner", "the owner must hand ownership over first")
    return (
        db.execute(
            "DELETE FROM group_members WHERE group_id = ? AND user_id = ?", [group_id, user_id]
        ).rowcount
        > 0
    )


def set_role(db: sqlite_utils.Database, group_id: int, user_id: str, role: str) -> None:
    """Give a member another role (not ``owner``: :func:`transfer_ownership`).

    Raises:
        GroupConflictError: ``not_member``.
    """
    if role == "owner":
        raise ValueError("ownership is handed over with transfer_ownership")
    changed = db.execute(
        "UPDATE group_members SET role = ?, role_rank = ? WHERE group_id = ? AND user_id = ? "
        "AND role != 'owner'",
        [role, ROLE_RANK[role], group_id, user_id],
    ).rowcount
    if not changed:
        raise GroupConflictError(
            "not_member", f"account {user_id} is not a member of group {group_id}"
        )


def transfer_ownership(
    db: sqlite_utils.Database, group_id: int, owner_id: str, new_owner_id: str
) -> None:
    """Make *new_owner_id* (a member) the owner; the old owner becomes an admin.

    Raises:
        GroupConflictError: ``not_member`` when *new_owner_id* is not a member,
            ``not_owner`` when *owner_id* is not the owner (any more).
    """
    if role_of(db, group_id, owner_id) != "owner":
        raise GroupConflictError("not_owner", f"account {owner_id} does not own group {group_id}")
    if role_of(db, group_id, new_owner_id) is None or new_owner_id == owner_id:
        raise GroupConflictError(
            "not_member", f"account {new_owner_id} is not another member of group {group_id}"
        )
    db.execute(
        "UPDATE group_members SET role = 'admin', role_rank = 1 WHERE group_id = ? AND user_id = ?",
        [group_id, owner_id],
    )
    db.execute(
        "UPDATE group_members SET role = 'owner', role_rank = 0 WHERE group_id = ? AND user_id = ?",
        [group_id, new_owner_id],
    )


def list_members(
    db: sqlite_utils.Database,
    group_id: int,
    *,
    after: Key | None,
    before: Key | None,
    limit: int,
) -> list[dict[str, Any]]:
    """Members, owner first, then by role and joining time. Sort key
    ``(role_rank, joined_at_ms, user_id)``; rows: ``user_id``, ``display_name``,
    ``role``, ``role_rank``, ``joined_at_ms``."""
    page_where, order = "", "ASC"
    params: list[Any] = [group_id]
    if after is not None:
        page_where = " AND (m.role_rank, m.joined_at_ms, m.user_id) > (?, ?, ?)"
        params.extend(after)
    elif before is not None:
        page_where = " AND (m.role_rank, m.joined_at_ms, m.user_id) < (?, ?, ?)"
        params.extend(before)
        order = "DESC"
    rows = db.execute(
        "SELECT m.user_id, u.display_name, m.role, m.role_rank, m.joined_at_ms "
        "FROM group_members AS m JOIN users AS u ON u.id = m.user_id "
        f"WHERE m.group_id = ?{page_where} "
        f"ORDER BY m.role_rank {order}, m.joined_at_ms {order}, m.user_id {order} LIMIT ?",
        [*params, limit],
    ).fetchall()
    keys = ("user_id", "display_name", "role", "role_rank", "joined_at_ms")
    return _in_order([dict(zip(keys, row, strict=True)) for row in rows], before)


# --- bans -------------------------------------------------------------------------------------


def ban(
    db: sqlite_utils.Database,
    group_id: int,
    user_id: str,
    *,
    banned_by: str,
    reason: str,
    now_ms: int,
) -> None:
    """Ban *user_id*: its membership, pending invitation and request end, and it cannot
    come back until unbanned. Banning again changes the reason.

    Raises:
        GroupConflictError: ``owner`` for the owner.
    """
    remove_member(db, group_id, user_id)
    db.execute(
        "INSERT INTO group_bans (group_id, user_id, banned_by, reason, created_at_ms) "
        "VALUES (?, ?, ?, ?, ?) ON CONFLICT (group_id, user_id) DO UPDATE SET "
        "reason = excluded.reason, banned_by = excluded.banned_by",
        [group_id, user_id, banned_by, reason, now_ms],
    )
    db.execute(
        "UPDATE group_invitations SET status = 'cancelled', responded_at_ms = ? "
        "WHERE group_id = ? AND user_id = ? AND status = 'pending'",
        [now_ms, group_id, user_id],
    )
    db.execute(
        "UPDATE group_join_requests SET status = 'denied', decided_by = ?, decided_at_ms = ? "
        "WHERE group_id = ? AND user_id = ? AND status = 'pending'",
        [banned_by, now_ms, group_id, user_id],
    )


def find_ban(db: sqlite_utils.Database, group_id: int, user_id: str) -> dict[str, Any] | None:
    """One ban as :func:`list_bans` rows, or None."""
    row = db.execute(
        "SELECT b.user_id, u.display_name, b.banned_by, b.reason, b.created_at_ms "
        "FROM group_bans AS b JOIN users AS u ON u.id = b.user_id "
        "WHERE b.group_id = ? AND b.user_id = ?",
        [group_id, user_id],
    ).fetchone()
    keys = ("user_id", "display_name", "banned_by", "reason", "created_at_ms")
    return None if row is None else dict(zip(keys, row, strict=True))


def unban(db: sqlite_utils.Database, group_id: int, user_id: str) -> bool:
    """Lift a ban; return whether there was one."""
    return (
        db.execute(
            "DELETE FROM group_bans WHERE group_id = ? AND user_id = ?", [group_id, user_id]
        ).rowcount
        > 0
    )


def list_bans(
    db: sqlite_utils.Database,
    group_id: int,
    *,
    after: Key | None,
    before: Key | None,
    limit: int,
) -> tuple[int, list[dict[str, Any]]]:
    """Bans, oldest first. Sort key ``(created_at_ms, user_id)``."""
    (count,) = db.execute(
        "SELECT count(*) FROM group_bans WHERE group_id = ?", [group_id]
    ).fetchone()
    page_where, order = "", "ASC"
    params: list[Any] = [group_id]
    if after is not None:
        page_where = " AND (b.created_at_ms, b.user_id) > (?, ?)"
        params.extend(after)
    elif before is not None:
        page_where = " AND (b.created_at_ms, b.user_id) < (?, ?)"
        params.extend(before)
        order = "DESC"
    rows = db.execute(
        "SELECT b.user_id, u.display_name, b.banned_by, b.reason, b.created_at_ms "
        "FROM group_bans AS b JOIN users AS u ON u.id = b.user_id "
        f"WHERE b.group_id = ?{page_where} "
        f"ORDER BY b.created_at_ms {order}, b.user_id {order} LIMIT ?",
        [*params, limit],
    ).fetchall()
    keys = ("user_id", "display_name", "banned_by", "reason", "created_at_ms")
    return int(count), _in_order([dict(zip(keys, r, strict=True)) for r in rows], before)


# --- invitations ------------------------------------------------------------------------------

_INVITATION_COLUMNS = (
    "i.id, i.group_id, g.name, i.user_id, u.display_name, i.invited_by, i.message, i.status, "
    "i.created_at_ms, i.expires_at_ms, i.responded_at_ms"
)
_INVITATION_KEYS = (
    "id, group_id, group_name, user_id, display_name, invited_by, message, status, "
    "created_at_ms, expires_at_ms, responded_at_ms"
).split(", ")
_INVITATION_SELECT = (
    f"SELECT {_INVITATION_COLUMNS} FROM group_invitations AS i "
    "JOIN social_groups AS g ON g.id = i.group_id JOIN users AS u ON u.id = i.user_id"
)


def _invitation(row: Sequence[Any], now_ms: int) -> dict[str, Any]:
    invitation = dict(zip(_INVITATION_KEYS, row, strict=True))
    if invitation["status"] == "pending" and invitation["expires_at_ms"] <= now_ms:
        invitation["status"] = "expired"
    return invitation


def create_invitation(
    db: sqlite_utils.Database,
    group_id: int,
    user_id: str,
    *,
    invited_by: str,
    message: str,
    expires_at_ms: int,
    now_ms: int,
) -> dict[str, Any]:
    """Invite *user_id* into the group.

    Raises:
        NotFoundError: no such account (or group).
        GroupConflictError: ``already_member``, ``banned`` or ``already_invited`` (an
            unexpired invitation is pending).
    """
    if not user_exists(db, user_id):
        raise NotFoundError(f"expected an account with id {user_id!r}, got none")
    get_group(db, group_id)
    if role_of(db, group_id, user_id) is not None:
        raise GroupConflictError("already_member", f"account {user_id} is already a member")
    if is_banned(db, group_id, user_id):
        raise GroupConflictError("banned", f"account {user_id} is banned from group {group_id}")
    db.execute(
        "UPDATE group_invitations SET status = 'expired' WHERE group_id = ? AND user_id = ? "
        "AND status = 'pending' AND expires_at_ms <= ?",
        [group_id, user_id, now_ms],
    )
    if db.execute(
        "SELECT 1 FROM group_invitations WHERE group_id = ? AND user_id = ? AND status = 'pending'",
        [group_id, user_id],
    ).fetchone():
        raise GroupConflictError(
            "already_invited", f"account {user_id} already has a pending invitation"
        )
    cursor = db.execute(
        "INSERT INTO group_invitations (group_id, user_id, invited_by, message, status, "
        "created_at_ms, expires_at_ms) VALUES (?, ?, ?, ?, 'pending', ?, ?)",
        [group_id, user_id, invited_by, message, now_ms, expires_at_ms],
    )
    invitation = find_invitation(db, int(cursor.lastrowid or 0), now_ms)
    assert invitation is not None
    return invitation


def find_invitation(
    db: sqlite_utils.Database, invitation_id: int, now_ms: int
) -> dict[str, Any] | None:
    """An invitation (status ``expired`` once pending past its expiry), or None."""
    row = db.execute(f"{_INVITATION_SELECT} WHERE i.id = ?", [invitation_id]).fetchone()
    return None if row is None else _invitation(row, now_ms)


def has_pending_invitation(
    db: sqlite_utils.Database, group_id: int, user_id: str | None, now_ms: int
) -> bool:
    if user_id is None:
        return False
    row = db.execute(
        "SELECT 1 FROM group_invitations WHERE group_id = ? AND user_id = ? "
        "AND status = 'pending' AND expires_at_ms > ?",
        [group_id, user_id, now_ms],
    ).fetchone()
    return row is not None


def respond_invitation(
    db: sqlite_utils.Database, invitation_id: int, *, accept: bool, now_ms: int
) -> dict[str, Any]:
    """Accept (joining the group) or decline a pending invitation.

    Raises:
        NotFoundError: no such invitation.
        GroupConflictError: ``not_pending``, ``invitation_expired``; on accepting, as
            :func:`add_member` (``banned``, ``already_member``, ``group_full``).
    """
    invitation = find_invitation(db, invitation_id, now_ms)
    if invitation is None:
        raise NotFoundError(f"expected an invitation with id {invitation_id}, got none")
    if invitation["status"] == "expired":
        raise GroupConflictError("invitation_expired", f"invitation {invitation_id} has expired")
    if invitation["status"] != "pending":
        raise GroupConflictError(
            "not_pending", f"invitation {invitation_id} is {invitation['status']}, not pending"
        )
    if accept:
        add_member(db, invitation["group_id"], invitation["user_id"], now_ms)
    db.execute(
        "UPDATE group_invitations SET status = ?, responded_at_ms = ? WHERE id = ?",
        ["accepted" if accept else "declined", now_ms, invitation_id],
    )
    result = find_invitation(db, invitation_id, now_ms)
    assert result is not None
    return result


def list_invitations(
    db: sqlite_utils.Database,
    *,
    group_id: int | None = None,
    user_id: str | None = None,
    pending_only: bool,
    now_ms: int,
    after: Key | None,
    before: Key | None,
    limit: int,
) -> tuple[int, list[dict[str, Any]]]:
    """A group's invitations (*group_id*) or an account's (*user_id*), newest first;
    *pending_only*: unexpired pending ones. Sort key ``(id,)``."""
    where = ["i.group_id = ?" if group_id is not None else "i.user_id = ?"]
    params: list[Any] = [group_id if group_id is not None else user_id]
    if pending_only:
        where.append("i.status = 'pending' AND i.expires_at_ms > ?")
        params.append(now_ms)
    clause = " WHERE " + " AND ".join(where)
    (count,) = db.execute(f"SELECT count(*) FROM group_invitations AS i{clause}", params).fetchone()
    page_where, order = _id_keyset("i.id", after, before)
    rows = db.execute(
        f"{_INVITATION_SELECT}{clause}{page_where} ORDER BY i.id {order} LIMIT ?",
        [*params, *_key_params(after, before), limit],
    ).fetchall()
    return int(count), _in_order([_invitation(r, now_ms) for r in rows], before)


# --- join requests ----------------------------------------------------------------------------

_REQUEST_SELECT = (
    "SELECT r.id, r.group_id, r.user_id, u.display_name, r.message, r.status, r.decided_by, "
    "r.created_at_ms, r.decided_at_ms FROM group_join_requests AS r "
    "JOIN users AS u ON u.id = r.user_id"
)
_REQUEST_KEYS = (
    "id, group_id, user_id, display_name, message, status, decided_by, created_at_ms, decided_at_ms"
).split(", ")


def create_join_request(
    db: sqlite_utils.Database, group_id: int, user_id: str, *, message: str, now_ms: int
) -> dict[str, Any]:
    """Ask to join a group.

    Raises:
        NotFoundError: no such group.
        GroupConflictError: ``banned``, ``already_member``, ``already_requested``.
    """
    get_group(db, group_id)
    if is_banned(db, group_id, user_id):
        raise GroupConflictError("banned", f"account {user_id} is banned from group {group_id}")
    if role_of(db, group_id, user_id) is not None:
        raise GroupConflictError("already_member", f"account {user_id} is already a member")
    if db.execute(
        "SELECT 1 FROM group_join_requests WHERE group_id = ? AND user_id = ? "
        "AND status = 'pending'",
        [group_id, user_id],
    ).fetchone():
        raise GroupConflictError("already_requested", "a request to join is already pending")
    cursor = db.execute(
        "INSERT INTO group_join_requests (group_id, user_id, message, status, created_at_ms) "
        "VALUES (?, ?, ?, 'pending', ?)",
        [group_id, user_id, message, now_ms],
    )
    request = find_join_request(db, int(cursor.lastrowid or 0))
    assert request is not None
    return request


def find_join_request(db: sqlite_utils.Database, request_id: int) -> dict[str, Any] | None:
    row = db.execute(f"{_REQUEST_SELECT} WHERE r.id = ?", [request_id]).fetchone()
    return None if row is None else dict(zip(_REQUEST_KEYS, row, strict=True))


def decide_join_request(
    db: sqlite_utils.Database, request_id: int, *, approve: bool, decided_by: str, now_ms: int
) -> dict[str, Any]:
    """Approve (the requester joins) or deny a pending request.

    Raises:
        NotFoundError: no such request.
        GroupConflictError: ``not_pending``; on approving, as :func:`add_member`.
    """
    request = find_join_request(db, request_id)
    if request is None:
        raise NotFoundError(f"expected a join request with id {request_id}, got none")
    if request["status"] != "pending":
        raise GroupConflictError(
            "not_pending", f"join request {request_id} is {request['status']}, not pending"
        )
    if approve:
        add_member(db, request["group_id"], request["user_id"], now_ms)
    db.execute(
        "UPDATE group_join_requests SET status = ?, decided_by = ?, decided_at_ms = ? WHERE id = ?",
        ["approved" if approve else "denied", decided_by, now_ms, request_id],
    )
    result = find_join_request(db, request_id)
    assert result is not None
    return result


def list_join_requests(
    db: sqlite_utils.Database,
    group_id: int,
    *,
    after: Key | None,
    before: Key | None,
    limit: int,
) -> tuple[int, list[dict[str, Any]]]:
    """A group's pending join requests, newest first. Sort key ``(id,)``."""
    clause = " WHERE r.group_id = ? AND r.status = 'pending'"
    (count,) = db.execute(
        f"SELECT count(*) FROM group_join_requests AS r{clause}", [group_id]
    ).fetchone()
    page_where, order = _id_keyset("r.id", after, before)
    rows = db.execute(
        f"{_REQUEST_SELECT}{clause}{page_where} ORDER BY r.id {order} LIMIT ?",
        [group_id, *_key_params(after, before), limit],
    ).fetchall()
    return int(count), _in_order([dict(zip(_REQUEST_KEYS, r, strict=True)) for r in rows], before)


# --- posts and reactions ----------------------------------------------------------------------

_POST_SELECT = (
    "SELECT p.id, p.group_id, p.author_id, u.display_name, p.content, p.video_id, "
    "p.edit_count, p.reaction_counts, p.created_at_ms, p.edited_at_ms "
    "FROM group_posts AS p JOIN users AS u ON u.id = p.author_id"
)
_POST_KEYS = (
    "id, group_id, author_id, author_name, content, video_id, edit_count, reaction_counts, "
    "created_at_ms, edited_at_ms"
).split(", ")


def _post(row: Sequence[Any]) -> dict[str, Any]:
    post = dict(zip(_POST_KEYS, row, strict=True))
    post["reaction_counts"] = json.loads(post["reaction_counts"])
    return post


def create_post(
    db: sqlite_utils.Database,
    group_id: int,
    author_id: str,
    *,
    content: str,
    video_id: str | None,
    now_ms: int,
) -> dict[str, Any]:
    """Post in a group, as a member (checked here, in the same transaction).

    Raises:
        GroupConflictError: ``not_member`` when *author_id* is not a member.
    """
    if role_of(db, group_id, author_id) is None:
        raise GroupConflictError(
            "not_member", f"account {author_id} is not a member of group {group_id}"
        )
    cursor = db.execute(
        "INSERT INTO group_posts (group_id, author_id, content, video_id, created_at_ms) "
        "VALUES (?, ?, ?, ?, ?)",
        [group_id, author_id, content, video_id, now_ms],
    )
    post = find_post(db, int(cursor.lastrowid or 0))
    assert post is not None
    return post


def find_post(db: sqlite_utils.Database, post_id: int) -> dict[str, Any] | None:
    row = db.execute(f"{_POST_SELECT} WHERE p.id = ?", [post_id]).fetchone()
    return None if row is None else _post(row)


def update_post(
    db: sqlite_utils.Database, post_id: int, content: str, now_ms: int
) -> dict[str, Any]:
    """Replace a post's text; an actual change counts as an edit (``edit_count``,
    ``edited_at_ms``). Raises NotFoundError for no such post."""
    db.execute(
        "UPDATE group_posts SET edit_count = edit_count + 1, edited_at_ms = ?, content = ? "
        "WHERE id = ? AND content != ?",
        [now_ms, content, post_id, content],
    )
    post = find_post(db, post_id)
    if post is None:
        raise NotFoundError(f"expected a post with id {post_id}, got none")
    return post


def delete_post(db: sqlite_utils.Database, post_id: int) -> bool:
    return db.execute("DELETE FROM group_posts WHERE id = ?", [post_id]).rowcount > 0


def list_posts(
    db: sqlite_utils.Database,
    group_id: int,
    *,
    after: Key | None,
    before: Key | None,
    limit: int,
) -> list[dict[str, Any]]:
    """A group's posts, newest first. Sort key ``(id,)``."""
    page_where, order = _id_keyset("p.id", after, before)
    rows = db.execute(
        f"{_POST_SELECT} WHERE p.group_id = ?{page_where} ORDER BY p.id {order} LIMIT ?",
        [group_id, *_key_params(after, before), limit],
    ).fetchall()
    return _in_order([_post(r) for r in rows], before)


def toggle_reaction(
    db: sqlite_utils.Database, post_id: int, user_id: str, emoji: str, now_ms: int
) -> tuple[bool, dict[str, int]]:
    """Add *user_id*'s *emoji* reaction to a post, or take it back if it is there.

    Returns:
        ``(whether the reaction is there now, the post's counts by emoji)``.

    Raises:
        NotFoundError: no such post.
    """
    removed = db.execute(
        "DELETE FROM group_post_reactions WHERE post_id = ? AND emoji = ? AND user_id = ?",
        [post_id, emoji, user_id],
    ).rowcount
    if not removed:
        if db.execute("SELECT 1 FROM group_posts WHERE id = ?", [post_id]).fetchone() is None:
            raise NotFoundError(f"expected a post with id {post_id}, got none")
        db.execute(
            "INSERT INTO group_post_reactions (post_id, emoji, user_id, created_at_ms) "
            "VALUES (?, ?, ?, ?)",
            [post_id, emoji, user_id, now_ms],
        )
    (counts,) = db.execute(
        "SELECT reaction_counts FROM group_posts WHERE id = ?", [post_id]
    ).fetchone()
    return not removed, json.loads(counts)


def reactions_by(
    db: sqlite_utils.Database, post_ids: Iterable[int], user_id: str | None
) -> dict[int, list[str]]:
    """The emoji *user_id* put on each of *post_ids* (posts without any left out)."""
    ids = list(dict.fromkeys(post_ids))
    found: dict[int, list[str]] = {}
    if user_id is None or not ids:
        return found
    marks = ", ".join("?" * len(ids))
    rows = db.execute(
        "SELECT post_id, emoji FROM group_post_reactions "
        f"WHERE user_id = ? AND post_id IN ({marks}) ORDER BY post_id, emoji",
        [user_id, *ids],
    ).fetchall()
    for post_id, emoji in rows:
        found.setdefault(int(post_id), []).append(str(emoji))
    return found


# --- keyset helpers ---------------------------------------------------------------------------


def _id_keyset(column: str, after: Key | None, before: Key | None) -> tuple[str, str]:
    """The page condition and order for a list by *column* newest first."""
    if after is not None:
        return f" AND {column} < ?", "DESC"
    if before is not None:
        return f" AND {column} > ?", "ASC"
    return "", "DESC"


def _key_params(after: Key | None, before: Key | None) -> list[Any]:
    if after is not None:
        return list(after)
    if before is not None:
        return list(before)
    return []


def _in_order(rows: list[dict[str, Any]], before: Key | None) -> list[dict[str, Any]]:
    """Rows read in reverse (a ``before`` page) back in list order."""
    return rows[::-1] if before is not None else rows
