"""Accounts and tokens over REST (StreamIt-compatible): register, login, guest, refresh, logout,
me; token expiry, forgery and revocation; rate limits; createsuperuser."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher

from admin_app import create_superuser
from data import users as user_store
from protocol.tokens import TYP_ACCESS, issue_token

from .conftest import TEST_SECRET
from .web_helpers import WebHandle, assert_error, auth, run_web


@pytest.fixture
async def web(db_path: Path) -> AsyncIterator[WebHandle]:
    async with run_web(db_path) as handle:
        yield handle


async def test_register_returns_user_and_tokens(web: WebHandle) -> None:
    response = await web.client.post(
        "/api/auth/register/",
        json={"email": " Ann@Example.org ", "password": "long enough", "display_name": " Ann "},
    )
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"user", "access", "refresh", "token_type", "expires_in"}
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    user = body["user"]
    assert set(user) == {"id", "email", "display_name", "role", "is_guest", "created_at"}
    assert user["email"] == "Ann@Example.org"
    assert user["display_name"] == "Ann"
    assert user["role"] == "user"
    assert user["is_guest"] is False
    assert user["created_at"].endswith("Z")
    me = await web.client.get("/api/auth/me/", headers=auth(body))
    assert me.status_code == 200
    assert me.json() == user


async def test_register_errors(web: WebHandle) -> None:
    await web.register(email="taken@example.org")
    duplicate = await web.client.post(
        "/api/auth/register/",
        json={"email": "TAKEN@example.org", "password": "long enough", "display_name": "B"},
    )
    error = assert_error(duplicate, 409, "email_taken")
    assert error["details"] == [{"field": "email", "message": "already registered"}]

    bad = await web.client.post(
        "/api/auth/register/",
        json={"email": "not-an-email", "password": "short", "display_name": ""},
    )
    error = assert_error(bad, 422, "validation_error")
    assert {d["field"] for d in error["details"]} == {"email", "password", "display_name"}

    control_chars = await web.client.post(
        "/api/auth/register/",
        json={"email": "c@example.org", "password": "long enough", "display_name": "a\u0000b"},
    )
    assert_error(control_chars, 422, "validation_error")
    wrong_type = await web.client.post(
        "/api/auth/register/",
        json={"email": "d@example.org", "password": 12345678, "display_name": "D"},
    )
    error = assert_error(wrong_type, 422)
    assert error["details"][0]["field"] == "password"


async def test_login_success_and_same_error_for_unknown_email_and_wrong_password(
    web: WebHandle,
) -> None:
    session = await web.register(email="bob@example.org", password="bob's password")
    ok = await web.client.post(
        "/api/auth/login/", json={"email": "BOB@example.org", "password": "bob's password"}
    )
    assert ok.status_code == 200
    assert ok.json()["user"] == session["user"]
    last_login = await web.db.read(user_store.find_user, session["user"]["id"])
    assert last_login is not None
    assert last_login["last_login_ms"] is not None

    wrong = await web.client.post(
        "/api/auth/login/", json={"email": "bob@example.org", "password": "not it at all"}
    )
    unknown = await web.client.post(
        "/api/auth/login/", json={"email": "nobody@example.org", "password": "bob's password"}
    )
    assert assert_error(wrong, 401, "invalid_credentials") == assert_error(
        unknown, 401, "invalid_credentials"
    )
    missing = await web.client.post("/api/auth/login/", json={"email": "bob@example.org"})
    assert assert_error(missing, 422)["details"] == [
        {"field": "password", "message": "Field required"}
    ]


async def test_login_refused_for_disabled_account(web: WebHandle) -> None:
    session = await web.register(email="off@example.org")
    await web.db.write(user_store.set_user_active, session["user"]["id"], False)
    response = await web.client.post(
        "/api/auth/login/", json={"email": "off@example.org", "password": session["password"]}
    )
    assert_error(response, 401, "invalid_credentials")
    # Its access token stops working at once too.
    assert_error(await web.client.get("/api/auth/me/", headers=auth(session)), 401, "invalid_token")


async def test_guest_sign_in(web: WebHandle) -> None:
    response = await web.client.post("/api/auth/guest/", json={"display_name": "Popcorn"})
    assert response.status_code == 201
    body = response.json()
    assert body["user"]["is_guest"] is True
    assert body["user"]["email"] is None
    assert body["user"]["role"] == "user"
    me = await web.client.get("/api/auth/me/", headers=auth(body))
    assert me.json()["display_name"] == "Popcorn"
    assert_error(await web.client.post("/api/auth/guest/", json={}), 422, "validation_error")
    too_long = await web.client.post("/api/auth/guest/", json={"display_name": "x" * 41})
    assert_error(too_long, 422, "validation_error")


async def test_guest_sign_in_refused_when_guests_are_off(db_path: Path) -> None:
    async with run_web(db_path, allow_guests=False) as web:
        response = await web.client.post("/api/auth/guest/", json={"display_name": "G"})
        assert_error(response, 403, "guests_not_allowed")


async def test_logout_revokes_access_token_and_refresh_tokens(web: WebHandle) -> None:
    session = await web.register()
    other_login = await web.client.post(
        "/api/auth/login/",
        json={"email": session["user"]["email"], "password": session["password"]},
    )
    response = await web.client.post("/api/auth/logout/", headers=auth(session))
    assert response.status_code == 204
    assert response.content == b""
    error = assert_error(await web.client.get("/api/auth/me/", headers=auth(session)), 401)
    assert error["code"] == "invalid_token"
    assert "revoked" in error["message"]
    again = await web.client.post("/api/auth/logout/", headers=auth(session))
    assert_error(again, 401, "invalid_token")
    # Every refresh token of the account is revoked, the other session's too.
    for refresh in (session["refresh"], other_login.json()["refresh"]):
        refused = await web.client.post("/api/auth/refresh/", json={"refresh": refresh})
        assert_error(refused, 401, "invalid_token")
    # The sync server asks the same question.
    from protocol.tokens import identity_from_access, verify_token

    claims = verify_token(TEST_SECRET, session["access"], typ=TYP_ACCESS, now_s=web.clock())
    jti = identity_from_access(claims).jti
    assert jti is not None
    assert await web.db.read(user_store.is_token_revoked, jti)
    # The other session's access token still works until it expires.
    assert (
        await web.client.get("/api/auth/me/", headers=auth(other_login.json()))
    ).status_code == 200


async def test_logout_needs_a_token(web: WebHandle) -> None:
    response = await web.client.post("/api/auth/logout/")
    assert_error(response, 401, "authentication_required")
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_refresh_rotates(web: WebHandle) -> None:
    session = await web.register()
    first = await web.client.post("/api/auth/refresh/", json={"refresh": session["refresh"]})
    assert first.status_code == 200
    tokens = first.json()
    assert set(tokens) == {"access", "refresh", "token_type", "expires_in"}
    assert tokens["refresh"] != session["refresh"]
    me = await web.client.get("/api/auth/me/", headers=auth(tokens["access"]))
    assert me.json()["id"] == session["user"]["id"]
    # The old refresh token is refused now, and presenting it revoked the new one.
    old = await web.client.post("/api/auth/refresh/", json={"refresh": session["refresh"]})
    assert_error(old, 401, "invalid_token")
    new = await web.client.post("/api/auth/refresh/", json={"refresh": tokens["refresh"]})
    assert_error(new, 401, "invalid_token")


async def test_refresh_chain(web: WebHandle) -> None:
    refresh = (await web.register())["refresh"]
    for _ in range(3):
        response = await web.client.post("/api/auth/refresh/", json={"refresh": refresh})
        assert response.status_code == 200
        refresh = response.json()["refresh"]


async def test_refresh_refuses_wrong_tokens(web: WebHandle) -> None:
    session = await web.register()
    as_access = await web.client.post("/api/auth/refresh/", json={"refresh": session["access"]})
    assert "refresh" in assert_error(as_access, 401, "invalid_token")["message"]
    garbage = await web.client.post("/api/auth/refresh/", json={"refresh": "not.a.token"})
    assert_error(garbage, 401, "invalid_token")
    forged = issue_token(
        secrets.token_urlsafe(32),
        {"sub": session["user"]["id"], "jti": "x"},
        typ="refresh",
        now_s=web.clock(),
        ttl_s=600,
    )
    assert_error(
        await web.client.post("/api/auth/refresh/", json={"refresh": forged}), 401, "invalid_token"
    )
    # Signed with the right key but never issued (no refresh_tokens row).
    unrecorded = issue_token(
        TEST_SECRET,
        {"sub": session["user"]["id"], "jti": "never"},
        typ="refresh",
        now_s=web.clock(),
        ttl_s=600,
    )
    assert_error(
        await web.client.post("/api/auth/refresh/", json={"refresh": unrecorded}),
        401,
        "invalid_token",
    )
    web.clock.advance(web.config.refresh_token_ttl_s + 1)
    expired = await web.client.post("/api/auth/refresh/", json={"refresh": session["refresh"]})
    assert "expired" in assert_error(expired, 401, "invalid_token")["message"]


async def test_access_token_expires(db_path: Path) -> None:
    async with run_web(db_path, access_token_ttl_s=60.0) as web:
        session = await web.register()
        assert session["expires_in"] == 60
        web.clock.advance(59)
        assert (await web.client.get("/api/auth/me/", headers=auth(session))).status_code == 200
        web.clock.advance(2)
        error = assert_error(await web.client.get("/api/auth/me/", headers=auth(session)), 401)
        assert error["code"] == "invalid_token"
        assert "expired" in error["message"]
        # The refresh token still gets a new access token.
        refreshed = await web.client.post(
            "/api/auth/refresh/", json={"refresh": session["refresh"]}
        )
        assert (
            await web.client.get("/api/auth/me/", headers=auth(refreshed.json()))
        ).status_code == 200


async def test_forged_and_malformed_tokens_are_refused(web: WebHandle) -> None:
    session = await web.register()
    uid = session["user"]["id"]
    forged = issue_token(
        secrets.token_urlsafe(32),
        {"sub": uid, "name": "Alice", "role": "admin", "guest": False},
        typ=TYP_ACCESS,
        now_s=web.clock(),
        ttl_s=600,
    )
    cases = {
        "forged": auth(forged),
        "garbage": auth("abc.def.ghi"),
        "refresh as access": auth(session["refresh"]),
        "unknown account": auth(web.token("0" * 32)),
        "other scheme": {"Authorization": f"Basic {session['access']}"},
        "bearer without token": {"Authorization": "Bearer"},
    }
    for name, headers in cases.items():
        response = await web.client.get("/api/auth/me/", headers=headers)
        error = assert_error(response, 401, "invalid_token")
        assert "WWW-Authenticate" in response.headers, name
        assert session["access"] not in error["message"], name
    missing = await web.client.get("/api/auth/me/")
    assert_error(missing, 401, "authentication_required")


async def test_role_comes_from_the_account_not_the_token(web: WebHandle) -> None:
    session = await web.register()
    await web.db.write(user_store.set_user_role, session["user"]["id"], "staff")
    me = await web.client.get("/api/auth/me/", headers=auth(session))
    assert me.json()["role"] == "staff"


async def test_auth_endpoints_are_rate_limited_per_endpoint(db_path: Path) -> None:
    async with run_web(db_path, auth_rate_limit_per_min=3) as web:
        body = {"email": "x@example.org", "password": "whatever1"}
        for _ in range(3):
            assert_error(await web.client.post("/api/auth/login/", json=body), 401)
        limited = await web.client.post("/api/auth/login/", json=body)
        error = assert_error(limited, 429, "rate_limited")
        assert int(limited.headers["Retry-After"]) >= 1
        assert "retry after" in error["message"]
        # Invalid bodies count too: the limit comes before validation.
        assert_error(await web.client.post("/api/auth/login/", json={}), 429, "rate_limited")
        # Another endpoint has its own bucket.
        guest = await web.client.post("/api/auth/guest/", json={"display_name": "G"})
        assert guest.status_code == 201
        # me is not limited.
        for _ in range(5):
            assert (
                await web.client.get("/api/auth/me/", headers=auth(guest.json()))
            ).status_code == 200


def test_rate_limiter_refills_over_time() -> None:
    from admin_app.core.ratelimit import RateLimiter

    now = [0.0]
    limiter = RateLimiter(6, lambda: now[0], max_keys=2)
    assert [limiter.hit("a") for _ in range(6)] == [None] * 6
    retry = limiter.hit("a")
    assert retry == pytest.approx(10.0)  # 6 a minute: one every 10 s
    now[0] += 10.0
    assert limiter.hit("a") is None
    assert limiter.hit("a") is not None
    # At most max_keys addresses are remembered; the oldest is forgotten first.
    limiter.hit("b")
    limiter.hit("c")
    assert limiter.statistics() == {"tracked_keys": 2}
    assert limiter.hit("a") is None  # forgotten: a full bucket again
    assert RateLimiter(0, lambda: 0.0).hit("a") is None  # off


async def test_create_superuser_and_rehash_on_login(web: WebHandle) -> None:
    stronger = PasswordHasher(time_cost=2, memory_cost=128, parallelism=1)
    admin = await create_superuser(
        web.db,
        email="root@example.org",
        password="admin password",
        display_name="Admin",
        password_hasher=stronger,
    )
    assert admin["role"] == "admin"
    assert admin["is_guest"] is False
    with pytest.raises(user_store.EmailTakenError):
        await create_superuser(
            web.db,
            email="ROOT@example.org",
            password="admin password",
            display_name="A",
            password_hasher=stronger,
        )
    with pytest.raises(ValueError, match="8"):
        await create_superuser(web.db, email="r2@example.org", password="short", display_name="A")
    with pytest.raises(ValueError, match="email"):
        await create_superuser(web.db, email="nope", password="long enough", display_name="A")
    # The app hashes with other parameters: a sign-in replaces the stored hash.
    before = await web.db.read(user_store.find_login, "root@example.org")
    login = await web.client.post(
        "/api/auth/login/", json={"email": "root@example.org", "password": "admin password"}
    )
    assert login.status_code == 200
    assert login.json()["user"]["role"] == "admin"
    after = await web.db.read(user_store.find_login, "root@example.org")
    assert before is not None
    assert after is not None
    assert before[1] != after[1]
    assert "t=1" in after[1]


async def test_logout_purges_rows_of_expired_tokens(web: WebHandle) -> None:
    old = await web.register("Old")
    await web.client.post("/api/auth/logout/", headers=auth(old))
    web.clock.advance(web.config.refresh_token_ttl_s + 1)
    new = await web.register("New")
    await web.client.post("/api/auth/logout/", headers=auth(new))

    def count(conn: Any) -> tuple[int, int]:
        revoked = conn.execute("SELECT count(*) FROM revoked_tokens").fetchone()[0]
        refresh = conn.execute("SELECT count(*) FROM refresh_tokens").fetchone()[0]
        return revoked, refresh

    # Only the new account's rows are left.
    assert await web.db.read(count) == (1, 1)
