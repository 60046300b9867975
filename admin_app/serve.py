"""Serving the web app with hypercorn on trio: :func:`serve_web`."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import trio
from argon2 import PasswordHasher
from hypercorn.config import Config as HypercornConfig
from hypercorn.trio import serve
from quart_trio import QuartTrio

from data import Database
from protocol.control import RoomControl

from .app import create_app
from .core.settings import WebSettings

logger = logging.getLogger(__name__)

#: How long requests in flight get to finish after a stop was asked for, seconds.
GRACEFUL_TIMEOUT_S = 5.0
#: How long an idle keep-alive connection is kept after its last response, seconds.
KEEP_ALIVE_TIMEOUT_S = 5.0


@dataclass(frozen=True, slots=True)
class WebServer:
    """A running web server.

    Attributes:
        app: The app it serves.
        host: The address it listens on.
        port: The bound TCP port (the real one when ``web_port`` was 0).
    """

    app: QuartTrio
    host: str
    port: int

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"


async def serve_web(
    config: Any,
    *,
    db: Database,
    rooms: RoomControl,
    secret: str,
    clock: Callable[[], float] | None = None,
    password_hasher: PasswordHasher | None = None,
    task_status: trio.TaskStatus[WebServer] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve the web app on ``web_host``:``web_port`` until cancelled.

    Follows the nursery-start protocol: ``server = await nursery.start(...)`` returns
    a :class:`WebServer` once the socket listens (``server.port`` is the bound port,
    also for ``web_port`` 0).

    Args:
        config: Settings (see :func:`admin_app.app.create_app`).
        db: The open database.
        rooms: Live rooms.
        secret: HS256 token key.
        clock: Wall clock for token times (tests); ``time.time`` when None.
        password_hasher: argon2 hasher (tests pass a cheap one).

    Raises:
        OSError: if the address cannot be bound (before ``task_status.started``).

    Error handling:
        On cancellation the server stops accepting connections and lets requests in
        flight finish for up to :data:`GRACEFUL_TIMEOUT_S` seconds (hypercorn's
        ``shutdown_trigger``), then returns by raising the cancellation.
    """
    settings = WebSettings.from_config(config)
    app = create_app(
        config, db=db, rooms=rooms, secret=secret, clock=clock, password_hasher=password_hasher
    )
    hconfig = HypercornConfig()
    hconfig.bind = [f"{settings.web_host}:{settings.web_port}"]
    hconfig.accesslog = None  # the app writes its own JSON access log
    hconfig.errorlog = logging.getLogger("hypercorn.error")
    hconfig.graceful_timeout = GRACEFUL_TIMEOUT_S
    hconfig.keep_alive_timeout = KEEP_ALIVE_TIMEOUT_S
    hconfig.include_server_header = False
    shutdown = trio.Event()
    shield = trio.CancelScope(shield=True)

    async def run(task_status: trio.TaskStatus[list[str]]) -> None:
        # Shielded so that cancelling serve_web does not cut hypercorn's graceful
        # shutdown short; the shutdown event (and a deadline) end it instead.
        with shield:
            await serve(app, hconfig, shutdown_trigger=shutdown.wait, task_status=task_status)

    async with trio.open_nursery() as nursery:
        binds: list[str] = await nursery.start(run)
        port = int(binds[0].rsplit(":", 1)[1])
        server = WebServer(app=app, host=settings.web_host, port=port)
        logger.info("web app listening on %s", server.url)
        task_status.started(server)
        try:
            await trio.sleep_forever()
        finally:
            shutdown.set()
            shield.deadline = trio.current_time() + GRACEFUL_TIMEOUT_S + 1.0
            logger.info("web app stopping")
