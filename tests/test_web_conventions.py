"""Conventions every endpoint follows: the one error body for every error status,
request ids and JSON access logs, CORS, security headers, the OpenAPI document and
the offline docs page, health, and serving (port 0, graceful stop)."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import aclosing
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio
import trio.testing

from admin_app import serve_web
from admin_app.core.errors import ErrorResponse

from .conftest import TEST_SECRET
from .web_helpers import (
    FAST_HASHER,
    FakeClock,
    FakeRoomControl,
    WebHandle,
    assert_error,
    auth,
    run_web,
    web_config,
)


@pytest.fixture
async def web(db_path: Path) -> AsyncIterator[WebHandle]:
    async with run_web(db_path, auth_rate_limit_per_min=2, max_request_bytes=1024) as handle:
        yield handle


# --- the one error body -------------------------------------------------------------------

Case = Callable[[WebHandle], Awaitable[httpx.Response]]


async def _bad_json(web: WebHandle) -> httpx.Response:
    return await web.client.post(
        "/api/auth/register/", content=b'{"email": ', headers={"Content-Type": "application/json"}
    )


async def _no_token(web: WebHandle) -> httpx.Response:
    return await web.client.get("/api/auth/me/")


async def _forbidden(web: WebHandle) -> httpx.Response:
    owner, other = await web.register("Owner"), await web.register("Other")
    code = (await web.create_room(owner, media={"url": "https://example.org/v.mp4"}))["code"]
    return await web.client.post(
        f"/api/rooms/{code}/control/", json={"action": "play"}, headers=auth(other)
    )


async def _no_route(web: WebHandle) -> httpx.Response:
    return await web.client.get("/api/no/such/thing/")


async def _wrong_method(web: WebHandle) -> httpx.Response:
    return await web.client.put("/api/auth/login/", json={})


async def _conflict(web: WebHandle) -> httpx.Response:
    await web.register(email="dup@example.org")
    return await web.client.post(
        "/api/auth/register/",
        json={"email": "dup@example.org", "password": "long enough", "display_name": "D"},
    )


async def _too_large(web: WebHandle) -> httpx.Response:
    return await web.client.post("/api/auth/guest/", json={"display_name": "x" * 2000})


async def _too_large_chunked(web: WebHandle) -> httpx.Response:
    async def body() -> AsyncIterator[bytes]:
        for _ in range(8):
            yield b" " * 512

    async with aclosing(body()) as stream:
        return await web.client.post(
            "/api/auth/guest/", content=stream, headers={"Content-Type": "application/json"}
        )


async def _not_json(web: WebHandle) -> httpx.Response:
    return await web.client.post("/api/auth/guest/", content=b"display_name=x")


async def _invalid(web: WebHandle) -> httpx.Response:
    return await web.client.post("/api/auth/guest/", json={"display_name": 5})


async def _rate_limited(web: WebHandle) -> httpx.Response:
    for _ in range(2):
        await web.client.post("/api/auth/refresh/", json={"refresh": "x"})
    return await web.client.post("/api/auth/refresh/", json={"refresh": "x"})


async def _crash(web: WebHandle) -> httpx.Response:
    web.rooms.fail_next = RuntimeError("secret internals")
    return await web.client.get("/api/rooms/")


async def _server_full(web: WebHandle) -> httpx.Response:
    session = await web.register()
    web.rooms.max_rooms = 0
    return await web.client.post("/api/rooms/create/", json={"name": "R"}, headers=auth(session))


async def _unhealthy(web: WebHandle) -> httpx.Response:
    web.rooms.fail_next = RuntimeError("down")
    return await web.client.get("/api/health/")


ERROR_CASES: list[tuple[int, str, Case]] = [
    (400, "malformed_json", _bad_json),
    (401, "authentication_required", _no_token),
    (403, "forbidden", _forbidden),
    (404, "not_found", _no_route),
    (405, "method_not_allowed", _wrong_method),
    (409, "email_taken", _conflict),
    (413, "request_too_large", _too_large),
    (413, "request_too_large", _too_large_chunked),
    (415, "unsupported_media_type", _not_json),
    (422, "validation_error", _invalid),
    (429, "rate_limited", _rate_limited),
    (500, "internal_error", _crash),
    (503, "server_full", _server_full),
    (503, "unhealthy", _unhealthy),
]


@pytest.mark.parametrize(
    ("status", "code", "case"),
    ERROR_CASES,
    ids=[f"{s}-{c}-{f.__name__}" for s, c, f in ERROR_CASES],
)
async def test_error_shape(web: WebHandle, status: int, code: str, case: Case) -> None:
    response = await case(web)
    error = assert_error(response, status, code)
    ErrorResponse.model_validate(response.json())
    assert re.fullmatch(r"[a-z][a-z0-9_]*", error["code"])
    assert "Traceback" not in response.text
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Request-ID"]
    if status == 405:
        assert set(response.headers["Allow"].split(", ")) >= {"POST"}
    if status == 429:
        assert response.headers["Retry-After"].isdigit()


async def test_every_documented_error_status_uses_the_error_schema(web: WebHandle) -> None:
    document = (await web.client.get("/api/openapi.json")).json()
    seen = set()
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                if int(status) >= 400:
                    schema = response["content"]["application/json"]["schema"]
                    assert schema["title"] == "ErrorResponse", (path, method, status)
                    assert schema["properties"] == {
                        "error": {"$ref": "#/components/schemas/ErrorInfo"}
                    }
                    seen.add(int(status))
    assert seen >= {400, 401, 403, 404, 409, 413, 415, 422, 429, 503}


async def test_internal_errors_are_logged_with_request_id_but_not_shown(
    web: WebHandle, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    web.rooms.fail_next = RuntimeError("secret internals")
    response = await web.client.get("/api/rooms/", headers={"X-Request-ID": "req-500"})
    error = assert_error(response, 500, "internal_error")
    assert "secret internals" not in response.text
    assert "req-500" in error["message"]
    logged = [r for r in caplog.records if r.name == "admin_app.core.errors"]
    assert len(logged) == 1
    assert logged[0].exc_info is not None
    assert "secret internals" in str(logged[0].exc_info[1])
    assert logged[0].request_id == "req-500"  # type: ignore[attr-defined]


# --- request ids and access logs ----------------------------------------------------------


async def test_request_id_is_echoed_or_generated(web: WebHandle) -> None:
    given = await web.client.get("/api/health/", headers={"X-Request-ID": "abc-123.4:5_6"})
    assert given.headers["X-Request-ID"] == "abc-123.4:5_6"
    generated = await web.client.get("/api/health/")
    assert re.fullmatch(r"[0-9a-f]{32}", generated.headers["X-Request-ID"])
    for bad in ("has spaces", "x" * 129, "semi;colon"):
        replaced = await web.client.get("/api/health/", headers={"X-Request-ID": bad})
        assert re.fullmatch(r"[0-9a-f]{32}", replaced.headers["X-Request-ID"])
    not_found = await web.client.get("/api/nowhere/", headers={"X-Request-ID": "rid-404"})
    assert not_found.headers["X-Request-ID"] == "rid-404"


async def test_access_log_is_json_with_request_id(
    web: WebHandle, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    session = await web.register()
    await web.client.get("/api/auth/me/", headers={**auth(session), "X-Request-ID": "rid-me"})
    lines = [r for r in caplog.records if r.name == "admin_app.access"]
    entries = [json.loads(r.getMessage()) for r in lines]
    entry = next(e for e in entries if e["request_id"] == "rid-me")
    assert entry["event"] == "http_request"
    assert entry["method"] == "GET"
    assert entry["path"] == "/api/auth/me/"
    assert entry["status"] == 200
    assert entry["user_id"] == session["user"]["id"]
    assert entry["client"] == "127.0.0.1"
    assert isinstance(entry["duration_ms"], float)
    record = next(r for r in lines if json.loads(r.getMessage())["request_id"] == "rid-me")
    assert record.request_id == "rid-me"  # type: ignore[attr-defined]
    # Log lines of other modules during the request carry it too.
    register_logs = [r for r in caplog.records if r.name == "data.users"]
    assert register_logs
    assert all(r.request_id for r in register_logs)
    # Outside a request there is none.
    logging.getLogger("test").info("outside")
    assert caplog.records[-1].request_id is None  # type: ignore[attr-defined]


# --- headers: security and CORS -----------------------------------------------------------


async def test_security_headers(web: WebHandle) -> None:
    response = await web.client.get("/api/health/")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["Content-Security-Policy"].startswith("default-src 'none'")
    assert response.headers["Cache-Control"] == "no-store"
    assert "server" not in response.headers


async def test_no_cors_headers_by_default(web: WebHandle) -> None:
    origin = {"Origin": "https://app.example.org"}
    simple = await web.client.get("/api/health/", headers=origin)
    assert "Access-Control-Allow-Origin" not in simple.headers
    preflight = await web.client.options(
        "/api/auth/login/", headers={**origin, "Access-Control-Request-Method": "POST"}
    )
    assert "Access-Control-Allow-Origin" not in preflight.headers


async def test_cors_for_configured_origins(db_path: Path) -> None:
    allowed = "https://app.example.org"
    async with run_web(db_path, cors_origins=f"{allowed}, https://other.example.org") as web:
        simple = await web.client.get("/api/health/", headers={"Origin": allowed})
        assert simple.headers["Access-Control-Allow-Origin"] == allowed
        assert "X-Request-ID" in simple.headers["Access-Control-Expose-Headers"]
        preflight = await web.client.options(
            "/api/rooms/create/",
            headers={
                "Origin": allowed,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization, content-type",
            },
        )
        assert preflight.status_code == 200
        assert preflight.headers["Access-Control-Allow-Origin"] == allowed
        assert "POST" in preflight.headers["Access-Control-Allow-Methods"]
        assert "authorization" in preflight.headers["Access-Control-Allow-Headers"].lower()
        stranger = await web.client.get("/api/health/", headers={"Origin": "https://evil.example"})
        assert "Access-Control-Allow-Origin" not in stranger.headers
        # Error responses carry CORS headers too, so browsers can read them.
        error = await web.client.get("/api/auth/me/", headers={"Origin": allowed})
        assert error.headers["Access-Control-Allow-Origin"] == allowed


async def test_cors_wildcard(db_path: Path) -> None:
    async with run_web(db_path, cors_origins="*") as web:
        response = await web.client.get("/api/health/", headers={"Origin": "https://any.example"})
        assert response.headers["Access-Control-Allow-Origin"] == "*"


# --- OpenAPI and the docs page --------------------------------------------------------------


class _Refs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.refs: list[str] = []
        self.inline_scripts = 0
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("src", "href") and value:
                self.refs.append(value)
        self._in_script = tag == "script" and not dict(attrs).get("src")

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline_scripts += 1


async def test_docs_page_works_offline(web: WebHandle) -> None:
    page = await web.client.get("/api/docs/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    parser = _Refs()
    parser.feed(page.text)
    assert parser.inline_scripts == 0
    assert sorted(parser.refs) == [
        "/api/openapi.json",
        "/favicon.ico",
        "/static/docs/swagger-init.js",
        "/static/swagger/swagger-ui-bundle.js",
        "/static/swagger/swagger-ui.css",
    ]
    assert "//" not in page.text.replace("<!doctype html>", "")
    assert 'data-openapi-url="/api/openapi.json"' in page.text
    for ref in parser.refs:
        asset = await web.client.get(ref)
        assert asset.status_code == 200, ref
    bundle = await web.client.get("/static/swagger/swagger-ui-bundle.js")
    assert "SwaggerUIBundle" in bundle.text
    init = (await web.client.get("/static/docs/swagger-init.js")).text
    assert "validatorUrl: null" in init
    assert (await web.client.get("/static/swagger/LICENSE")).status_code == 200


async def test_openapi_document(web: WebHandle) -> None:
    response = await web.client.get("/api/openapi.json")
    assert response.status_code == 200
    document = response.json()
    assert document["openapi"].startswith("3.")
    assert document["info"]["title"] == "watchparty"
    operations = {
        (method.upper(), path) for path, methods in document["paths"].items() for method in methods
    }
    assert operations == {
        ("POST", "/api/auth/register/"),
        ("POST", "/api/auth/login/"),
        ("POST", "/api/auth/guest/"),
        ("POST", "/api/auth/logout/"),
        ("POST", "/api/auth/refresh/"),
        ("GET", "/api/auth/me/"),
        ("POST", "/api/rooms/create/"),
        ("POST", "/api/rooms/join/"),
        ("POST", "/api/rooms/approve/"),
        ("POST", "/api/rooms/deny/"),
        ("GET", "/api/rooms/"),
        ("GET", "/api/rooms/{room_id}/"),
        ("DELETE", "/api/rooms/{room_id}/leave/"),
        ("POST", "/api/rooms/{room_id}/control/"),
        ("POST", "/api/rooms/{room_id}/change-video/"),
        ("GET", "/api/rooms/{room_id}/messages/"),
        ("GET", "/api/rooms/{room_id}/members/"),
        ("GET", "/api/health/"),
        # videos (tests/test_web_videos*.py)
        ("GET", "/api/videos/"),
        ("POST", "/api/videos/"),
        ("POST", "/api/videos/upload/"),
        ("GET", "/api/videos/{video_id}/"),
        ("PATCH", "/api/videos/{video_id}/"),
        ("PUT", "/api/videos/{video_id}/"),
        ("DELETE", "/api/videos/{video_id}/"),
        ("GET", "/api/videos/{video_id}/stream/"),
        ("GET", "/api/videos/{video_id}/download/"),
        ("GET", "/api/videos/{video_id}/downloads/"),
        ("POST", "/api/videos/{video_id}/like/"),
        ("GET", "/api/videos/{video_id}/comments/"),
        ("POST", "/api/videos/{video_id}/comments/"),
        ("GET", "/api/videos/{video_id}/comments/{comment_id}/"),
        ("PUT", "/api/videos/{video_id}/comments/{comment_id}/"),
        ("PATCH", "/api/videos/{video_id}/comments/{comment_id}/"),
        ("DELETE", "/api/videos/{video_id}/comments/{comment_id}/"),
        ("GET", "/api/videos/comments/"),
        ("POST", "/api/videos/comments/"),
        ("GET", "/api/videos/comments/{comment_id}/"),
        ("PUT", "/api/videos/comments/{comment_id}/"),
        ("PATCH", "/api/videos/comments/{comment_id}/"),
        ("DELETE", "/api/videos/comments/{comment_id}/"),
        ("POST", "/api/videos/comments/{comment_id}/like/"),
        ("PUT", "/api/admin/users/{user_id}/premium/"),
        # social groups (tests/test_web_groups.py)
        ("GET", "/api/social/groups/"),
        ("POST", "/api/social/groups/"),
        ("GET", "/api/social/groups/mine/"),
        ("GET", "/api/social/groups/{group_id}/"),
        ("PUT", "/api/social/groups/{group_id}/"),
        ("PATCH", "/api/social/groups/{group_id}/"),
        ("DELETE", "/api/social/groups/{group_id}/"),
        ("POST", "/api/social/groups/{group_id}/join/"),
        ("POST", "/api/social/groups/{group_id}/leave/"),
        ("POST", "/api/social/groups/{group_id}/transfer-ownership/"),
        ("GET", "/api/social/groups/{group_id}/members/"),
        ("PATCH", "/api/social/groups/{group_id}/members/{user_id}/"),
        ("DELETE", "/api/social/groups/{group_id}/members/{user_id}/"),
        ("POST", "/api/social/groups/{group_id}/members/{user_id}/ban/"),
        ("GET", "/api/social/groups/{group_id}/bans/"),
        ("DELETE", "/api/social/groups/{group_id}/bans/{user_id}/"),
        ("GET", "/api/social/groups/{group_id}/invitations/"),
        ("POST", "/api/social/groups/{group_id}/invitations/"),
        ("POST", "/api/social/groups/{group_id}/invitations/{invitation_id}/respond/"),
        ("GET", "/api/social/invitations/"),
        ("GET", "/api/social/groups/{group_id}/join-requests/"),
        ("POST", "/api/social/groups/{group_id}/join-requests/"),
        ("POST", "/api/social/groups/{group_id}/join-requests/{request_id}/approve/"),
        ("POST", "/api/social/groups/{group_id}/join-requests/{request_id}/deny/"),
        ("GET", "/api/social/groups/{group_id}/posts/"),
        ("POST", "/api/social/groups/{group_id}/posts/"),
        ("GET", "/api/social/groups/{group_id}/posts/{post_id}/"),
        ("PUT", "/api/social/groups/{group_id}/posts/{post_id}/"),
        ("PATCH", "/api/social/groups/{group_id}/posts/{post_id}/"),
        ("DELETE", "/api/social/groups/{group_id}/posts/{post_id}/"),
        ("POST", "/api/social/groups/{group_id}/posts/{post_id}/react/"),
        # interactive (tests/test_web_interactive.py)
        ("GET", "/api/interactive/parties/{party_id}/polls/"),
        ("POST", "/api/interactive/parties/{party_id}/polls/"),
        ("GET", "/api/interactive/polls/{poll_id}/"),
        ("GET", "/api/interactive/polls/{poll_id}/results/"),
        ("POST", "/api/interactive/polls/{poll_id}/respond/"),
        ("POST", "/api/interactive/polls/{poll_id}/close/"),
        ("GET", "/api/interactive/parties/{party_id}/reactions/"),
        ("GET", "/api/interactive/parties/{party_id}/reactions/timeline/"),
        ("GET", "/api/interactive/videos/{video_id}/reactions/timeline/"),
        ("GET", "/api/interactive/parties/{party_id}/queue/"),
        ("POST", "/api/interactive/parties/{party_id}/queue/"),
        ("DELETE", "/api/interactive/parties/{party_id}/queue/{item_id}/"),
        ("POST", "/api/interactive/parties/{party_id}/queue/{item_id}/move/"),
        ("POST", "/api/interactive/parties/{party_id}/queue/skip/"),
        ("POST", "/api/interactive/parties/{party_id}/queue/vote-skip/"),
        ("GET", "/api/interactive/parties/{party_id}/audit/"),
        # notifications (tests/test_notifications*.py)
        ("GET", "/api/notifications/"),
        ("GET", "/api/notifications/unread-count/"),
        ("GET", "/api/notifications/{notification_id}/"),
        ("DELETE", "/api/notifications/{notification_id}/"),
        ("POST", "/api/notifications/{notification_id}/read/"),
        ("POST", "/api/notifications/read-all/"),
        ("GET", "/api/notifications/preferences/"),
        ("PUT", "/api/notifications/preferences/"),
        ("GET", "/api/notifications/push/vapid-public-key/"),
        ("GET", "/api/notifications/push/subscriptions/"),
        ("POST", "/api/notifications/push/subscriptions/"),
        ("DELETE", "/api/notifications/push/subscriptions/{subscription_id}/"),
        ("POST", "/api/notifications/push/unsubscribe/"),
        ("POST", "/api/notifications/bulk/"),
        ("GET", "/api/notifications/stats/"),
        # support (tests/test_web_support*.py)
        ("GET", "/api/support/tickets/"),
        ("POST", "/api/support/tickets/"),
        ("GET", "/api/support/tickets/{ticket_id}/"),
        ("POST", "/api/support/tickets/{ticket_id}/reply/"),
        ("POST", "/api/support/tickets/{ticket_id}/status/"),
        ("POST", "/api/support/tickets/{ticket_id}/priority/"),
        ("POST", "/api/support/tickets/{ticket_id}/assign/"),
        ("POST", "/api/support/tickets/{ticket_id}/attachments/"),
        ("GET", "/api/support/tickets/{ticket_id}/attachments/{attachment_id}/"),
        ("GET", "/api/support/faq/"),
        ("POST", "/api/support/faq/"),
        ("GET", "/api/support/faq/search/"),
        ("GET", "/api/support/faq/{entry_id}/"),
        ("PATCH", "/api/support/faq/{entry_id}/"),
        ("DELETE", "/api/support/faq/{entry_id}/"),
        ("POST", "/api/support/faq/{entry_id}/helpful/"),
        ("GET", "/api/support/faq/categories/"),
        ("POST", "/api/support/faq/categories/"),
        ("PATCH", "/api/support/faq/categories/{category_id}/"),
        ("DELETE", "/api/support/faq/categories/{category_id}/"),
        ("GET", "/api/support/feedback/"),
        ("POST", "/api/support/feedback/"),
        ("GET", "/api/support/feedback/{feedback_id}/"),
        ("PATCH", "/api/support/feedback/{feedback_id}/"),
        ("POST", "/api/support/feedback/{feedback_id}/vote/"),
        # events (tests/test_web_events*.py)
        ("GET", "/api/events/"),
        ("POST", "/api/events/"),
        ("GET", "/api/events/upcoming/"),
        ("GET", "/api/events/my/"),
        ("GET", "/api/events/attending/"),
        ("GET", "/api/events/search/"),
        ("GET", "/api/events/calendar/"),
        ("POST", "/api/events/calendar/reset/"),
        ("GET", "/api/events/calendar/{token}.ics"),
        ("GET", "/api/events/{event_id}/"),
        ("PUT", "/api/events/{event_id}/"),
        ("PATCH", "/api/events/{event_id}/"),
        ("DELETE", "/api/events/{event_id}/"),
        ("POST", "/api/events/{event_id}/cancel/"),
        ("POST", "/api/events/{event_id}/join/"),
        ("POST", "/api/events/{event_id}/leave/"),
        ("POST", "/api/events/{event_id}/rsvp/"),
        ("GET", "/api/events/{event_id}/attendees/"),
        ("POST", "/api/events/{event_id}/attendees/{user_id}/approve/"),
        ("POST", "/api/events/{event_id}/attendees/{user_id}/deny/"),
        ("GET", "/api/events/{event_id}/invitations/"),
        ("POST", "/api/events/{event_id}/invitations/"),
        ("POST", "/api/events/{event_id}/invitations/{invitation_id}/respond/"),
        ("GET", "/api/events/{event_id}/reminders/"),
        ("POST", "/api/events/{event_id}/reminders/"),
        ("DELETE", "/api/events/{event_id}/reminders/{reminder_id}/"),
        ("GET", "/api/events/{event_id}/ics/"),
        ("GET", "/api/events/{event_id}/banner/"),
        ("PUT", "/api/events/{event_id}/banner/"),
        ("DELETE", "/api/events/{event_id}/banner/"),
    }
    assert document["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    assert not re.search(r"https?://\w", response.text), "the document names an external URL"
    me = document["paths"]["/api/auth/me/"]["get"]
    assert me["security"] == [{"bearerAuth": []}]
    assert set(me["responses"]) == {"200", "401"}


# --- health -------------------------------------------------------------------------------


async def test_health(web: WebHandle) -> None:
    owner = await web.register()
    await web.create_room(owner)
    body = (await web.client.get("/api/health/")).json()
    assert body["status"] == "ok"
    assert body["database"] == "ok"
    assert body["sync"]["rooms"] == 1
    assert body["version"]


async def test_health_reports_a_broken_database(web: WebHandle) -> None:
    web.db.close()
    error = assert_error(await web.client.get("/api/health/"), 503, "unhealthy")
    assert error["details"] == [{"field": "database", "message": "the database did not answer"}]


# --- serving ------------------------------------------------------------------------------


async def test_serve_web_stops_gracefully(db_path: Path) -> None:
    config = web_config(db_path)
    clock = FakeClock()
    db = await trio.to_thread.run_sync(__import__("data").open_database, config.db)
    rooms = FakeRoomControl(clock, db)
    try:
        async with trio.open_nursery() as nursery:
            scope = trio.CancelScope()
            stopped = trio.Event()

            async def run(task_status: trio.TaskStatus[Any]) -> None:
                with scope:
                    await serve_web(
                        config,
                        db=db,
                        rooms=rooms,
                        secret=TEST_SECRET,
                        clock=clock,
                        password_hasher=FAST_HASHER,
                        task_status=task_status,
                    )
                stopped.set()

            server = await nursery.start(run)
            assert server.port > 0
            await rooms.create_room(name="R", code="room1", media={"url": "https://x.org/v"})
            token = issue_token_for(clock)
            await db.write(
                lambda conn: conn.execute(
                    "INSERT INTO users (id, display_name, role, is_guest, created_at_ms) "
                    "VALUES ('u1', 'U', 'user', 0, 1)"
                )
            )
            rooms.rooms["room1"].owner_user_id = "u1"
            rooms.act_gate = trio.Event()
            results: list[httpx.Response] = []
            answered = trio.Event()

            async with httpx.AsyncClient(base_url=server.url) as client:

                async def slow_request() -> None:
                    results.append(
                        await client.post(
                            "/api/rooms/room1/control/",
                            json={"action": "play"},
                            headers=auth(token),
                        )
                    )
                    answered.set()

                nursery.start_soon(slow_request)
                await rooms.act_started.wait()
                scope.cancel()  # stop the server while the request is in flight
                await trio.testing.wait_all_tasks_blocked()
                assert not stopped.is_set()
                rooms.act_gate.set()
                await answered.wait()
            # The client closed its keep-alive connection: nothing holds the server now.
            await stopped.wait()
            assert results[0].status_code == 200
            with pytest.raises(httpx.ConnectError):
                async with httpx.AsyncClient() as late:
                    await late.get(f"{server.url}/api/health/")
    finally:
        db.close()


def issue_token_for(clock: FakeClock) -> str:
    from protocol.tokens import TYP_ACCESS, issue_token

    claims = {"sub": "u1", "name": "U", "role": "user", "guest": False}
    return issue_token(TEST_SECRET, claims, typ=TYP_ACCESS, now_s=clock(), ttl_s=600)


async def test_docs_sections_come_in_a_newcomers_order(web: WebHandle) -> None:
    document = (await web.client.get("/api/openapi.json")).json()
    names = [t["name"] for t in document["tags"]]
    assert names[:3] == ["auth", "rooms", "videos"]
    used = {t for ops in document["paths"].values() for op in ops.values() for t in op["tags"]}
    assert used <= set(names), used - set(names)  # Swagger UI shows sections in this order
    premium = document["paths"]["/api/admin/users/{user_id}/premium/"]["put"]
    assert premium["tags"] == ["admin"]


async def test_docs_speak_of_the_product_only(web: WebHandle) -> None:
    text = (await web.client.get("/api/openapi.json")).text
    assert "seeds" not in text
    assert not re.search(r"\btask \d|\bitems? \d", text)


async def test_favicon(web: WebHandle) -> None:
    icon = await web.client.get("/favicon.ico")
    assert icon.status_code == 200
    assert icon.headers["content-type"] in ("image/vnd.microsoft.icon", "image/x-icon")
    assert icon.content[:4] == b"\x00\x00\x01\x00"  # an ICO file
    for page in ("/", "/watch/demo", "/api/docs/"):
        assert '<link rel="icon" href="/favicon.ico">' in (await web.client.get(page)).text
