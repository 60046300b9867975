"""Signed tokens accepted on the sync socket: HS256 JSON Web Tokens (RFC 7519).

Two kinds, told apart by the ``typ`` claim:

* ``access``: who someone is. Issued by the web app (login or guest sign-in) and
  accepted in ``hello.token``. Claims: ``sub`` (account id, a string), ``name``
  (display name), ``role`` (``user``, ``staff`` or ``admin``), ``guest`` (bool),
  ``iat``, ``exp`` and ``jti``.
* ``refresh``: issued with an access token by the web app and exchanged there for a
  new pair (rotated; never accepted on the socket).
* ``session``: a participant's place in a room, issued by the sync server in
  ``welcome.session`` and presented in ``hello.resume.session`` to resume. Claims:
  ``room``, ``pid`` (participant id), ``sub`` (account id or ``guest:<pid>``),
  ``name``, ``guest``, ``iat``, ``exp``.

Both are signed with the server secret (``secret_key`` setting, or one generated
and kept in the database); tokens signed with another key, or expired, are refused.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

import jwt

from protocol.errors import WatchpartyError

ALGORITHM = "HS256"
TYP_ACCESS = "access"
TYP_REFRESH = "refresh"
TYP_SESSION = "session"
USER_ROLES = ("user", "staff", "admin")


class TokenError(WatchpartyError):
    """A token is missing a claim, malformed, signed with another key, or expired."""


@dataclass(frozen=True, slots=True)
class Identity:
    """Who a verified access token names.

    Attributes:
        user_id: Account id (``sub``).
        name: Display name.
        role: ``user``, ``staff`` or ``admin``.
        guest: Whether the account is a guest account.
        jti: Token id (for revocation by the web app).
        expires_at_s: Expiry, Unix time in seconds.
    """

    user_id: str
    name: str
    role: str
    guest: bool
    jti: str | None
    expires_at_s: int


def issue_token(
    secret: str, claims: dict[str, Any], *, typ: str, now_s: float, ttl_s: float
) -> str:
    """Sign a token.

    Args:
        secret: The HMAC key (at least 32 bytes, as RFC 7518 section 3.2 requires).
        claims: Claims to sign; ``sub`` must be a string.
        typ: ``access`` or ``session``.
        now_s: Issue time, Unix time in seconds.
        ttl_s: Lifetime, seconds.

    Raises:
        ValueError: for a short secret or a non-string ``sub``.
    """
    if len(secret.encode()) < 32:
        raise ValueError("secret_key must be at least 32 bytes (RFC 7518 section 3.2)")
    if not isinstance(claims.get("sub"), str):
        raise ValueError("the sub claim must be a string")
    payload = dict(claims)
    payload.update(typ=typ, iat=int(now_s), exp=int(now_s + ttl_s))
    payload.setdefault("jti", secrets.token_urlsafe(12))
    return jwt.encode(payload, secret, algorithm=ALGORITHM)


def verify_token(secret: str, token: str, *, typ: str, now_s: float) -> dict[str, Any]:
    """Check a token's signature, expiry and type, and return its claims.

    Args:
        secret: The HMAC key it must be signed with.
        token: The compact JWT.
        typ: The ``typ`` it must have.
        now_s: Current Unix time in seconds (expiry is checked against it, with no
            leeway; the wall clock is never read).

    Raises:
        TokenError: naming what is wrong (malformed, bad signature, expired, wrong type,
            missing claim).
    """
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            # Expiry is checked against *now_s* below. PyJWT's exp and iat checks would
            # read the wall clock, which this module never does (an iat a little ahead
            # of this host's clock, from a token issued elsewhere, is no reason to refuse).
            options={"require": ["exp", "iat", "sub"], "verify_exp": False, "verify_iat": False},
        )
    except jwt.InvalidTokenError as exc:
        raise TokenError(f"invalid token: {exc}") from None
    if not isinstance(claims.get("exp"), int | float) or claims["exp"] <= now_s:
        raise TokenError("invalid token: expired")
    if claims.get("typ") != typ:
        raise TokenError(f"invalid token: expected a {typ} token, got {claims.get('typ')!r}")
    return claims


def identity_from_access(claims: dict[str, Any]) -> Identity:
    """The :class:`Identity` of verified access-token claims.

    Raises:
        TokenError: when ``name`` or ``role`` is missing or invalid.
    """
    name = claims.get("name")
    role = claims.get("role", "user")
    if not isinstance(name, str) or not 1 <= len(name) <= 40:
        raise TokenError("invalid token: the name claim must be 1 to 40 characters")
    if role not in USER_ROLES:
        raise TokenError(f"invalid token: role must be one of {USER_ROLES}, got {role!r}")
    return Identity(
        user_id=str(claims["sub"]),
        name=name,
        role=role,
        guest=bool(claims.get("guest", False)),
        jti=claims.get("jti"),
        expires_at_s=int(claims["exp"]),
    )
