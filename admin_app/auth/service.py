"""Accounts and tokens: token pairs, sessions, and the superuser command.

Access tokens are ``protocol.tokens`` access tokens (the sync socket accepts them
too); refresh tokens are tokens of type ``refresh`` signed with the same key, each
recorded in ``refresh_tokens`` so that it can be rotated and revoked. Who is calling
is :mod:`admin_app.core.caller`.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

from argon2 import PasswordHasher

from admin_app.core.passwords import Passwords
from admin_app.core.state import WebState
from admin_app.core.times import iso_ms
from data import Database
from data import users as user_store
from protocol.tokens import (
    TYP_ACCESS,
    TYP_REFRESH,
    issue_token,
)


def user_json(user: user_store.User) -> dict[str, Any]:
    """An account as the API shows it (the StreamIt shape)."""
    return {
        "id": user["id"],
        "email": user["email"],
        "display_name": user["display_name"],
        "role": user["role"],
        "is_guest": user["is_guest"],
        "created_at": iso_ms(user["created_at_ms"]),
    }


def issue_access(st: WebState, user: user_store.User) -> str:
    """A signed access token for *user*."""
    claims = {
        "sub": user["id"],
        "name": user["display_name"],
        "role": user["role"],
        "guest": user["is_guest"],
    }
    return issue_token(
        st.secret, claims, typ=TYP_ACCESS, now_s=st.now_s(), ttl_s=st.settings.access_token_ttl_s
    )


def new_refresh(st: WebState, user_id: str) -> tuple[str, str, int]:
    """A signed refresh token for *user_id*, not yet recorded.

    Returns:
        ``(token, jti, expires_at_s)``; record it with ``users.add_refresh_token``.
    """
    now_s = st.now_s()
    jti = secrets.token_urlsafe(16)
    token = issue_token(
        st.secret,
        {"sub": user_id, "jti": jti},
        typ=TYP_REFRESH,
        now_s=now_s,
        ttl_s=st.settings.refresh_token_ttl_s,
    )
    return token, jti, int(now_s + st.settings.refresh_token_ttl_s)


def token_pair(st: WebState, user: user_store.User, refresh: str) -> dict[str, Any]:
    """The token part of an auth response."""
    return {
        "access": issue_access(st, user),
        "refresh": refresh,
        "token_type": "Bearer",
        "expires_in": int(st.settings.access_token_ttl_s),
    }


def start_session(conn: Any, st: WebState, user: user_store.User, *, login: bool) -> str:
    """Make and record a refresh token for *user* (and, for a sign-in, the sign-in
    time), inside the caller's write transaction; return the refresh token."""
    refresh, jti, expires_at_s = new_refresh(st, user["id"])
    user_store.add_refresh_token(conn, jti=jti, user_id=user["id"], expires_at_s=expires_at_s)
    if login:
        user_store.record_login(conn, user["id"], st.now_ms())
    return refresh


def session_json(st: WebState, user: user_store.User, refresh: str) -> dict[str, Any]:
    """An auth response: ``{user, access, refresh, token_type, expires_in}``."""
    return {"user": user_json(user), **token_pair(st, user, refresh)}


async def create_superuser(
    db: Database,
    *,
    email: str,
    password: str,
    display_name: str,
    password_hasher: PasswordHasher | None = None,
    now_ms: int | None = None,
) -> dict[str, Any]:
    """Create an ``admin`` account (for ``watchparty createsuperuser``).

    Args:
        db: The open database.
        email: Sign-in email (unique, case-insensitive).
        password: At least 8 characters.
        display_name: 1 to 40 characters.
        password_hasher: argon2 hasher; argon2-cffi's defaults when None.
        now_ms: Creation time, milliseconds since the epoch; the wall clock when None.

    Returns:
        The account as the API shows it (``id``, ``email``, ``display_name``,
        ``role``, ``is_guest``, ``created_at``).

    Raises:
        ValueError: for a password under 8 characters, or an empty or over-long
            display name or email.
        data.users.EmailTakenError: if an account has the email already.
    """
    from .schemas import check_display_name, check_email, check_password

    email = check_email(email)
    check_password(password)
    display_name = check_display_name(display_name)
    password_hash = await Passwords(password_hasher).hash(password)
    stamp = int(datetime.now(UTC).timestamp() * 1000) if now_ms is None else now_ms
    user = await db.write(
        lambda conn: user_store.create_user(
            conn,
            email=email,
            password_hash=password_hash,
            display_name=display_name,
            now_ms=stamp,
            role="admin",
        )
    )
    return user_json(user)
