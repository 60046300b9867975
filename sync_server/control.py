"""The one narrow interface through which the web app reads and changes live rooms.

The sync server is the only owner of live room state. The web app never touches a
:class:`protocol.room.Room`; it calls a :class:`RoomControl`:

* :class:`LocalRoomControl` when both servers run in one process (direct calls);
* :class:`RemoteRoomControl` when they run as two processes: the same calls travel
  over the sync server's control socket (``ws://HOST:PORT/control``, JSON text frames,
  authenticated by a ``service`` token signed with the shared secret), where
  :func:`handle_control_socket` answers them with a :class:`LocalRoomControl`.

Either way the same code applies an action, so a play over REST is exactly a play on
the socket: same permission check, same scheduling, same broadcast.
"""

from __future__ import annotations

import itertools
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import trio
from trio_websocket import (
    ConnectionClosed,
    WebSocketConnection,
    connect_websocket_url,
)

from protocol import messages as m
from protocol.codec import EncodedMessage
from protocol.control import (
    ACTIONS,
    CONTROL_ERROR_STATUS,
    CONTROL_PATH,
    E_UNAVAILABLE,
    INTERACTIONS,
    JOIN_REQUEST_STATUSES,
    TYP_SERVICE,
    ActResult,
    ControlError,
    LiveRoom,
    RoomControl,
)
from protocol.errors import E_INVALID_MESSAGE, E_ROOM_NOT_FOUND, ProtocolError
from protocol.messages import Media, media_dict
from protocol.room import ROLE_COHOST, ROLE_HOST, Room
from protocol.tokens import TokenError, issue_token, verify_token
from sync_server import moderation
from sync_server.transport import ConnectionClosed as SocketClosed
from sync_server.transport import ServerWebSocket

logger = logging.getLogger(__name__)

__all__ = [
    "CONTROL_ERROR_STATUS",
    "CONTROL_PATH",
    "E_UNAVAILABLE",
    "JOIN_REQUEST_STATUSES",
    "TYP_SERVICE",
    "ControlError",
    "LocalRoomControl",
    "RemoteRoomControl",
    "RoomControl",
    "handle_control_socket",
    "issue_service_token",
    "open_remote_room_control",
    "room_detail",
]


def room_detail(room: Room) -> LiveRoom:
    """A live room as the web app sees it.

    Returns:
        ``{"code", "name", "settings", "host_id", "owner_user_id", "created_at_ms",
        "participants": [...], "participant_count", "playback": {...}, "polls": [...],
        "queue": {...}, "seq"}``;
        ``participant_count`` counts connected participants.
    """
    return {
        "code": room.code,
        "name": room.name,
        "settings": room.settings.to_dict(),
        "host_id": room.host_id,
        "owner_user_id": room.owner_user_id,
        "created_at_ms": room.created_at_ms,
        "participants": room.public_participants(),
        "participant_count": room.connected_count(),
        "playback": room.playback.to_dict(),
        "polls": room.polls.public(),
        "queue": room.queue_public(),
        "seq": room.seq,
    }


def actor_for_user(room: Room, user_id: str) -> str:
    """The participant id a REST action by *user_id* acts as.

    The user's own participant with the highest role when it has one; otherwise
    ``user:<id>``, which the room treats as host when the user owns the room and as
    a viewer otherwise.
    """
    rank = {ROLE_HOST: 0, ROLE_COHOST: 1}
    mine = sorted(
        (p for p in room.participants.values() if p.user_id == user_id),
        key=lambda p: rank.get(p.role, 2),
    )
    return mine[0].id if mine else f"user:{user_id}"


def _to_control_error(exc: ProtocolError) -> ControlError:
    code = exc.code if exc.code in CONTROL_ERROR_STATUS else E_INVALID_MESSAGE
    return ControlError(code, exc.message)


class LocalRoomControl:
    """:class:`RoomControl` on a :class:`sync_server.server.SyncServer` in this process."""

    def __init__(self, server: Any) -> None:
        self.server = server

    def _live(self, code: str) -> Any:
        live = self.server.rooms.get(code)
        if live is None:
            raise ControlError(E_ROOM_NOT_FOUND, f"no live room has code {code!r}")
        return live

    async def create_room(
        self,
        *,
        name: str,
        code: str | None = None,
        settings: dict[str, Any] | None = None,
        media: dict[str, Any] | None = None,
        owner_user_id: str | None = None,
    ) -> LiveRoom:
        if code is not None and code in self.server.rooms:
            raise ControlError(E_INVALID_MESSAGE, f"room code {code!r} is taken")
        try:
            live = await self.server.create_room(
                code, name, settings=settings, media=media, owner_user_id=owner_user_id
            )
        except ProtocolError as exc:
            raise _to_control_error(exc) from None
        return room_detail(live.room)

    async def get_room(self, code: str) -> LiveRoom:
        return room_detail(self._live(code).room)

    async def list_rooms(self) -> list[LiveRoom]:
        return [room_detail(live.room) for live in self.server.rooms.values()]

    async def act(self, code: str, *, user_id: str, action: dict[str, Any]) -> ActResult:
        """Apply a playback action as *user_id*, exactly as the socket would."""
        live = self._live(code)
        room: Room = live.room
        kind = action.get("type")
        if kind not in ACTIONS:
            raise ControlError(
                E_INVALID_MESSAGE, f"action type must be one of {', '.join(ACTIONS)}, got {kind!r}"
            )
        pid = actor_for_user(room, user_id)
        now = self.server.now_ms()
        try:
            if kind == "play":
                events = room.play(pid, position_s=action.get("position_s"), now_ms=now)
            elif kind == "pause":
                events = room.pause(pid, now_ms=now)
            elif kind == "seek":
                events = room.seek(pid, position_s=float(action["position_s"]), now_ms=now)
            elif kind == "set_rate":
                events = room.set_rate(pid, rate=float(action["rate"]), now_ms=now)
            else:
                # The web app resolved any video_id itself (the same rule as the socket).
                media = media_dict(Media.model_validate(action.get("media")))
                events = room.change_media(pid, media=media, now_ms=now)
        except ProtocolError as exc:
            raise _to_control_error(exc) from None
        except (KeyError, TypeError, ValueError) as exc:
            raise ControlError(E_INVALID_MESSAGE, f"invalid {kind} action: {exc}") from None
        live.broadcast(events)
        if events:
            await moderation.record(live, pid, kind, details=dict(action))
        return {"seq": room.seq, "playback": room.playback.to_dict()}

    async def interact(
        self, code: str, *, user_id: str, name: str, action: dict[str, Any]
    ) -> dict[str, Any]:
        """Apply an in-room action as *user_id*, exactly as the socket would (the same
        message model validates it, the same rules apply)."""
        from sync_server import polls, queue

        live = self._live(code)
        kind = action.get("type")
        if kind not in INTERACTIONS:
            raise ControlError(
                E_INVALID_MESSAGE,
                f"action type must be one of {', '.join(INTERACTIONS)}, got {kind!r}",
            )
        try:
            msg = m.parse_client_message(action)
            pid = actor_for_user(live.room, user_id)
            if isinstance(msg, m.PollCreate):
                opened = await polls.create_poll(
                    live,
                    pid,
                    question=msg.question,
                    options=list(msg.options),
                    multiple=msg.multiple,
                    anonymous=msg.anonymous,
                    duration_s=msg.duration_s,
                    name=name,
                )
                return {"poll": opened["poll"], "seq": opened.seq}
            if isinstance(msg, m.PollVote):
                polls.vote_poll(live, pid, msg.poll_id, msg.choices, name=name)
                return {"poll_id": msg.poll_id, "choices": sorted(msg.choices)}
            if isinstance(msg, m.PollClose):
                closed = await polls.close_poll(live, pid, msg.poll_id)
                await moderation.record(live, pid, "poll_close", target=str(msg.poll_id), name=name)
                return {"poll": closed["poll"], "seq": closed.seq}
            events = await queue.apply(live, pid, msg, name=name)
            live.broadcast(events)
            if msg.type in ("queue_remove", "queue_move", "queue_skip"):
                target = str(getattr(msg, "item_id", "") or "") or None
                await moderation.record(live, pid, msg.type, target=target, name=name)
            return {"seq": live.room.seq, "queue": live.room.queue_public()}
        except ProtocolError as exc:
            raise _to_control_error(exc) from None

    async def remove_user(self, code: str, user_id: str) -> int:
        live = self._live(code)
        room: Room = live.room
        removed = 0
        for p in [p for p in room.participants.values() if p.user_id == user_id]:
            conn = live.members.pop(p.id, None)
            if conn is not None:
                conn.live = None
                from protocol.errors import CLOSE_NORMAL

                conn.fail(CLOSE_NORMAL, "left the room")
            live.broadcast(room.leave(p.id, now_ms=self.server.now_ms(), reason="left"))
            removed += 1
        return removed

    async def delete_room(self, code: str) -> bool:
        deleted: bool = await self.server.delete_room(code)
        return deleted

    async def statistics(self) -> dict[str, Any]:
        stats: dict[str, Any] = self.server.statistics()
        return stats

    async def notify_join_request(
        self,
        code: str,
        *,
        user_id: str,
        display_name: str,
        requested_at_ms: float,
        status: str = "pending",
    ) -> int:
        """Tell the room's moderators on the socket that an account asks to join
        (*status* ``"pending"``) or withdrew its request (``"withdrawn"``).

        Sends a ``join_request`` (PROTOCOL.md section 7) to the connected host and to
        connections of the room's owner account: the participants who may approve
        or deny it over REST. It is a notice, not a room event: no sequence number,
        nothing replayed on resume (the pending list is the REST ``members``
        endpoint).

        Returns:
            How many connections were told (0 when no moderator is connected).

        Raises:
            ControlError: ``room_not_found`` when the room is not live.
        """
        if status not in JOIN_REQUEST_STATUSES:
            raise ControlError(
                E_INVALID_MESSAGE,
                f"status must be one of {', '.join(JOIN_REQUEST_STATUSES)}, got {status!r}",
            )
        live = self._live(code)
        room: Room = live.room
        message = {
            "type": "join_request",
            "room": code,
            "status": status,
            "user_id": user_id,
            "display_name": display_name,
            "requested_at_ms": requested_at_ms,
        }
        encoded = EncodedMessage(message)  # encoded once for every receiver
        told = 0
        for pid, conn in list(live.members.items()):
            p = room.participants.get(pid)
            if p is None:
                continue
            owner = room.owner_user_id is not None and p.user_id == room.owner_user_id
            if pid == room.host_id or owner:
                conn.send(encoded)
                told += 1
        return told


# --- the control socket --------------------------------------------------------------------
_OPS = (
    "create_room",
    "get_room",
    "list_rooms",
    "act",
    "interact",
    "remove_user",
    "delete_room",
    "statistics",
    "notify_join_request",
)


def issue_service_token(secret: str, *, now_s: float, ttl_s: float = 3600.0) -> str:
    """A token for the control socket (``typ`` ``service``), signed with the shared secret."""
    return issue_token(secret, {"sub": "web"}, typ=TYP_SERVICE, now_s=now_s, ttl_s=ttl_s)


async def handle_control_socket(server: Any, request: ServerWebSocket) -> None:
    """Serve one control-socket connection (path ``/control``).

    The handshake must carry ``Authorization: Bearer <service token>``; otherwise it
    is rejected with HTTP 401. Each text frame is a request
    ``{"id": n, "op": "<RoomControl method>", "args": {...}}`` answered by
    ``{"id": n, "ok": true, "result": ...}`` or
    ``{"id": n, "ok": false, "error": {"code", "message"}}``.
    """
    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in request.headers}
    auth = headers.get("authorization", "")
    token = auth[7:] if auth.lower().startswith("bearer ") else ""
    try:
        verify_token(server.secret, token, typ=TYP_SERVICE, now_s=server.now_ms() / 1000.0)
    except TokenError:
        await request.reject(401, body=b"control socket: a valid service token is required\n")
        return
    ws = await request.accept()
    control = LocalRoomControl(server)
    try:
        while True:
            frame = await ws.get_message()
            reply = await _answer(control, frame)
            await ws.send_message(json.dumps(reply))
    except SocketClosed:
        return


async def _answer(control: LocalRoomControl, frame: str | bytes) -> dict[str, Any]:
    rid: Any = None
    try:
        req = json.loads(frame)
        if not isinstance(req, dict):
            raise ValueError("a request must be a JSON object")
        rid = req.get("id")
        op = req.get("op")
        args = req.get("args") or {}
        if op not in _OPS or not isinstance(args, dict):
            raise ControlError(E_INVALID_MESSAGE, f"unknown op {op!r}; expected one of {_OPS}")
        if op in ("get_room", "delete_room"):
            result = await getattr(control, op)(args["code"])
        elif op == "remove_user":
            result = await control.remove_user(args["code"], args["user_id"])
        elif op == "interact":
            result = await control.interact(
                args["code"],
                user_id=str(args["user_id"]),
                name=str(args["name"]),
                action=args["action"],
            )
        elif op == "act":
            result = await control.act(args["code"], user_id=args["user_id"], action=args["action"])
        elif op == "create_room":
            result = await control.create_room(**args)
        elif op == "notify_join_request":
            result = await control.notify_join_request(
                args["code"],
                user_id=str(args["user_id"]),
                display_name=str(args["display_name"]),
                requested_at_ms=float(args["requested_at_ms"]),
                status=str(args.get("status", "pending")),
            )
        else:
            result = await getattr(control, op)()
        return {"id": rid, "ok": True, "result": result}
    except ControlError as exc:
        return {"id": rid, "ok": False, "error": {"code": exc.code, "message": exc.message}}
    except (ValueError, KeyError, TypeError) as exc:
        return {
            "id": rid,
            "ok": False,
            "error": {"code": E_INVALID_MESSAGE, "message": f"bad control request: {exc}"},
        }


class RemoteRoomControl:
    """:class:`RoomControl` over a sync server's control socket in another process.

    One connection, opened on first use and reopened after a failure; requests are
    sent one at a time. Build it with :func:`open_remote_room_control`, whose nursery
    owns the connection, so any task (any web request) may call it.

    Args:
        url: ``ws://HOST:PORT/control``.
        secret: The shared token key (both processes read it from the database).
        nursery: Where the connection's background task runs.
        timeout_s: Longest wait for a connection or one answer, seconds.
    """

    def __init__(
        self, url: str, secret: str, nursery: trio.Nursery, *, timeout_s: float = 10.0
    ) -> None:
        self.url = url
        self.secret = secret
        self.timeout_s = timeout_s
        self._nursery = nursery
        self._lock = trio.Lock()
        self._ids = itertools.count(1)
        self._ws: WebSocketConnection | None = None
        self._conn_scope: trio.CancelScope | None = None

    async def aclose(self) -> None:
        """Close the connection (a later call opens a new one)."""
        ws, self._ws = self._ws, None
        scope, self._conn_scope = self._conn_scope, None
        if ws is not None:
            with trio.CancelScope(shield=True), trio.move_on_after(1.0):
                await ws.aclose()
        if scope is not None:
            scope.cancel()

    async def _run_connection(
        self, token: str, *, task_status: trio.TaskStatus[WebSocketConnection]
    ) -> None:
        # The connection's reader task raises a handshake rejection into the nursery
        # it runs in, so every connection gets a nursery (and a task) of its own.
        started = False
        with trio.CancelScope() as scope:
            self._conn_scope = scope
            try:
                async with trio.open_nursery() as nursery:
                    ws = await connect_websocket_url(
                        nursery,
                        self.url,
                        extra_headers=[(b"Authorization", f"Bearer {token}".encode())],
                    )
                    started = True
                    task_status.started(ws)
                    await trio.sleep_forever()
            except Exception as exc:  # an ExceptionGroup from the nursery too
                if not started:
                    raise ControlError(
                        E_UNAVAILABLE, f"sync server unreachable at {self.url}: {exc!r}"
                    ) from None
                logger.warning("control socket to %s failed: %r", self.url, exc)

    async def _connect(self) -> WebSocketConnection:
        import time

        token = issue_service_token(self.secret, now_s=time.time())
        try:
            with trio.fail_after(self.timeout_s):
                ws: WebSocketConnection = await self._nursery.start(self._run_connection, token)
        except trio.TooSlowError:
            raise ControlError(E_UNAVAILABLE, f"sync server at {self.url} did not answer") from None
        self._ws = ws
        return ws

    async def _call(self, op: str, **args: Any) -> Any:
        async with self._lock:
            for attempt in (1, 2):
                ws = self._ws or await self._connect()
                rid = next(self._ids)
                try:
                    await ws.send_message(json.dumps({"id": rid, "op": op, "args": args}))
                except ConnectionClosed:
                    await self.aclose()
                    if attempt == 2:
                        raise ControlError(
                            E_UNAVAILABLE, "sync server closed the control socket"
                        ) from None
                    continue  # nothing was applied: safe to send again
                try:
                    with trio.fail_after(self.timeout_s):
                        while True:
                            reply = json.loads(await ws.get_message())
                            if reply.get("id") == rid:
                                break
                except (ConnectionClosed, trio.TooSlowError):
                    await self.aclose()
                    raise ControlError(E_UNAVAILABLE, "no answer from the sync server") from None
                if reply.get("ok"):
                    return reply.get("result")
                error = reply.get("error") or {}
                raise ControlError(error.get("code", E_INVALID_MESSAGE), error.get("message", ""))
        raise AssertionError("unreachable")

    async def create_room(
        self,
        *,
        name: str,
        code: str | None = None,
        settings: dict[str, Any] | None = None,
        media: dict[str, Any] | None = None,
        owner_user_id: str | None = None,
    ) -> LiveRoom:
        result: LiveRoom = await self._call(
            "create_room",
            name=name,
            code=code,
            settings=settings,
            media=media,
            owner_user_id=owner_user_id,
        )
        return result

    async def get_room(self, code: str) -> LiveRoom:
        result: LiveRoom = await self._call("get_room", code=code)
        return result

    async def list_rooms(self) -> list[LiveRoom]:
        result: list[LiveRoom] = await self._call("list_rooms")
        return result

    async def act(self, code: str, *, user_id: str, action: dict[str, Any]) -> ActResult:
        result: ActResult = await self._call("act", code=code, user_id=user_id, action=action)
        return result

    async def interact(
        self, code: str, *, user_id: str, name: str, action: dict[str, Any]
    ) -> dict[str, Any]:
        result: dict[str, Any] = await self._call(
            "interact", code=code, user_id=user_id, name=name, action=action
        )
        return result

    async def remove_user(self, code: str, user_id: str) -> int:
        return int(await self._call("remove_user", code=code, user_id=user_id))

    async def delete_room(self, code: str) -> bool:
        return bool(await self._call("delete_room", code=code))

    async def statistics(self) -> dict[str, Any]:
        result: dict[str, Any] = await self._call("statistics")
        return result

    async def notify_join_request(
        self,
        code: str,
        *,
        user_id: str,
        display_name: str,
        requested_at_ms: float,
        status: str = "pending",
    ) -> int:
        return int(
            await self._call(
                "notify_join_request",
                code=code,
                user_id=user_id,
                display_name=display_name,
                requested_at_ms=requested_at_ms,
                status=status,
            )
        )


@asynccontextmanager
async def open_remote_room_control(
    url: str, secret: str, *, timeout_s: float = 10.0
) -> AsyncIterator[RemoteRoomControl]:
    """A :class:`RemoteRoomControl` whose connection lives in this context's nursery."""
    async with trio.open_nursery() as nursery:
        control = RemoteRoomControl(url, secret, nursery, timeout_s=timeout_s)
        try:
            yield control
        finally:
            await control.aclose()
            nursery.cancel_scope.cancel()
