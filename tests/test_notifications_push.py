"""Web Push notifications delivered to a push service endpoint in the test (hypercorn
on 127.0.0.1), decrypted there with the subscription's keys (RFC 8291, http_ece),
with the VAPID token checked (RFC 8292)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec

from admin_app.notifications.push import b64url_decode

from .notification_helpers import (
    PushKeys,
    deliveries,
    open_push_service,
    service_of,
    wait_until,
)
from .web_helpers import WebHandle, assert_error, auth, run_web

STARTING = {"event_title": "The final"}
PUSH = {"push_allow_loopback": True, "notification_retry_base_s": 0.0}


async def subscribe(web: WebHandle, session: Any, endpoint: str, keys: PushKeys) -> Any:
    response = await web.client.post(
        "/api/notifications/push/subscriptions/",
        json={
            "endpoint": endpoint,
            "expirationTime": None,
            "keys": {"p256dh": keys.p256dh, "auth": keys.auth},
            "user_agent": "Test browser",
        },
        headers=auth(session),
    )
    return response


async def push_status(web: WebHandle, notification_id: int) -> list[dict[str, Any]]:
    return [d for d in await deliveries(web, notification_id) if d["channel"] == "push"]


async def wait_final(web: WebHandle, notification_id: int) -> list[dict[str, Any]]:
    async def final() -> list[dict[str, Any]] | None:
        found = await push_status(web, notification_id)
        return found if all(d["status"] not in ("pending", "sending") for d in found) else None

    return await wait_until(final)  # type: ignore[no-any-return]


async def test_push_is_delivered_encrypted_and_signed(tmp_path: Path) -> None:
    async with (
        open_push_service() as push,
        run_web(tmp_path / "n.db", public_web_url="https://watch.example.org", **PUSH) as web,
    ):
        alice = await web.register("Alice")
        key = await web.client.get("/api/notifications/push/vapid-public-key/")
        assert key.status_code == 200
        public_key = key.json()["public_key"]
        assert len(b64url_decode(public_key)) == 65
        keys = PushKeys()
        created = await subscribe(web, alice, push.url("/push/alice"), keys)
        assert created.status_code == 201, created.text
        assert created.json()["endpoint"] == push.url("/push/alice")
        # The same endpoint again: updated, not doubled.
        assert (await subscribe(web, alice, push.url("/push/alice"), keys)).status_code == 200
        listed = await web.client.get("/api/notifications/push/subscriptions/", headers=auth(alice))
        assert listed.json()["count"] == 1

        (made,) = await service_of(web).notify(
            user_ids=[alice["user"]["id"]],
            kind="event_starting",
            context=STARTING,
            url="/watch/final",
        )
        (delivery,) = await wait_final(web, made["id"])
        assert delivery["status"] == "sent"
        (request,) = push.requests
        assert request.path == "/push/alice"
        assert request.headers["content-encoding"] == "aes128gcm"
        assert int(request.headers["ttl"]) > 0
        payload = json.loads(keys.decrypt(request.body))
        assert payload == {
            "id": made["id"],
            "kind": "event_starting",
            "title": "Starting now: The final",
            "body": "The final is starting. Join the watch room.",
            "url": "https://watch.example.org/watch/final",
        }
        # VAPID (RFC 8292): "vapid t=<ES256 JWT>, k=<the server's public key>".
        scheme, _, params = request.headers["authorization"].partition(" ")
        assert scheme == "vapid"
        fields = dict(p.strip().split("=", 1) for p in params.split(","))
        assert fields["k"] == public_key
        verifying_key = ec.EllipticCurvePublicKey.from_encoded_point(
            ec.SECP256R1(), b64url_decode(public_key)
        )
        claims = jwt.decode(
            fields["t"],
            key=verifying_key,
            algorithms=["ES256"],
            audience=f"http://127.0.0.1:{push.port}",
        )
        assert claims["sub"] == "https://watch.example.org"  # no push_subject: the https site

    # The key pair is kept in the database: the same after a restart.
    async with run_web(tmp_path / "n.db", **PUSH) as web:
        again = await web.client.get("/api/notifications/push/vapid-public-key/")
        assert again.json()["public_key"] == public_key


async def test_push_retries_and_gone_subscriptions(tmp_path: Path) -> None:
    async with open_push_service() as push, run_web(tmp_path / "n.db", **PUSH) as web:
        alice = await web.register("Alice")
        laptop, phone = PushKeys(), PushKeys()
        await subscribe(web, alice, push.url("/push/laptop"), laptop)
        await subscribe(web, alice, push.url("/push/phone"), phone)
        push.statuses = [503, 410]  # one busy, one gone; the busy one's retry works
        (made,) = await service_of(web).notify(
            user_ids=[alice["user"]["id"]], kind="event_starting", context=STARTING
        )
        found = await wait_final(web, made["id"])
        assert sorted((d["status"], d["attempts"]) for d in found) == [("failed", 1), ("sent", 2)]
        failed = next(d for d in found if d["status"] == "failed")
        assert "410" in failed["last_error"] or "503" in failed["last_error"]
        subs = await web.client.get("/api/notifications/push/subscriptions/", headers=auth(alice))
        assert subs.json()["count"] == 1  # the gone one was deleted
        assert len(push.requests) == 3
        kept = subs.json()["results"][0]["endpoint"]
        paths = [r.path for r in push.requests]
        assert paths.count(kept.removeprefix(push.url(""))) == 2  # 503, then sent


async def test_push_preferences_and_unsubscribe(tmp_path: Path) -> None:
    async with open_push_service() as push, run_web(tmp_path / "n.db", **PUSH) as web:
        alice, bob = await web.register("Alice"), await web.register("Bob")
        keys = PushKeys()
        sub = (await subscribe(web, alice, push.url("/push/a"), keys)).json()
        off = await web.client.put(
            "/api/notifications/preferences/",
            json={"preferences": {"event_starting": {"push": False}}},
            headers=auth(alice),
        )
        assert off.status_code == 200
        service = service_of(web)
        (made,) = await service.notify(
            user_ids=[alice["user"]["id"]], kind="event_starting", context=STARTING
        )
        assert await push_status(web, made["id"]) == []
        # Another kind still pushes.
        (other,) = await service.notify(
            user_ids=[alice["user"]["id"]],
            kind="event_cancelled",
            context={"event_title": "X", "starts_at": "Fri"},
        )
        assert [d["status"] for d in await wait_final(web, other["id"])] == ["sent"]

        # Bob cannot remove Alice's subscription.
        path = f"/api/notifications/push/subscriptions/{sub['id']}/"
        assert_error(
            await web.client.delete(path, headers=auth(bob)), 404, "subscription_not_found"
        )
        assert_error(
            await web.client.post(
                "/api/notifications/push/unsubscribe/",
                json={"endpoint": push.url("/push/a")},
                headers=auth(bob),
            ),
            404,
        )
        gone = await web.client.post(
            "/api/notifications/push/unsubscribe/",
            json={"endpoint": push.url("/push/a")},
            headers=auth(alice),
        )
        assert gone.status_code == 204
        assert_error(await web.client.delete(path, headers=auth(alice)), 404)
        (after,) = await service.notify(
            user_ids=[alice["user"]["id"]],
            kind="event_cancelled",
            context={"event_title": "Y", "starts_at": "Sat"},
        )
        assert await push_status(web, after["id"]) == []
        assert len(push.requests) == 1


async def test_bad_subscriptions_are_refused(tmp_path: Path) -> None:
    keys = PushKeys()
    good = {"p256dh": keys.p256dh, "auth": keys.auth}
    async with run_web(tmp_path / "n.db") as web:  # push_allow_loopback off
        alice = await web.register("Alice")
        cases = [
            ({"endpoint": "http://127.0.0.1:9/push", "keys": good}, "endpoint"),
            ({"endpoint": "http://push.example.org/x", "keys": good}, "endpoint"),
            ({"endpoint": "https://localhost/x", "keys": good}, "endpoint"),
            ({"endpoint": "https://10.1.2.3/x", "keys": good}, "endpoint"),
            ({"endpoint": "https://[::1]/x", "keys": good}, "endpoint"),
            ({"endpoint": "https://169.254.169.254/latest", "keys": good}, "endpoint"),
            ({"endpoint": "https://u:p@push.example.org/x", "keys": good}, "endpoint"),
            ({"endpoint": "https://push.example.org:99999/x", "keys": good}, "endpoint"),
            (
                {"endpoint": "https://push.example.org/x", "keys": {**good, "p256dh": "AAAA"}},
                "keys.p256dh",
            ),
            (
                {"endpoint": "https://push.example.org/x", "keys": {**good, "auth": "!!"}},
                "keys.auth",
            ),
        ]
        for body, field in cases:
            response = await web.client.post(
                "/api/notifications/push/subscriptions/", json=body, headers=auth(alice)
            )
            error = assert_error(response, 422, "invalid_subscription")
            assert error["details"][0]["field"] == field, body
        missing = await web.client.post(
            "/api/notifications/push/subscriptions/",
            json={"endpoint": "https://push.example.org/x"},
            headers=auth(alice),
        )
        assert_error(missing, 422, "validation_error")
        ok = await web.client.post(
            "/api/notifications/push/subscriptions/",
            json={"endpoint": "https://push.example.org/x", "keys": good},
            headers=auth(alice),
        )
        assert ok.status_code == 201, ok.text
        assert_error(
            await web.client.post(
                "/api/notifications/push/subscriptions/",
                json={"endpoint": "https://push.example.org/y", "keys": good},
            ),
            401,
        )
