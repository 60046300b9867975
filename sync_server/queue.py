"""The shared queue of a live room: what the sync socket and the control interface
(REST) share. The rules are :mod:`protocol.room_queue` (pure); this resolves a library
video to the media a room plays (the same rule as ``change_media``) and applies."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from data import videos as video_store
from protocol import events as ev
from protocol import messages as m
from protocol.errors import E_NOT_FOUND, ProtocolError

if TYPE_CHECKING:
    from sync_server.live_room import LiveRoom


async def apply(
    live: LiveRoom, actor: str, msg: Any, *, name: str | None = None
) -> list[ev.RoomEvent]:
    """Apply a validated queue message (``queue_add``, ``queue_remove``, ``queue_move``,
    ``queue_skip``, ``vote_skip``) as *actor*; returns the events to broadcast.

    Raises:
        ProtocolError: ``not_found`` (also a library video rooms may not play),
            ``forbidden``, ``stale_queue``, ``already_voted``, ``no_media``,
            ``invalid_message`` (see :mod:`protocol.room_queue`).
    """
    room, server = live.room, live.server
    match msg:
        case m.QueueAdd():
            if msg.video_id is not None:
                p = room.participants.get(actor)
                media = await server.db.read(
                    video_store.media_for_room, msg.video_id, p.user_id if p else None
                )
                if media is None:
                    raise ProtocolError(E_NOT_FOUND, f"no video {msg.video_id} that rooms may play")
            else:
                assert msg.media is not None  # the model requires one of the two
                media = m.media_dict(msg.media)
                media.pop("video_id", None)  # only the server vouches for a library video
            return room.queue_add(actor, media, name=name, now_ms=server.now_ms())
        case m.QueueRemove():
            return room.queue_remove(actor, msg.item_id)
        case m.QueueMove():
            return room.queue_move(actor, msg.item_id, msg.to_index, msg.version)
        case m.QueueSkip():
            return room.queue_skip(actor, now_ms=server.now_ms())
        case m.VoteSkip():
            return room.vote_skip(actor, now_ms=server.now_ms())
    raise AssertionError(f"not a queue message: {msg!r}")


__all__ = ["apply"]
