"""Shared fixtures: a real sync server on an ephemeral loopback port, real clients."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import trio

import data
from protocol.tokens import TYP_ACCESS, issue_token
from sync_server.client import SyncClient, open_sync_client
from sync_server.config import Config
from sync_server.server import SyncServer, serve_sync

TEST_SECRET = secrets.token_urlsafe(32)


def make_config(db_path: Path, **overrides: Any) -> Config:
    """Test settings: loopback, port 0, fast timers, no demo room."""
    base = Config(
        host="127.0.0.1",
        port=0,
        db=str(db_path),
        secret_key=TEST_SECRET,
        demo=False,
        heartbeat_interval_s=5.0,
        snapshot_interval_s=60.0,
        stats_interval_s=60.0,
        reconnect_grace_s=5.0,
    )
    return base.with_changes(**overrides)


class ServerHandle:
    """A running server plus helpers to reach it."""

    def __init__(self, server: SyncServer, db: data.Database) -> None:
        self.server = server
        self.db = db

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.server.port}/ws"

    def token(self, user_id: str, name: str, *, ttl_s: float = 3600.0, role: str = "user") -> str:
        return issue_token(
            self.server.secret,
            {"sub": user_id, "name": name, "role": role, "guest": False},
            typ=TYP_ACCESS,
            now_s=self.server.now_ms() / 1000.0,
            ttl_s=ttl_s,
        )

    def client(self, room: str, name: str = "viewer", **kwargs: Any) -> Any:
        if "token" not in kwargs and "resume" not in kwargs:
            kwargs.setdefault("display_name", name)
        return open_sync_client(self.url, room=room, **kwargs)


@asynccontextmanager
async def run_server(
    db_path: Path, *, clock: Callable[[], float] | None = None, **overrides: Any
) -> AsyncIterator[ServerHandle]:
    """Start a sync server (own database at *db_path*) and stop it on exit."""
    config = make_config(db_path, **overrides)
    db = await trio.to_thread.run_sync(data.open_database, config.db)
    try:
        async with trio.open_nursery() as nursery:
            server = await nursery.start(
                lambda task_status: serve_sync(config, db=db, clock=clock, task_status=task_status)
            )
            try:
                yield ServerHandle(server, db)
            finally:
                nursery.cancel_scope.cancel()
    finally:
        db.close()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "watchparty.db"


@pytest.fixture
async def srv(db_path: Path) -> AsyncIterator[ServerHandle]:
    async with run_server(db_path) as handle:
        await handle.server.create_room(
            "room1",
            "Room one",
            media={"url": "https://example.org/v.mp4", "title": "V", "duration_s": 600.0},
        )
        yield handle


__all__ = ["ServerHandle", "SyncClient", "make_config", "run_server"]
