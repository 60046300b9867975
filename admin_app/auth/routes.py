"""Accounts over REST: register, sign in, guests, refresh, sign out, me.

Every endpoint but ``me`` is rate limited per client address (``auth_rate_limit_per_min``).
Wrong credentials get one answer whether the email exists or not (401
``invalid_credentials``), after the same amount of hashing work.
"""

from __future__ import annotations

import logging
from typing import Any

from quart_schema import document_response, security_scheme, validate_request

from admin_app.core.caller import require_caller
from admin_app.core.errors import ApiError, documents_errors, documents_no_content
from admin_app.core.openapi import BEARER
from admin_app.core.ratelimit import rate_limited
from admin_app.core.state import state
from data import users as user_store
from protocol.tokens import TokenError, verify_token

from . import bp
from .schemas import GuestIn, LoginIn, RefreshIn, RegisterIn, SessionOut, TokensOut, UserOut
from .service import TYP_REFRESH, new_refresh, session_json, start_session, token_pair, user_json

logger = logging.getLogger(__name__)


@bp.post("/register/")
@rate_limited("register")
@validate_request(RegisterIn)
@document_response(SessionOut, 201)
@documents_errors(400, 409, 413, 415, 422, 429)
async def register(data: RegisterIn) -> tuple[dict[str, Any], int]:
    """Create an account and sign in.

    Returns the account with an access token and a refresh token. 409 `email_taken`
    when an account has the email (in any letter case).
    """
    st = state()
    password_hash = await st.passwords.hash(data.password)

    def write(conn: Any) -> tuple[user_store.User, str]:
        user = user_store.create_user(
            conn,
            email=data.email,
            password_hash=password_hash,
            display_name=data.display_name,
            now_ms=st.now_ms(),
        )
        return user, start_session(conn, st, user, login=True)

    try:
        user, refresh_token = await st.db.write(write)
    except user_store.EmailTakenError:
        raise ApiError(
            409,
            "email_taken",
            "an account with this email exists; sign in instead",
            details=[("email", "already registered")],
        ) from None
    return session_json(st, user, refresh_token), 201


@bp.post("/login/")
@rate_limited("login")
@validate_request(LoginIn)
@document_response(SessionOut, 200)
@documents_errors(400, 401, 413, 415, 422, 429)
async def login(data: LoginIn) -> dict[str, Any]:
    """Sign in with email and password.

    401 `invalid_credentials` for an unknown email, a wrong password or a disabled
    account alike.
    """
    st = state()
    found = await st.db.read(user_store.find_login, data.email.strip())
    user, password_hash = found if found is not None else (None, None)
    ok = await st.passwords.verify(password_hash, data.password)
    if not ok or user is None or not user["is_active"]:
        raise ApiError(401, "invalid_credentials", "the email or password is wrong")
    assert password_hash is not None
    new_hash = None
    if st.passwords.needs_rehash(password_hash):
        new_hash = await st.passwords.hash(data.password)

    def write(conn: Any) -> str:
        refresh_token = start_session(conn, st, user, login=True)
        if new_hash is not None:
            user_store.record_login(conn, user["id"], st.now_ms(), new_hash)
        return refresh_token

    return session_json(st, user, await st.db.write(write))


@bp.post("/guest/")
@rate_limited("guest")
@validate_request(GuestIn)
@document_response(SessionOut, 201)
@documents_errors(400, 403, 413, 415, 422, 429)
async def guest(data: GuestIn) -> tuple[dict[str, Any], int]:
    """Sign in as a guest: an account with a display name only.

    403 `guests_not_allowed` when the server's `allow_guests` setting is off.
    """
    st = state()
    if not st.settings.allow_guests:
        raise ApiError(403, "guests_not_allowed", "this server does not admit guests; register")

    def write(conn: Any) -> tuple[user_store.User, str]:
        user = user_store.create_user(
            conn,
            email=None,
            password_hash=None,
            display_name=data.display_name,
            now_ms=st.now_ms(),
            is_guest=True,
        )
        return user, start_session(conn, st, user, login=True)

    user, refresh_token = await st.db.write(write)
    return session_json(st, user, refresh_token), 201


@bp.post("/refresh/")
@rate_limited("refresh")
@validate_request(RefreshIn)
@document_response(TokensOut, 200)
@documents_errors(400, 401, 413, 415, 422, 429)
async def refresh(data: RefreshIn) -> dict[str, Any]:
    """Exchange a refresh token for a new access token and a new refresh token.

    The refresh token is rotated: it is refused from then on (401). Presenting an
    already rotated one revokes every refresh token of the account.
    """
    st = state()
    try:
        claims = verify_token(st.secret, data.refresh, typ=TYP_REFRESH, now_s=st.now_s())
    except TokenError as exc:
        raise ApiError(401, "invalid_token", str(exc)) from None
    jti = claims.get("jti")
    if not isinstance(jti, str):
        raise ApiError(401, "invalid_token", "invalid token: the refresh token has no jti")
    user_id = str(claims["sub"])
    token, new_jti, expires_at_s = new_refresh(st, user_id)
    now_s = st.now_s()
    user = await st.db.write(
        lambda conn: user_store.rotate_refresh_token(
            conn,
            jti=jti,
            user_id=user_id,
            new_jti=new_jti,
            new_expires_at_s=expires_at_s,
            now_s=now_s,
        )
    )
    if user is None:
        raise ApiError(
            401, "invalid_token", "invalid token: the refresh token was revoked or used already"
        )
    return token_pair(st, user, token)


@bp.post("/logout/")
@rate_limited("logout")
@security_scheme(BEARER)
@documents_errors(401, 429)
@documents_no_content
async def logout() -> tuple[str, int]:
    """Sign out: revoke this access token and every refresh token of the account.

    The access token is refused from then on, here and on the sync socket.
    """
    st = state()
    caller = await require_caller(st)
    jti, expires_at_s = caller.identity.jti, caller.identity.expires_at_s
    if jti is None:
        raise ApiError(401, "invalid_token", "invalid token: it has no jti to revoke")
    now_s = int(st.now_s())

    def write(conn: Any) -> None:
        user_store.logout(conn, user_id=caller.user_id, jti=jti, expires_at_s=expires_at_s)
        # Rows of tokens that expired anyway are no longer needed; sign-outs keep the
        # token tables from growing without bound.
        user_store.purge_expired_tokens(conn, now_s)

    await st.db.write(write)
    logger.info("account %s signed out", caller.user_id)
    return "", 204


@bp.get("/me/")
@security_scheme(BEARER)
@document_response(UserOut, 200)
@documents_errors(401)
async def me() -> dict[str, Any]:
    """The signed-in account."""
    caller = await require_caller(state())
    return user_json(caller.user)
