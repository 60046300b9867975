"""The rules of the interactive domain apart from HTTP: the poll a path names, who may
see or act on it, and the JSON of a poll.

Stored polls (``data.polls``) are the record; an open poll's results are live in the
sync server and come with the room (``LiveRoom.polls``).
"""

from __future__ import annotations

from typing import Any

from admin_app.core.caller import Caller
from admin_app.core.errors import ApiError
from admin_app.core.state import WebState
from admin_app.core.times import iso_ms
from admin_app.rooms import service as rooms
from data import NotFoundError
from data import polls as poll_store
from data.polls import StoredPoll

#: Results of a poll no room knows of any more (an open row whose room restarted
#: without it): nothing counted.
_NO_RESULTS: dict[str, Any] = {"counts": None, "voter_count": 0, "voters": None}


def display_name(caller: Caller) -> str:
    """The name a REST actor is shown with in a room."""
    return caller.user["display_name"]


async def party(st: WebState, party_id: str, caller: Caller | None) -> rooms.RoomContext:
    """The live room *party_id*, if the caller may see it.

    Raises:
        ControlError: ``room_not_found`` (404).
        ApiError: 401 / 403 ``private_room`` (as the rooms domain).
    """
    ctx = await rooms.load_room(st, party_id, caller)
    rooms.require_view(ctx, caller)
    return ctx


def require_entry(ctx: rooms.RoomContext, caller: Caller) -> None:
    """Raise 403 ``forbidden`` unless the caller may enter the room (acting in it)."""
    if not ctx.may_enter(caller):
        raise ApiError(403, "forbidden", f"join room {ctx.code} before acting in it")


async def stored_poll(st: WebState, poll_id: int) -> StoredPoll:
    """The stored poll *poll_id*.

    Raises:
        ApiError: 404 ``poll_not_found``.
    """
    try:
        return await st.db.read(poll_store.get_poll, poll_id)
    except NotFoundError:
        raise ApiError(404, "poll_not_found", f"no poll {poll_id}") from None


def poll_json(row: StoredPoll, live: dict[str, Any] | None) -> dict[str, Any]:
    """A poll as the API shows it: the stored row, with the live poll's results (and
    closing) when the room has it."""
    closed_at = row["closed_at_ms"]
    reason = row["close_reason"]
    if live is not None and live.get("closed"):
        closed_at, reason = live["closed_at_ms"], live["close_reason"]
    if live is not None:
        results = live["results"]
    elif row["counts"] is not None:
        results = {
            "counts": row["counts"],
            "voter_count": row["voter_count"],
            "voters": row["voters"],
        }
    else:
        results = {**_NO_RESULTS, "counts": [0] * len(row["options"])}
    return {
        "id": row["id"],
        "party_id": row["room_code"],
        "question": row["question"],
        "options": row["options"],
        "multiple": row["multiple"],
        "anonymous": row["anonymous"],
        "status": "open" if closed_at is None else "closed",
        "created_by_user_id": row["created_by_user_id"],
        "created_by_name": row["created_by_name"],
        "created_at": iso_ms(row["created_at_ms"]),
        "closes_at": iso_ms(row["closes_at_ms"]),
        "closed_at": iso_ms(closed_at),
        "close_reason": reason,
        "results": results,
    }


def live_polls(ctx: rooms.RoomContext) -> dict[int, dict[str, Any]]:
    """The room's open and recently closed polls by id."""
    return {int(p["id"]): p for p in ctx.room.get("polls", [])}


def reaction_json(row: dict[str, Any]) -> dict[str, Any]:
    """A stored reaction as the API shows it."""
    return {
        "id": row["id"],
        "party_id": row["room_code"],
        "participant_id": row["participant_id"],
        "user_id": row["user_id"],
        "display_name": row["display_name"],
        "emoji": row["emoji"],
        "position_s": row["position_s"],
        "media_key": row["media_key"],
        "created_at": iso_ms(row["created_at_ms"]),
    }


def audit_json(row: dict[str, Any]) -> dict[str, Any]:
    """An audit-log entry as the API shows it."""
    return {
        "id": row["id"],
        "party_id": row["room_code"],
        "actor": row["actor"],
        "actor_user_id": row["actor_user_id"],
        "actor_name": row["actor_name"],
        "action": row["action"],
        "target": row["target"],
        "details": row["details"],
        "created_at": iso_ms(row["created_at_ms"]),
    }
