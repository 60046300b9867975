"""Real servers for the notification tests: an SMTP server (aiosmtpd) and a Web Push
service endpoint (hypercorn), both on 127.0.0.1 with an ephemeral port, and Web Push
subscription keys a test can decrypt with (http_ece)."""

from __future__ import annotations

import base64
import email
import email.policy
import os
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

import http_ece
import trio
from aiosmtpd.controller import Controller
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from hypercorn.config import Config as HypercornConfig
from hypercorn.trio import serve

from admin_app.notifications.service import NotificationService


class Inbox:
    """An aiosmtpd handler that keeps every accepted message; while ``failures`` is
    above 0 it answers DATA with a temporary error (451) instead, counting down."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.failures = 0
        self.failure_reply = "451 4.3.0 Try again later"
        self.refused = 0
        self._lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self._lock:
            if self.failures > 0:
                self.failures -= 1
                self.refused += 1
                return self.failure_reply
            message = email.message_from_bytes(envelope.content, policy=email.policy.default)
            self.messages.append(message)  # type: ignore[arg-type]
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 OK"


class _Controller(Controller):
    """aiosmtpd's threaded controller on port 0 (it only knows fixed ports)."""

    def _trigger_server(self) -> None:
        assert self.server is not None
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


@asynccontextmanager
async def open_smtp_server() -> AsyncIterator[tuple[Inbox, int]]:
    """Run an SMTP server on 127.0.0.1; yields its inbox and port."""
    inbox = Inbox()
    controller = _Controller(inbox, hostname="127.0.0.1", port=0, server_hostname="localhost")
    await trio.to_thread.run_sync(controller.start)
    try:
        yield inbox, controller.port
    finally:
        await trio.to_thread.run_sync(controller.stop)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class PushKeys:
    """A browser's side of a push subscription (RFC 8291): its key pair and secret."""

    private_key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    auth_secret: bytes = field(default_factory=lambda: os.urandom(16))

    @property
    def p256dh(self) -> str:
        point = self.private_key.public_key().public_bytes(
            Encoding.X962, PublicFormat.UncompressedPoint
        )
        return b64url(point)

    @property
    def auth(self) -> str:
        return b64url(self.auth_secret)

    def decrypt(self, body: bytes) -> bytes:
        return http_ece.decrypt(  # type: ignore[no-any-return]
            body, private_key=self.private_key, auth_secret=self.auth_secret, version="aes128gcm"
        )


@dataclass
class PushRequest:
    path: str
    headers: dict[str, str]
    body: bytes


class PushService:
    """A push service endpoint: records each POST; answers with the next of
    ``statuses`` (201 when empty)."""

    def __init__(self) -> None:
        self.requests: list[PushRequest] = []
        self.statuses: list[int] = []
        self.port = 0

    def url(self, path: str = "/push/abc") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        status = self.statuses.pop(0) if self.statuses else 201
        self.requests.append(PushRequest(scope["path"], headers, body))
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b""})


@asynccontextmanager
async def open_push_service() -> AsyncIterator[PushService]:
    """Run a push service endpoint on 127.0.0.1 (hypercorn, port 0)."""
    service = PushService()
    config = HypercornConfig()
    config.bind = ["127.0.0.1:0"]
    config.accesslog = None
    config.errorlog = None
    async with trio.open_nursery() as nursery:
        binds = await nursery.start(
            lambda task_status: serve(service, config, task_status=task_status)
        )  # type: ignore[arg-type]
        service.port = int(binds[0].rsplit(":", 1)[1])
        try:
            yield service
        finally:
            nursery.cancel_scope.cancel()


async def wait_until(check: Callable[[], Awaitable[Any]], timeout_s: float = 10.0) -> Any:
    """Poll *check* until it returns something truthy; returns that."""
    with trio.fail_after(timeout_s):
        while True:
            result = await check()
            if result:
                return result
            await trio.sleep(0.01)


def service_of(web: Any) -> NotificationService:
    return web.server.app.extensions["notifications"]  # type: ignore[no-any-return]


def deliveries(web: Any, notification_id: int) -> Awaitable[list[dict[str, Any]]]:
    from data import notifications as store

    return web.db.read(store.delivery_status, notification_id)  # type: ignore[no-any-return]
