"""The web port at the HTTP/1.1 level, with raw sockets and real clients against a real
server on a loopback port: WebSocket handshakes on paths that are not routes, request
bodies that arrive after the answer was decided, ``Connection: close``, and 401 before
body validation on every authenticated route.

Raw requests are framed and responses parsed by h11 (an HTTP/1.1 implementation), so
that the test decides when each byte goes out.
"""

from __future__ import annotations

import importlib.metadata
import json
import logging
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing
from pathlib import Path
from typing import Any

import h11
import httpx
import pytest
import trio
import trio.testing
from trio_websocket import ConnectionRejected, open_websocket_url

from admin_app.core.asgi import CHECKED_VERSIONS, UNREAD_BODY_WAIT_S
from admin_app.serve import KEEP_ALIVE_TIMEOUT_S

from .web_helpers import ERROR_KEYS, WebHandle, run_web

#: A guard against hangs (a failure, not a timing assertion), seconds.
GUARD_S = 10.0
#: How much later than its headers a late body is sent, seconds: part of the scenario
#: reproduced (a client whose body is a separate, later TCP segment), not a wait for
#: the server, whose answer is checked whenever it comes.
BODY_DELAY_S = 0.05

MAX_REQUEST_BYTES = 1024


@pytest.fixture
def idle_jump_clock() -> trio.testing.MockClock:
    """Virtual time that jumps to the next deadline once every task has been blocked
    for half a second of real time, far longer than loopback I/O or a database read
    takes; so only the long waits under test are skipped."""
    return trio.testing.MockClock(autojump_threshold=0.5)


@pytest.fixture
async def web(db_path: Path) -> AsyncIterator[WebHandle]:
    async with run_web(db_path, max_request_bytes=MAX_REQUEST_BYTES) as handle:
        yield handle


class RawClient:
    """One TCP connection to the web app; requests framed by an h11 client."""

    def __init__(self, stream: trio.SocketStream) -> None:
        self.stream = stream
        self.h11 = h11.Connection(h11.CLIENT)

    async def send_head(
        self, method: str, target: str, headers: list[tuple[str, str]], http_version: str = "1.1"
    ) -> None:
        request = h11.Request(
            method=method,
            target=target,
            headers=[("Host", "x"), *headers],
            http_version=http_version,
        )
        await self.stream.send_all(self.h11.send(request))

    async def send_body(self, body: bytes) -> None:
        data = self.h11.send(h11.Data(data=body)) + self.h11.send(h11.EndOfMessage())
        await self.stream.send_all(data)

    async def read_response(self) -> tuple[h11.Response, bytes]:
        """The next response and its body (raises ``EOFError`` if the server closed)."""
        response: h11.Response | None = None
        body = b""
        while True:
            event = self.h11.next_event()
            if event is h11.NEED_DATA:
                self.h11.receive_data(await self.stream.receive_some())
            elif isinstance(event, h11.Response):
                response = event
            elif isinstance(event, h11.Data):
                body += event.data
            elif isinstance(event, h11.EndOfMessage):
                assert response is not None
                return response, body
            elif isinstance(event, h11.ConnectionClosed):
                raise EOFError("the server closed the connection")

    async def wait_closed(self) -> None:
        """Return once the server has closed the connection; fail on any other bytes."""
        data = await self.stream.receive_some()
        assert data == b"", data

    def next_cycle(self) -> None:
        self.h11.start_next_cycle()


async def _connect(web: WebHandle) -> RawClient:
    return RawClient(await trio.open_tcp_stream("127.0.0.1", web.server.port))


def _header(response: h11.Response, name: str) -> str | None:
    for key, value in response.headers:
        if key.decode().lower() == name:
            return value.decode()
    return None


def _assert_error_body(body: bytes, code: str) -> None:
    error = json.loads(body)["error"]
    assert set(error) == ERROR_KEYS, error
    assert error["code"] == code, error


# --- WebSocket handshakes -------------------------------------------------------------------


async def test_websocket_handshake_on_unknown_path_is_404(
    web: WebHandle, caplog: pytest.LogCaptureFixture
) -> None:
    with trio.fail_after(GUARD_S), pytest.raises(ConnectionRejected) as rejected:
        async with open_websocket_url(f"ws://127.0.0.1:{web.server.port}/no/such/socket"):
            pass
    assert rejected.value.status_code == 404
    assert rejected.value.body is not None
    _assert_error_body(rejected.value.body, "not_found")
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


# --- bodies that come after the answer was decided --------------------------------------------


@pytest.mark.parametrize(
    ("target", "status", "code"),
    [
        ("/api/no/such/thing/", 404, "not_found"),
        ("/api/rooms/create/", 401, "authentication_required"),
    ],
)
async def test_late_body_of_unread_request_keeps_connection_usable(
    web: WebHandle, target: str, status: int, code: str
) -> None:
    body = json.dumps({"room_title": "late"}).encode()
    client = await _connect(web)
    async with client.stream:
        with trio.fail_after(GUARD_S):
            await client.send_head(
                "POST",
                target,
                [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
            )
            # The scenario: the body is a separate TCP segment, sent later than the
            # view needs to decide (no body is needed to say 404 or 401).
            await trio.sleep(BODY_DELAY_S)
            await client.send_body(body)
            response, data = await client.read_response()
            assert response.status_code == status
            _assert_error_body(data, code)
            # Keep-alive: the next request on the same connection is answered.
            assert _header(response, "connection") is None
            client.next_cycle()
            await client.send_head("GET", "/api/health/", [])
            await client.send_body(b"")
            response, data = await client.read_response()
            assert response.status_code == 200, data


async def test_late_bodies_with_a_keep_alive_client(web: WebHandle) -> None:
    """httpx on one pooled connection: each late-body request, then a plain one."""

    async def late_body() -> AsyncGenerator[bytes]:
        await trio.sleep(BODY_DELAY_S)  # the scenario: a body sent after its headers
        yield b'{"room_title": "late"}'

    limits = httpx.Limits(max_connections=1)
    async with httpx.AsyncClient(base_url=web.url, limits=limits) as client:
        for _ in range(5):
            with trio.fail_after(GUARD_S):
                async with aclosing(late_body()) as content:
                    response = await client.post(
                        "/api/no/such/thing/",
                        content=content,
                        headers={"Content-Type": "application/json", "Content-Length": "22"},
                    )
                assert response.status_code == 404, response.text
                assert (await client.get("/api/health/")).status_code == 200


async def test_body_over_the_limit_is_not_waited_for(web: WebHandle) -> None:
    """413 at once, announced with ``Connection: close``, and the connection closed."""
    client = await _connect(web)
    async with client.stream:
        with trio.fail_after(GUARD_S):
            await client.send_head(
                "POST",
                "/api/auth/guest/",
                [
                    ("Content-Type", "application/json"),
                    ("Content-Length", str(MAX_REQUEST_BYTES + 1)),
                ],
            )
            response, data = await client.read_response()
            assert response.status_code == 413
            _assert_error_body(data, "request_too_large")
            assert _header(response, "connection") == "close"
            await client.wait_closed()


async def test_body_that_never_comes_ends_the_connection(
    web: WebHandle, idle_jump_clock: trio.testing.MockClock
) -> None:
    """A declared body that does not come: answered after ``UNREAD_BODY_WAIT_S``
    with ``Connection: close``, and the connection closed."""
    del idle_jump_clock  # virtual time: the wait is skipped
    client = await _connect(web)
    async with client.stream:
        with trio.fail_after(UNREAD_BODY_WAIT_S + GUARD_S):
            await client.send_head("POST", "/api/no/such/thing/", [("Content-Length", "10")])
            response, data = await client.read_response()
            assert response.status_code == 404
            _assert_error_body(data, "not_found")
            assert _header(response, "connection") == "close"
            await client.wait_closed()


# --- Connection: close ------------------------------------------------------------------------


@pytest.mark.parametrize("target", ["/api/health/", "/api/no/such/thing/"])
async def test_connection_close_closes_the_tcp_connection(web: WebHandle, target: str) -> None:
    client = await _connect(web)
    async with client.stream:
        with trio.fail_after(GUARD_S):
            await client.send_head("GET", target, [("Connection", "close")])
            await client.send_body(b"")
            response, _ = await client.read_response()
            assert _header(response, "connection") == "close"
            await client.wait_closed()


async def test_http_1_0_request_closes_the_tcp_connection(web: WebHandle) -> None:
    """HTTP/1.0 without keep-alive: one response, then the server closes."""
    stream = await trio.open_tcp_stream("127.0.0.1", web.server.port)
    async with stream:
        with trio.fail_after(GUARD_S):
            await stream.send_all(b"GET /api/health/ HTTP/1.0\r\nHost: x\r\n\r\n")
            received = b""
            while chunk := await stream.receive_some():
                received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head
    assert json.loads(body)["status"] == "ok"


async def test_idle_keep_alive_connection_is_closed(
    web: WebHandle, idle_jump_clock: trio.testing.MockClock
) -> None:
    """After its last response, a connection is kept for ``KEEP_ALIVE_TIMEOUT_S``."""
    del idle_jump_clock  # virtual time: the idle time is skipped
    client = await _connect(web)
    async with client.stream:
        with trio.fail_after(KEEP_ALIVE_TIMEOUT_S + GUARD_S):
            await client.send_head("GET", "/api/health/", [])
            await client.send_body(b"")
            response, _ = await client.read_response()
            assert response.status_code == 200
            assert _header(response, "connection") is None
            started = trio.current_time()
            await client.wait_closed()
            assert trio.current_time() - started >= KEEP_ALIVE_TIMEOUT_S


# --- 401 before validation --------------------------------------------------------------------


def _authenticated_routes(web: WebHandle) -> list[tuple[str, str]]:
    """``(method, path)`` of every route whose documented security requires a token."""
    from quart_schema.openapi import QUART_SCHEMA_SECURITY_ATTRIBUTE

    app = web.server.app
    adapter = app.url_map.bind("localhost")
    routes = []
    for rule in app.url_map.iter_rules():
        schemes = getattr(app.view_functions[rule.endpoint], QUART_SCHEMA_SECURITY_ATTRIBUTE, None)
        if not schemes or not all(schemes):
            continue
        values: dict[str, Any] = {
            name: 1 if type(converter).__name__ == "IntegerConverter" else "abc"
            for name, converter in rule._converters.items()
        }
        path = adapter.build(rule.endpoint, values)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            routes.append((method, path))
    return routes


async def test_missing_or_bad_credentials_answer_401_before_validation(web: WebHandle) -> None:
    routes = _authenticated_routes(web)
    assert len(routes) >= 20, routes
    bodies: list[dict[str, Any]] = [
        {"content": b'{"bad": ', "headers": {"Content-Type": "application/json"}},
        {"content": b"not json at all", "headers": {"Content-Type": "text/plain"}},
        {"json": {"unexpected": [1, 2, 3]}},
    ]
    for method, path in routes:
        for body in bodies:
            response = await web.client.request(method, path, params={"page": "x"}, **body)
            assert response.status_code == 401, (method, path, body, response.text)
            assert response.json()["error"]["code"] == "authentication_required"
            headers = {**body.get("headers", {}), "Authorization": "Bearer not-a-token"}
            response = await web.client.request(
                method, path, params={"page": "x"}, **{**body, "headers": headers}
            )
            assert response.status_code == 401, (method, path, body, response.text)
            assert response.json()["error"]["code"] == "invalid_token"


async def test_cors_preflight_of_an_authenticated_route_needs_no_token(db_path: Path) -> None:
    async with run_web(db_path, cors_origins="https://app.example") as web:
        response = await web.client.options(
            "/api/rooms/create/",
            headers={
                "Origin": "https://app.example",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "Authorization, Content-Type",
            },
        )
        assert response.status_code == 200, response.text


def test_workarounds_were_checked_against_the_installed_versions() -> None:
    """admin_app.core.asgi works around hypercorn/quart-trio behaviour of these versions:
    after an upgrade, run this file without the workaround, then update
    ``CHECKED_VERSIONS`` (or drop the workaround if upstream fixed it)."""
    installed = {name: importlib.metadata.version(name) for name in CHECKED_VERSIONS}
    assert installed == CHECKED_VERSIONS
