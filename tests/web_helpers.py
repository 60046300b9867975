"""Helpers for the web app tests: an in-memory RoomControl, a settable clock, and a
real web server (hypercorn on 127.0.0.1, port 0) with an httpx client.

``run_web`` takes any RoomControl, so the same tests can run against the sync
server's ``LocalRoomControl``.
"""

from __future__ import annotations

import itertools
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import trio
from argon2 import PasswordHasher

import data
from admin_app import WebServer, serve_web
from data import rooms as room_store
from protocol.tokens import TYP_ACCESS, issue_token
from sync_server.config import Config
from sync_server.control import ControlError

from .conftest import TEST_SECRET, make_config

#: Cheap argon2 parameters: the tests hash hundreds of passwords.
FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=64, parallelism=1)

ERROR_KEYS = {"code", "message", "details"}

_DEFAULT_SETTINGS = {
    "control": "cohosts",
    "chat_enabled": True,
    "wait_for_everyone": False,
    "allow_guests": True,
}
_RANK = {"host": 0, "cohost": 1, "viewer": 2}


class FakeClock:
    """Wall clock in Unix seconds that moves only when told to."""

    def __init__(self, now_s: float | None = None) -> None:
        self.now_s = time.time() if now_s is None else now_s

    def __call__(self) -> float:
        return self.now_s

    def advance(self, seconds: float) -> None:
        self.now_s += seconds


@dataclass
class FakeRoom:
    code: str
    name: str
    settings: dict[str, Any]
    owner_user_id: str | None
    created_at_ms: float
    media: dict[str, Any] | None = None
    paused: bool = True
    position_s: float = 0.0
    rate: float = 1.0
    seq: int = 0
    participants: list[dict[str, Any]] = field(default_factory=list)

    def playback(self, now_ms: float) -> dict[str, Any]:
        return {
            "media": self.media,
            "paused": self.paused,
            "position_s": self.position_s,
            "rate": self.rate,
            "server_time_ms": now_ms,
            "seq": self.seq,
            "waiting": False,
        }


class FakeRoomControl:
    """An in-memory :class:`protocol.control.RoomControl` with the sync socket's
    permission rules: a user acts with its best participant role in the room; without
    one the owner acts as host and anyone else as a viewer; the room's ``control``
    setting says which roles may control playback.

    With *store*, rooms are written to (and deleted from) the ``rooms`` table as the
    sync server does, so that entry rules can refer to them.

    Attributes:
        rooms: Live rooms by code.
        fail_next: An exception the next call raises (then cleared), for tests of
            unexpected failures.
    """

    def __init__(self, clock: FakeClock, store: data.Database | None = None) -> None:
        self.clock = clock
        self.store = store
        self.rooms: dict[str, FakeRoom] = {}
        self.fail_next: BaseException | None = None
        self.max_rooms = 1000
        self._pids = itertools.count(1)
        self.calls: list[tuple[str, Any]] = []
        #: When set, ``act`` sets ``act_started`` and waits for this event first.
        self.act_gate: trio.Event | None = None
        self.act_started = trio.Event()

    def _check_fail(self, op: str, arg: Any = None) -> None:
        self.calls.append((op, arg))
        if self.fail_next is not None:
            exc, self.fail_next = self.fail_next, None
            raise exc

    def _room(self, code: str) -> FakeRoom:
        room = self.rooms.get(code)
        if room is None:
            raise ControlError("room_not_found", f"no live room has code {code!r}")
        return room

    def _detail(self, room: FakeRoom) -> dict[str, Any]:
        host = next((p["id"] for p in room.participants if p["role"] == "host"), None)
        return {
            "code": room.code,
            "name": room.name,
            "settings": dict(room.settings),
            "host_id": host,
            "owner_user_id": room.owner_user_id,
            "created_at_ms": room.created_at_ms,
            "participants": [dict(p) for p in room.participants],
            "participant_count": sum(1 for p in room.participants if p["connected"]),
            "playback": room.playback(self.clock() * 1000),
            "seq": room.seq,
        }

    def add_participant(
        self, code: str, name: str, *, user_id: str | None, role: str = "viewer"
    ) -> dict[str, Any]:
        """Put a connected participant in a room (as a socket join would)."""
        participant = {
            "id": f"p{next(self._pids)}",
            "name": name,
            "role": role,
            "user_id": user_id,
            "guest": user_id is None,
            "connected": True,
            "buffering": False,
            "drift_ms": None,
            "rtt_ms": 12.5,
        }
        self._room(code).participants.append(participant)
        return participant

    async def create_room(
        self,
        *,
        name: str,
        code: str | None = None,
        settings: dict[str, Any] | None = None,
        media: dict[str, Any] | None = None,
        owner_user_id: str | None = None,
    ) -> dict[str, Any]:
        self._check_fail("create_room", name)
        if len(self.rooms) >= self.max_rooms:
            raise ControlError("server_full", f"the server has {self.max_rooms} rooms, its limit")
        code = code or secrets.token_urlsafe(6).replace("-", "x").replace("_", "y")
        if code in self.rooms:
            raise ControlError("invalid_message", f"room code {code!r} is taken")
        now_ms = self.clock() * 1000
        room = FakeRoom(
            code=code,
            name=name,
            settings={**_DEFAULT_SETTINGS, **(settings or {})},
            owner_user_id=owner_user_id,
            created_at_ms=now_ms,
            media=media,
        )
        if self.store is not None:
            # As the sync server does: the room's row exists before create_room returns.
            await self.store.write(
                lambda conn: room_store.upsert_room_snapshots(
                    conn,
                    [
                        {
                            "code": code,
                            "name": name,
                            "settings": room.settings,
                            "state": {},
                            "last_seq": 0,
                            "created_at_ms": int(now_ms),
                            "updated_at_ms": int(now_ms),
                        }
                    ],
                )
            )
        self.rooms[code] = room
        return self._detail(room)

    async def get_room(self, code: str) -> dict[str, Any]:
        self._check_fail("get_room", code)
        return self._detail(self._room(code))

    async def list_rooms(self) -> list[dict[str, Any]]:
        self._check_fail("list_rooms")
        return [self._detail(room) for room in self.rooms.values()]

    def role_of(self, room: FakeRoom, user_id: str) -> str:
        mine = sorted(
            (p["role"] for p in room.participants if p["user_id"] == user_id),
            key=lambda role: _RANK.get(role, 0),
        )
        if mine:
            return mine[0]
        return "host" if room.owner_user_id == user_id else "viewer"

    async def act(self, code: str, *, user_id: str, action: dict[str, Any]) -> dict[str, Any]:
        self._check_fail("act", action)
        if self.act_gate is not None:
            self.act_started.set()
            await self.act_gate.wait()
        room = self._room(code)
        role = self.role_of(room, user_id)
        control = room.settings["control"]
        allowed = (
            role == "host" or control == "everyone" or (control == "cohosts" and role == "cohost")
        )
        if not allowed:
            raise ControlError("forbidden", f"control is {control!r}; a {role} may not do that")
        kind = action["type"]
        if kind in ("play", "seek") and room.media is None:
            raise ControlError("no_media", "the room has no media to play or seek in")
        if kind == "play":
            room.paused = False
            if action.get("position_s") is not None:
                room.position_s = float(action["position_s"])
        elif kind == "pause":
            room.paused = True
        elif kind == "seek":
            room.position_s = float(action["position_s"])
        elif kind == "set_rate":
            room.rate = float(action["rate"])
        elif kind == "change_media":
            room.media = dict(action["media"])
            room.position_s = 0.0
            room.paused = True
        else:
            raise ControlError("invalid_message", f"unknown action {kind!r}")
        room.seq += 1
        return {"seq": room.seq, "playback": room.playback(self.clock() * 1000)}

    async def remove_user(self, code: str, user_id: str) -> int:
        self._check_fail("remove_user", (code, user_id))
        room = self._room(code)
        before = len(room.participants)
        room.participants = [p for p in room.participants if p["user_id"] != user_id]
        return before - len(room.participants)

    async def delete_room(self, code: str) -> bool:
        self._check_fail("delete_room", code)
        existed = self.rooms.pop(code, None) is not None
        if self.store is not None:
            await self.store.write(room_store.delete_room, code)
        return existed

    async def statistics(self) -> dict[str, Any]:
        return {"rooms": len(self.rooms), "connections": 0}

    async def notify_join_request(
        self,
        code: str,
        *,
        user_id: str,
        display_name: str,
        requested_at_ms: float,
        status: str = "pending",
    ) -> int:
        self._check_fail("notify_join_request", (code, user_id, display_name, status))
        self._room(code)
        return 0


class WebHandle:
    """A running web app with a client and helpers."""

    def __init__(
        self,
        server: WebServer,
        rooms: FakeRoomControl,
        db: data.Database,
        client: httpx.AsyncClient,
        clock: FakeClock,
        config: Config,
    ) -> None:
        self.server = server
        self.rooms = rooms
        self.db = db
        self.client = client
        self.clock = clock
        self.config = config
        self._emails = itertools.count(1)

    @property
    def url(self) -> str:
        return self.server.url

    async def register(
        self, name: str = "Alice", *, email: str | None = None, password: str = "correct horse"
    ) -> dict[str, Any]:
        """Register a fresh account; returns the 201 body (user, access, refresh)."""
        email = email or f"user{next(self._emails)}-{secrets.token_hex(3)}@example.org"
        response = await self.client.post(
            "/api/auth/register/",
            json={"email": email, "password": password, "display_name": name},
        )
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        body["password"] = password
        return body

    async def guest(self, name: str = "Guest") -> dict[str, Any]:
        response = await self.client.post("/api/auth/guest/", json={"display_name": name})
        assert response.status_code == 201, response.text
        return response.json()  # type: ignore[no-any-return]

    async def create_room(self, session: dict[str, Any], **body: Any) -> dict[str, Any]:
        body.setdefault("name", "Movie night")
        response = await self.client.post("/api/rooms/create/", json=body, headers=auth(session))
        assert response.status_code == 201, response.text
        return response.json()  # type: ignore[no-any-return]

    def token(
        self, user_id: str, name: str = "Someone", *, ttl_s: float = 3600.0, **claims: Any
    ) -> str:
        """An access token signed with the app's key, without going through the API."""
        return issue_token(
            TEST_SECRET,
            {"sub": user_id, "name": name, "role": "user", "guest": False, **claims},
            typ=TYP_ACCESS,
            now_s=self.clock(),
            ttl_s=ttl_s,
        )


def auth(session: dict[str, Any] | str) -> dict[str, str]:
    """An Authorization header for a session body (or a bare access token)."""
    token = session if isinstance(session, str) else session["access"]
    return {"Authorization": f"Bearer {token}"}


def assert_error(response: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    """Check *response* has *status* and the one error body; return its ``error``."""
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/json"), response.headers
    body = response.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert set(error) == ERROR_KEYS, error
    assert isinstance(error["code"], str), error
    assert error["code"].islower(), error
    assert isinstance(error["message"], str), error
    assert error["message"], error
    assert isinstance(error["details"], list), error
    for detail in error["details"]:
        assert set(detail) == {"field", "message"}, detail
    if code is not None:
        assert error["code"] == code, error
    return error  # type: ignore[no-any-return]


def web_config(db_path: Path, **overrides: Any) -> Config:
    """Test settings for the web app: loopback, port 0, a high auth rate limit."""
    base: dict[str, Any] = {
        "web_host": "127.0.0.1",
        "web_port": 0,
        "auth_rate_limit_per_min": 100_000,
    }
    base.update(overrides)
    return make_config(db_path, **base)


@asynccontextmanager
async def run_web(
    db_path: Path,
    *,
    rooms: Any = None,
    clock: Any = None,
    db: data.Database | None = None,
    **overrides: Any,
) -> AsyncIterator[WebHandle]:
    """Serve the web app and stop it on exit.

    Args:
        db_path: Database file (opened here unless *db* is given).
        rooms: A RoomControl; a :class:`FakeRoomControl` when None.
        clock: Wall clock for tokens; a :class:`FakeClock` at the current time when None.
        db: An open database to share (with a sync server); closed by its owner.
        **overrides: Settings.
    """
    config = web_config(db_path, **overrides)
    clock = clock or FakeClock()
    own_db = db is None
    if db is None:
        db = await trio.to_thread.run_sync(data.open_database, config.db)
    if rooms is None:
        rooms = FakeRoomControl(clock, db)
    try:
        async with trio.open_nursery() as nursery:
            server: WebServer = await nursery.start(
                lambda task_status: serve_web(
                    config,
                    db=db,
                    rooms=rooms,
                    secret=TEST_SECRET,
                    clock=clock,
                    password_hasher=FAST_HASHER,
                    task_status=task_status,
                )
            )
            try:
                async with httpx.AsyncClient(base_url=server.url, timeout=30.0) as client:
                    yield WebHandle(server, rooms, db, client, clock, config)
            finally:
                nursery.cancel_scope.cancel()
    finally:
        if own_db:
            db.close()
