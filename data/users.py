"""Account and token queries: users, revoked access tokens, refresh tokens.

Every function takes a ``sqlite_utils.Database`` first and is meant to run inside
``Database.write`` (the writing ones) or ``Database.read`` (the reading ones). Times
of rows are milliseconds since the Unix epoch (``*_ms``); token expiries are Unix
seconds (``*_s``), the unit of the JWT ``exp`` claim (RFC 7519 section 4.1.4).

Password hashes are produced and checked by the caller (the web app, off the event
loop); this module only stores them. Emails compare without regard to ASCII case
(the column is ``COLLATE NOCASE``).

The sync server calls :func:`is_token_revoked` for every access token it accepts.
"""

from __future__ import annotations

import logging
import sqlite3
import uuid
from typing import Any, TypedDict

import sqlite_utils

from .errors import NotFoundError, StoreError

logger = logging.getLogger(__name__)

USER_ROLES = ("user", "staff", "admin")

_COLUMNS = "id, email, display_name, role, is_guest, is_active, created_at_ms, last_login_ms"
_KEYS = tuple(_COLUMNS.split(", "))


class User(TypedDict):
    """An account as the query functions return it (never with its password hash).

    Attributes:
        id: 32 hex digits (a uuid4).
        email: The sign-in email, or None for a guest.
        display_name: Shown to others.
        role: ``user``, ``staff`` or ``admin``.
        is_guest: Whether the account is a guest account (no email, no password).
        is_active: False once disabled; a disabled account cannot sign in or use tokens.
        created_at_ms: When it was created, in milliseconds since the epoch.
        last_login_ms: When it last signed in, in milliseconds, or None.
    """

    id: str
    email: str | None
    display_name: str
    role: str
    is_guest: bool
    is_active: bool
    created_at_ms: int
    last_login_ms: int | None


class EmailTakenError(StoreError):
    """Raised by :func:`create_user` when another account has the email (in any case)."""


def create_user(
    db: sqlite_utils.Database,
    *,
    email: str | None,
    password_hash: str | None,
    display_name: str,
    now_ms: int,
    role: str = "user",
    is_guest: bool = False,
) -> User:
    """Store a new account.

    Args:
        db: The writer connection.
        email: Sign-in email (compared case-insensitively), or None for a guest.
        password_hash: An argon2 hash made by the caller, or None for a guest.
        display_name: 1 to 40 characters (checked by the caller).
        now_ms: Creation time, milliseconds since the epoch.
        role: ``user``, ``staff`` or ``admin``.
        is_guest: True for a guest account.

    Returns:
        The new account.

    Raises:
        EmailTakenError: if another account has *email*. Nothing was written then.
        ValueError: for an unknown *role*, or a guest with an email or password, or
            a non-guest without both.
    """
    if role not in USER_ROLES:
        raise ValueError(f"expected a role in {USER_ROLES}, got {role!r}")
    if is_guest and (email is not None or password_hash is not None):
        raise ValueError("expected a guest without email and password, got one with them")
    if not is_guest and (email is None or password_hash is None):
        raise ValueError("expected an email and a password hash for a non-guest account")
    user_id = uuid.uuid4().hex
    try:
        db.execute(
            "INSERT INTO users (id, email, password_hash, display_name, role, is_guest, "
            "is_active, created_at_ms) VALUES (?, ?, ?, ?, ?, ?, 1, ?)",
            [user_id, email, password_hash, display_name, role, int(is_guest), now_ms],
        )
    except sqlite3.IntegrityError as exc:
        if "users.email" in str(exc):
            raise EmailTakenError(f"expected an unused email, got {email!r} taken") from None
        raise
    logger.info("created %s account %s (%s)", "guest" if is_guest else role, user_id, role)
    return get_user(db, user_id)


def get_user(db: sqlite_utils.Database, user_id: str) -> User:
    """Return one account.

    Raises:
        NotFoundError: if no account has *user_id*.
    """
    user = find_user(db, user_id)
    if user is None:
        raise NotFoundError(f"expected an account with id {user_id!r}, got none")
    return user


def find_user(db: sqlite_utils.Database, user_id: str) -> User | None:
    """Return one account, or None when no account has *user_id*."""
    row = db.execute(f"SELECT {_COLUMNS} FROM users WHERE id = ?", [user_id]).fetchone()
    return None if row is None else _user(row)


def find_login(db: sqlite_utils.Database, email: str) -> tuple[User, str] | None:
    """Return the account with *email* and its password hash, for signing in.

    Guests (no email) are never found.

    Returns:
        ``(user, password_hash)``, or None when no account has *email*.
    """
    row = db.execute(
        f"SELECT {_COLUMNS}, password_hash FROM users WHERE email = ? AND is_guest = 0",
        [email],
    ).fetchone()
    if row is None or row[-1] is None:
        return None
    return _user(row[:-1]), str(row[-1])


def record_login(
    db: sqlite_utils.Database, user_id: str, now_ms: int, new_password_hash: str | None = None
) -> None:
    """Set an account's ``last_login_ms`` and, when given, replace its password hash
    (a rehash with current argon2 parameters).

    Args:
        db: The writer connection.
        user_id: The account.
        now_ms: Sign-in time, milliseconds since the epoch.
        new_password_hash: A new hash of the same password, or None to keep it.
    """
    db.execute(
        "UPDATE users SET last_login_ms = ?, password_hash = coalesce(?, password_hash) "
        "WHERE id = ?",
        [now_ms, new_password_hash, user_id],
    )


def set_user_role(db: sqlite_utils.Database, user_id: str, role: str) -> User:
    """Change an account's role.

    Raises:
        ValueError: for an unknown *role*.
        NotFoundError: if no account has *user_id*.
    """
    if role not in USER_ROLES:
        raise ValueError(f"expected a role in {USER_ROLES}, got {role!r}")
    db.execute("UPDATE users SET role = ? WHERE id = ?", [role, user_id])
    return get_user(db, user_id)


def set_user_active(db: sqlite_utils.Database, user_id: str, active: bool) -> User:
    """Enable or disable an account; disabling also revokes its refresh tokens.

    Raises:
        NotFoundError: if no account has *user_id*.
    """
    db.execute("UPDATE users SET is_active = ? WHERE id = ?", [int(active), user_id])
    if not active:
        revoke_refresh_tokens(db, user_id)
    return get_user(db, user_id)


# --- access tokens ----------------------------------------------------------------------


def revoke_token(db: sqlite_utils.Database, jti: str, expires_at_s: int) -> None:
    """Refuse the access token *jti* from now on (idempotent).

    Args:
        db: The writer connection.
        jti: The token's ``jti`` claim.
        expires_at_s: Its ``exp`` claim (Unix seconds): after it the row may be purged.
    """
    db.execute(
        "INSERT OR IGNORE INTO revoked_tokens (jti, expires_at_s) VALUES (?, ?)",
        [jti, expires_at_s],
    )


def is_token_revoked(db: sqlite_utils.Database, jti: str) -> bool:
    """Return whether the access token *jti* was revoked (by a logout).

    Called by the sync server and the web app for every access token they accept.

    Args:
        db: Either connection.
        jti: The token's ``jti`` claim.
    """
    return db.execute("SELECT 1 FROM revoked_tokens WHERE jti = ?", [jti]).fetchone() is not None


def purge_expired_tokens(db: sqlite_utils.Database, now_s: int) -> int:
    """Delete revoked-token and refresh-token rows whose tokens expired before *now_s*.

    An expired token is refused for its expiry alone, so its row is no longer needed.

    Returns:
        How many rows were deleted.
    """
    removed = db.execute("DELETE FROM revoked_tokens WHERE expires_at_s < ?", [now_s]).rowcount
    removed += db.execute("DELETE FROM refresh_tokens WHERE expires_at_s < ?", [now_s]).rowcount
    return int(removed)


def logout(db: sqlite_utils.Database, *, user_id: str, jti: str, expires_at_s: int) -> int:
    """Revoke an access token and every refresh token of its user, in one go.

    Returns:
        How many refresh tokens were revoked.
    """
    revoke_token(db, jti, expires_at_s)
    return revoke_refresh_tokens(db, user_id)


# --- refresh tokens ---------------------------------------------------------------------


def add_refresh_token(
    db: sqlite_utils.Database, *, jti: str, user_id: str, expires_at_s: int
) -> None:
    """Record a refresh token just issued to *user_id*.

    Raises:
        sqlite3.IntegrityError: if *user_id* does not exist or *jti* is used.
    """
    db.execute(
        "INSERT INTO refresh_tokens (jti, user_id, expires_at_s, revoked) VALUES (?, ?, ?, 0)",
        [jti, user_id, expires_at_s],
    )


def revoke_refresh_tokens(db: sqlite_utils.Database, user_id: str) -> int:
    """Revoke every refresh token of *user_id*; return how many were still valid."""
    cursor = db.execute(
        "UPDATE refresh_tokens SET revoked = 1 WHERE user_id = ? AND revoked = 0", [user_id]
    )
    return int(cursor.rowcount)


def rotate_refresh_token(
    db: sqlite_utils.Database,
    *,
    jti: str,
    user_id: str,
    new_jti: str,
    new_expires_at_s: int,
    now_s: float,
) -> User | None:
    """Exchange the refresh token *jti* for a new one: revoke it, record *new_jti*.

    Rotation with reuse detection, as the OAuth 2.0 Security Best Current Practice
    (RFC 9700 section 4.14.2) describes: presenting a refresh token that was already
    rotated means two parties hold it, so every refresh token of the account is
    revoked and the caller must sign in again.

    Args:
        db: The writer connection.
        jti: The presented token's ``jti``.
        user_id: The presented token's ``sub``.
        new_jti: The ``jti`` of the replacement token.
        new_expires_at_s: Its expiry, Unix seconds.
        now_s: The current time, Unix seconds.

    Returns:
        The account, for the new access token; None when the token is refused
        (unknown, of another account, expired, revoked, or the account is disabled).
        Only the reuse revocation is written then.
    """
    row = db.execute(
        "SELECT user_id, expires_at_s, revoked FROM refresh_tokens WHERE jti = ?", [jti]
    ).fetchone()
    if row is None or row[0] != user_id or row[1] <= now_s:
        return None
    if row[2]:
        revoked = revoke_refresh_tokens(db, user_id)
        logger.warning(
            "refresh token reuse for account %s: revoked its %d other refresh tokens",
            user_id,
            revoked,
        )
        return None
    user = find_user(db, user_id)
    if user is None or not user["is_active"]:
        return None
    db.execute("UPDATE refresh_tokens SET revoked = 1 WHERE jti = ?", [jti])
    add_refresh_token(db, jti=new_jti, user_id=user_id, expires_at_s=new_expires_at_s)
    return user


def _user(row: tuple[Any, ...]) -> User:
    user: dict[str, Any] = dict(zip(_KEYS, row, strict=True))
    user["is_guest"] = bool(user["is_guest"])
    user["is_active"] = bool(user["is_active"])
    return user  # type: ignore[return-value]
