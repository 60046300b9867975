"""The rules of rooms apart from HTTP: a room's live state with its entry rules, who
may see and moderate it, its chat pages, and the JSON the API shows of it.

Visibility and entry: a public room is listed and anyone may see it; a
private room is seen by its owner, its approved members and staff only. Entry rules
mirror :func:`data.room_access.may_enter`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from quart import current_app, url_for
from quart import request as http_request

from admin_app.core.caller import CHALLENGE, Caller
from admin_app.core.errors import ApiError
from admin_app.core.state import WebState
from admin_app.core.times import iso_ms
from data import chat as chat_store
from data import room_access as access_store
from data.room_access import Membership, RoomAccess
from protocol.control import LiveRoom

#: ``app.config`` key of an explicit sync socket URL (shared with the pages blueprint).
SYNC_URL_KEY = "WATCHPARTY_SYNC_URL"


@dataclass(frozen=True, slots=True)
class RoomContext:
    """A live room, its entry rules, and the caller's membership of it.

    Attributes:
        room: The live room from :class:`~protocol.control.RoomControl`.
        access: Its entry rules, or None (public and open).
        membership: The caller's membership, or None.
    """

    room: LiveRoom
    access: RoomAccess | None
    membership: Membership | None

    @property
    def code(self) -> str:
        return str(self.room["code"])

    @property
    def visibility(self) -> str:
        return self.access["visibility"] if self.access else "public"

    @property
    def entry_mode(self) -> str:
        return self.access["entry_mode"] if self.access else "open"

    @property
    def owner_user_id(self) -> str | None:
        if self.access and self.access["owner_user_id"]:
            return self.access["owner_user_id"]
        owner = self.room.get("owner_user_id")
        return str(owner) if owner else None

    def is_owner(self, caller: Caller | None) -> bool:
        return caller is not None and self.owner_user_id == caller.user_id

    def is_host(self, caller: Caller | None) -> bool:
        """Whether the caller is host of the room now (through a participant)."""
        if caller is None:
            return False
        return any(
            p.get("user_id") == caller.user_id and p.get("role") == "host"
            for p in self.room.get("participants", [])
        )

    def is_member(self, caller: Caller | None) -> bool:
        """Owner, or an approved membership."""
        if caller is None:
            return False
        approved = self.membership is not None and self.membership["status"] == "approved"
        return approved or self.is_owner(caller)

    def may_enter(self, caller: Caller | None) -> bool:
        """As :func:`data.room_access.may_enter` (staff do not pass closed doors here)."""
        return self.entry_mode == "open" or self.is_member(caller)

    def may_view(self, caller: Caller | None) -> bool:
        if self.visibility == "public":
            return True
        return caller is not None and (caller.is_staff or self.is_member(caller))

    def may_moderate(self, caller: Caller | None) -> bool:
        """Owner, current host, or staff: may approve and deny requests."""
        return caller is not None and (
            caller.is_staff or self.is_owner(caller) or self.is_host(caller)
        )


async def load_room(st: WebState, code: str, caller: Caller | None) -> RoomContext:
    """The live room *code* with its rules and the caller's membership.

    Raises:
        ControlError: ``room_not_found`` (404) for a room that is not live.
    """
    room = await st.rooms.get_room(code)
    user_id = caller.user_id if caller is not None else None

    def read(conn: Any) -> tuple[RoomAccess | None, Membership | None]:
        access = access_store.get_room_access(conn, code)
        member = None if user_id is None else access_store.get_membership(conn, code, user_id)
        return access, member

    access, membership = await st.db.read(read)
    return RoomContext(room, access, membership)


def require_view(ctx: RoomContext, caller: Caller | None) -> None:
    """Raise 401 (no token) or 403 ``private_room`` unless the caller may see the room."""
    if ctx.may_view(caller):
        return
    if caller is None:
        raise ApiError(
            401,
            "authentication_required",
            f"room {ctx.code} is private: sign in as one of its members",
            headers={"WWW-Authenticate": CHALLENGE},
        )
    raise ApiError(403, "private_room", f"room {ctx.code} is private and you are not a member")


def sync_url(st: WebState) -> str:
    """The sync socket URL clients should use: ``app.config[SYNC_URL_KEY]``, else the
    ``public_sync_url`` setting, else ``ws(s)://<request host>:<port>/ws``."""
    explicit = current_app.config.get(SYNC_URL_KEY)
    if explicit:
        return str(explicit)
    if st.settings.public_sync_url:
        return st.settings.public_sync_url
    host = urlsplit(f"//{http_request.host}").hostname or "127.0.0.1"
    if ":" in host:  # an IPv6 literal needs its brackets back
        host = f"[{host}]"
    scheme = "wss" if http_request.scheme in ("https", "wss") else "ws"
    return f"{scheme}://{host}:{st.settings.sync_port}/ws"


def join_url(code: str) -> str | None:
    """The watch page of room *code*, when the pages blueprint is installed."""
    if "pages.watch" not in current_app.view_functions:
        return None
    return url_for("pages.watch", code=code, _external=True)


def room_summary(room: LiveRoom, access: RoomAccess | None) -> dict[str, Any]:
    """A room as lists show it."""
    playback = room.get("playback") or {}
    owner = (access["owner_user_id"] if access else None) or room.get("owner_user_id")
    return {
        "code": room["code"],
        "name": room["name"],
        "url": url_for("rooms.detail", room_id=room["code"], _external=True),
        "visibility": access["visibility"] if access else "public",
        "entry_mode": access["entry_mode"] if access else "open",
        "owner_user_id": owner,
        "host_id": room.get("host_id"),
        "settings": room["settings"],
        "created_at": iso_ms(room.get("created_at_ms") or 0),
        "participant_count": room.get("participant_count", len(room.get("participants", []))),
        "media": playback.get("media"),
        "paused": bool(playback.get("paused", True)),
    }


def room_detail(st: WebState, room: LiveRoom, access: RoomAccess | None) -> dict[str, Any]:
    """A room with its participants and playback."""
    return {
        **room_summary(room, access),
        "sync_url": sync_url(st),
        "join_url": join_url(str(room["code"])),
        "participants": room.get("participants", []),
        "playback": room["playback"],
        "seq": room.get("seq", room["playback"].get("seq", 0)),
    }


def member_json(member: dict[str, Any]) -> dict[str, Any]:
    """A membership as the API shows it."""
    return {
        "room_code": member["room_code"],
        "user_id": member["user_id"],
        "display_name": member.get("display_name"),
        "status": member["status"],
        "requested_at": iso_ms(member["requested_at_ms"]),
        "decided_at": iso_ms(member["decided_at_ms"]),
    }


def message_json(message: dict[str, Any]) -> dict[str, Any]:
    """A stored chat message as the API shows it."""
    return {
        "id": message["id"],
        "participant_id": message["participant_id"],
        "user_id": message["user_id"],
        "display_name": message["display_name"],
        "text": message["text"],
        "created_at": iso_ms(message["created_at_ms"]),
        "edited_at": iso_ms(message["edited_at_ms"]),
    }


def messages_page(
    conn: Any, room_code: str, offset: int, limit: int
) -> tuple[int, list[chat_store.ChatMessage]]:
    """A page of room *room_code*'s chat, newest first: ``(count, messages)``, skipping
    *offset* messages and returning at most *limit*; run it in ``Database.read``."""
    # list_messages pages by keyset (before_id); a page number is reached by walking
    # keyset pages up to the offset, all in one read snapshot.
    count = chat_store.count_messages(conn, room_code)
    before_id = None
    while offset > 0 and count:
        skipped = chat_store.list_messages(
            conn, room_code, before_id=before_id, limit=min(offset, chat_store.MAX_LIST_LIMIT)
        )
        if not skipped:
            return count, []
        offset -= len(skipped)
        before_id = skipped[-1]["id"]
    if not count:
        return 0, []
    return count, chat_store.list_messages(conn, room_code, before_id=before_id, limit=limit)
