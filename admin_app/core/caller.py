"""Who is calling: the authenticated account of a request (:class:`Caller`).

A request is authenticated by ``Authorization: Bearer <access token>``: the token
must verify (signature, type, expiry against the app's clock), must not be revoked,
and must name an active account. The identity used afterwards is the account as
stored now (a role changed since the token was issued counts at once).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from quart import Quart, g, request
from quart_schema.openapi import QUART_SCHEMA_SECURITY_ATTRIBUTE

from data import users as user_store
from protocol.tokens import TYP_ACCESS, Identity, TokenError, identity_from_access, verify_token

from .errors import ApiError
from .state import WebState, state

CHALLENGE = 'Bearer realm="watchparty"'


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
            headers={"WWW-Authenticate": f'{CHALLENGE}, error="invalid_request"'},
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
            headers={"WWW-Authenticate": CHALLENGE},
        )
    return caller


def register_auth_check(app: Quart) -> None:
    """Authenticate first on every route that requires a caller.

    A route requires one when its quart-schema ``security_scheme`` (on the view or its
    blueprint) lists schemes and no anonymous alternative (``{}``): the documented
    security is the enforced one. Such a request gets its caller (:func:`require_caller`,
    cached for the view) before its body or query string is validated, so without valid
    credentials it answers 401, never a 415 or 422 about a body it would refuse anyway.
    ``OPTIONS`` (CORS preflight) carries no credentials and is left alone.

    Raises (from the hook, answered with the error body):
        ApiError: 401 ``authentication_required`` without a token, 401
            ``invalid_token`` for a bad one.
    """

    @app.before_request
    async def _authenticate_first() -> None:
        if request.method == "OPTIONS" or request.endpoint is None:
            return
        view = app.view_functions.get(request.endpoint)
        schemes = getattr(view, QUART_SCHEMA_SECURITY_ATTRIBUTE, None)
        if schemes is None and request.blueprint is not None:
            blueprint = app.blueprints.get(request.blueprint)
            schemes = getattr(blueprint, QUART_SCHEMA_SECURITY_ATTRIBUTE, None)
        if schemes and all(scheme for scheme in schemes):
            await require_caller(state())


def _invalid_token(message: str) -> ApiError:
    return ApiError(
        401,
        "invalid_token",
        message,
        headers={"WWW-Authenticate": f'{CHALLENGE}, error="invalid_token"'},
    )
