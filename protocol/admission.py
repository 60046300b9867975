"""Who may enter which room: the rules of ``hello`` and of room creation, as pure
functions (PROTOCOL.md section 3). The sync server does the lookups (revoked tokens,
password and approval admissions in the database) and calls these with the answers.

Every refusal is a :class:`protocol.errors.CloseConnection` carrying the close code
and error code a client sees, or a :class:`protocol.errors.ProtocolError` that leaves
the connection open.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from protocol import messages as m
from protocol.errors import (
    CLOSE_AUTH_FAILED,
    CLOSE_FORBIDDEN,
    CLOSE_KICKED,
    CLOSE_ROOM_NOT_FOUND,
    CLOSE_UNSUPPORTED_VERSION,
    E_AUTH_FAILED,
    E_FORBIDDEN,
    E_GUESTS_NOT_ALLOWED,
    E_INVALID_MESSAGE,
    E_ROOM_NOT_FOUND,
    E_UNSUPPORTED_VERSION,
    CloseConnection,
    ProtocolError,
)
from protocol.room import Room
from protocol.tokens import (
    TYP_ACCESS,
    TYP_SESSION,
    TokenError,
    identity_from_access,
    verify_token,
)


@dataclass(frozen=True, slots=True)
class Entrant:
    """Who a ``hello`` says it is, once its token or session is verified.

    Attributes:
        name: Display name to join with.
        user_id: The account, or ``None`` for a guest.
        guest: Whether this is a guest (no account, or a guest account).
        resume_pid: The participant a resume session names, else ``None``.
        resume_boot: The server run that issued the resume session.
        token_id: The access token's ``jti``, to be checked against revocations.
    """

    name: str
    user_id: str | None
    guest: bool
    resume_pid: str | None = None
    resume_boot: Any = None
    token_id: str | None = None


def identify(hello: m.Hello, *, secret: str, now_s: float) -> Entrant:
    """Check the protocol version and verify the hello's session or token.

    Args:
        hello: The validated ``hello``.
        secret: The HS256 key tokens are signed with.
        now_s: Unix time, seconds (token expiry).

    Raises:
        CloseConnection: 4005 ``unsupported_version``; 4001 ``auth_failed`` for a
            forged, expired or malformed token or a session for another room.
        ProtocolError: ``invalid_message`` when there is no token, session or name.
    """
    if hello.protocol != m.PROTOCOL_VERSION:
        raise CloseConnection(
            CLOSE_UNSUPPORTED_VERSION,
            E_UNSUPPORTED_VERSION,
            f"protocol version {hello.protocol} is not supported; this server speaks "
            f"{m.PROTOCOL_VERSION}",
        )
    try:
        if hello.resume is not None:
            claims = verify_token(secret, hello.resume.session, typ=TYP_SESSION, now_s=now_s)
            if claims.get("room") != hello.room or not isinstance(claims.get("pid"), str):
                raise TokenError("invalid token: the session is for another room")
            sub = str(claims["sub"])
            return Entrant(
                name=str(claims.get("name") or hello.display_name or "guest"),
                user_id=None if sub.startswith("guest:") else sub,
                guest=bool(claims.get("guest", True)),
                resume_pid=claims["pid"],
                resume_boot=claims.get("boot"),
            )
        if hello.token is not None:
            ident = identity_from_access(
                verify_token(secret, hello.token, typ=TYP_ACCESS, now_s=now_s)
            )
            return Entrant(
                name=hello.display_name or ident.name,
                user_id=ident.user_id,
                guest=ident.guest,
                token_id=ident.jti,
            )
    except TokenError as exc:
        raise CloseConnection(CLOSE_AUTH_FAILED, E_AUTH_FAILED, str(exc)) from None
    if hello.display_name is None:
        raise ProtocolError(
            E_INVALID_MESSAGE, "hello needs a token, a resume session or a display_name"
        )
    return Entrant(name=hello.display_name, user_id=None, guest=True)


def revoked() -> CloseConnection:
    """The refusal for an access token signed out before it expired."""
    return CloseConnection(CLOSE_AUTH_FAILED, E_AUTH_FAILED, "invalid token: signed out (revoked)")


def is_rejoining(entrant: Entrant, room: Room | None) -> bool:
    """Whether *entrant* resumes a participant the room still holds (within its grace)."""
    return (
        room is not None
        and entrant.resume_pid is not None
        and entrant.resume_pid in room.participants
    )


def check_server_entry(
    entrant: Entrant,
    code: str,
    room: Room | None,
    *,
    creating: bool,
    allow_guests: bool,
    guest_rooms: bool,
) -> None:
    """The server-wide rules, before a room is looked at.

    Args:
        entrant: Who asks.
        code: The room code the hello names.
        room: The live room of that code, or ``None`` when there is none.
        creating: Whether the hello asks to create the room when it is missing.
        allow_guests: The server's ``allow_guests`` setting.
        guest_rooms: The server's ``guest_rooms`` setting (guests may create rooms).

    Raises:
        CloseConnection: 4003 ``guests_not_allowed`` (a guest, unless it resumes a
            participant the room still holds); 4004 ``room_not_found``; 4003
            ``forbidden`` for a guest creating a room where guests may not.
    """
    anonymous = entrant.guest and entrant.user_id is None
    if anonymous and not allow_guests and not is_rejoining(entrant, room):
        raise CloseConnection(
            CLOSE_FORBIDDEN, E_GUESTS_NOT_ALLOWED, "this server does not admit guests; sign in"
        )
    if room is None:
        if not creating:
            raise CloseConnection(
                CLOSE_ROOM_NOT_FOUND, E_ROOM_NOT_FOUND, f"no room has code {code!r}"
            )
        if entrant.user_id is None and not guest_rooms:
            raise CloseConnection(
                CLOSE_FORBIDDEN, E_FORBIDDEN, "guests may not create rooms on this server; sign in"
            )


def check_room_entry(
    entrant: Entrant, room: Room, *, may_enter: bool, now_ms: float | None = None
) -> None:
    """The room's own rules.

    Args:
        entrant: Who asks.
        room: The room.
        may_enter: Whether the room's entry rule lets this account in (open room, or a
            recorded password or approval admission); ignored when rejoining.
        now_ms: Server time, milliseconds, for bans with an expiry (without it, such
            a ban counts as running).

    Raises:
        CloseConnection: 4003 ``guests_not_allowed`` (the room admits accounts only);
            4012 ``forbidden`` for someone the host removed; 4003 ``forbidden`` for a
            password or approval room not entered through the web app.
    """
    rejoining = is_rejoining(entrant, room)
    if (
        entrant.guest
        and entrant.user_id is None
        and not room.settings.allow_guests
        and not rejoining
    ):
        raise CloseConnection(
            CLOSE_FORBIDDEN,
            E_GUESTS_NOT_ALLOWED,
            f"room {room.code} does not admit guests; sign in",
        )
    if room.is_banned(entrant.resume_pid, entrant.user_id, now_ms):
        raise CloseConnection(
            CLOSE_KICKED, E_FORBIDDEN, f"you were removed from room {room.code} by its host"
        )
    if not rejoining and not may_enter:
        raise CloseConnection(
            CLOSE_FORBIDDEN,
            E_FORBIDDEN,
            f"room {room.code} needs a password or the host's approval: join it through "
            "the web app first",
        )


@dataclass(frozen=True, slots=True)
class NewRoom:
    """A validated room to create: its code, name, settings patch and initial media."""

    code: str
    name: str
    settings: dict[str, Any]
    media: dict[str, Any] | None


def validate_new_room(
    code: str, name: str, settings: dict[str, Any] | None, media: dict[str, Any] | None
) -> NewRoom:
    """Check a room to create.

    Args:
        code: Room code, matching :data:`protocol.messages.ROOM_CODE_PATTERN`.
        name: Room name, 1 to 100 characters.
        settings: A settings patch (:class:`protocol.messages.RoomSettingsPatch`).
        media: Initial media (:class:`protocol.messages.Media`), or ``None``.

    Raises:
        ProtocolError: ``invalid_message`` naming what is wrong.
    """
    if not re.fullmatch(m.ROOM_CODE_PATTERN, code):
        raise ProtocolError(
            E_INVALID_MESSAGE, f"room code {code!r} must match {m.ROOM_CODE_PATTERN}"
        )
    if not 1 <= len(name) <= 100:
        raise ProtocolError(E_INVALID_MESSAGE, "room name must be 1 to 100 characters")
    try:
        patch = m.RoomSettingsPatch.model_validate(settings or {}).model_dump()
        initial_media = m.media_dict(m.Media.model_validate(media)) if media else None
    except ValidationError as exc:
        raise ProtocolError(E_INVALID_MESSAGE, f"invalid room: {exc.errors()[0]['msg']}") from None
    return NewRoom(code=code, name=name, settings=patch, media=initial_media)


__all__ = [
    "Entrant",
    "NewRoom",
    "check_room_entry",
    "check_server_entry",
    "identify",
    "is_rejoining",
    "revoked",
    "validate_new_room",
]
