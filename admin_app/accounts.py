"""Accounts and tokens: who is calling, token pairs, and the superuser command.

Access tokens are ``protocol.tokens`` access tokens (the sync socket accepts them
too); refresh tokens are tokens of type ``refresh`` signed with the same key, each
recorded in ``refresh_tokens`` so that it can be rotated and revoked (as in StreamIt).

A request is authenticated by ``Authorization: Bearer <access token>``: the token
must verify (signature, type, expiry against the app's clock), must not be revoked,
and must name an active account. The identity used afterwards is the account as
stored now (a role changed since the token was issued counts at once).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from argon2 import PasswordHasher
from quart import g, request

from data import Database
from data import users as user_store
from protocol.tokens import (
    TYP_ACCESS,
    TYP_REFRESH,
    Identity,
    TokenError,
    identity_from_access,
    issue_token,
    verify_token,
)

from .control import WebState
from .errors import ApiError
from .passwords import Passwords

_CHALLENGE = 'Bearer realm="watchparty"'


@dataclass(frozen=True, slots=True)
class Caller:
    """An authenticated caller.

    Attributes:
        identity: The verified access token's identity (``jti`` and expiry).
        user: The account as stored now.
    """

    identity: Identity
    user: user_store.User

    @property
    def user_id(self) -> str:
        return self.user["id"]

    @property
    def is_staff(self) -> bool:
        return self.user["role"] in ("staff", "admin")


def iso_ms(ms: float | None) -> str | None:
    """Milliseconds since the epoch as ISO 8601 UTC (``2024-05-01T12:00:00.000Z``)."""
    if ms is None:
        return None
    moment = datetime.fromtimestamp(ms / 1000.0, tz=UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


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


def bearer_token() -> str | None:
    """The bearer token of the current request, or None when there is none.

    Raises:
        ApiError: 401 ``invalid_token`` for an ``Authorization`` header of another
            scheme or without a token.
    """
    header = request.headers.get("Authorization")
    if header is None:
        return None
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(
            401,
            "invalid_token",
            "expected an Authorization header 'Bearer <access token>'",
            headers={"WWW-Authenticate": f'{_CHALLENGE}, error="invalid_request"'},
        )
    return token.strip()


async def authenticate(st: WebState) -> Caller | None:
    """The caller of the current request, or None for a request without a token.

    Cached on ``g`` for the rest of the request.

    Raises:
        ApiError: 401 ``invalid_token`` for a malformed, forged, expired or revoked
            token, or one naming an account that no longer exists or is disabled.
    """
    if "caller" in g:
        return g.caller  # type: ignore[no-any-return]
    token = bearer_token()
    if token is None:
        g.caller = None
        return None
    try:
        identity = identity_from_access(
            verify_token(st.secret, token, typ=TYP_ACCESS, now_s=st.now_s())
        )
    except TokenError as exc:
        raise _invalid_token(str(exc)) from None
    jti = identity.jti

    def read(conn: Any) -> tuple[bool, user_store.User | None]:
        revoked = jti is not None and user_store.is_token_revoked(conn, jti)
        return revoked, user_store.find_user(conn, identity.user_id)

    revoked, user = await st.db.read(read)
    if revoked:
        raise _invalid_token("invalid token: it was revoked (signed out)")
    if user is None or not user["is_active"]:
        raise _invalid_token("invalid token: its account does not exist or is disabled")
    g.caller = Caller(identity, user)
    g.user_id = user["id"]
    return g.caller  # type: ignore[no-any-return]


async def require_caller(st: WebState) -> Caller:
    """The caller of the current request.

    Raises:
        ApiError: 401 ``authentication_required`` without a token; as
            :func:`authenticate` for a bad one.
    """
    caller = await authenticate(st)
    if caller is None:
        raise ApiError(
            401,
            "authentication_required",
            "expected an Authorization header 'Bearer <access token>', got none",
            headers={"WWW-Authenticate": _CHALLENGE},
        )
    return caller


def _invalid_token(message: str) -> ApiError:
    return ApiError(
        401,
        "invalid_token",
        message,
        headers={"WWW-Authenticate": f'{_CHALLENGE}, error="invalid_token"'},
    )


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
