"""Rooms over REST (SyncPlay Backend and StreamIt paths): create, join flows, approve and deny,
list, detail, leave, playback control, media change, members and chat history."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from data import chat as chat_store
from data import room_access as access_store
from data import users as user_store

from .web_helpers import WebHandle, assert_error, auth, run_web

MEDIA = {"url": "https://example.org/film.mp4", "title": "Film", "duration_s": 5400.0}


@pytest.fixture
async def web(db_path: Path) -> AsyncIterator[WebHandle]:
    async with run_web(db_path, public_sync_url="wss://sync.example.org/ws") as handle:
        yield handle


async def staff(web: WebHandle, role: str = "staff") -> dict[str, Any]:
    session = await web.register("Staff")
    await web.db.write(user_store.set_user_role, session["user"]["id"], role)
    return session


# --- create -----------------------------------------------------------------------------


async def test_create_room_defaults(web: WebHandle) -> None:
    owner = await web.register("Owner")
    room = await web.create_room(owner, name="Movie night")
    assert room["name"] == "Movie night"
    assert room["visibility"] == "public"
    assert room["entry_mode"] == "open"
    assert room["owner_user_id"] == owner["user"]["id"]
    assert room["sync_url"] == "wss://sync.example.org/ws"
    assert room["url"] == f"{web.url}/api/rooms/{room['code']}/"
    assert room["participants"] == []
    assert room["participant_count"] == 0
    assert room["playback"]["media"] is None
    assert room["settings"]["control"] == "cohosts"
    live = web.rooms.rooms[room["code"]]
    assert live.owner_user_id == owner["user"]["id"]
    rules = await web.db.read(access_store.get_room_access, room["code"])
    assert rules is not None
    assert rules["visibility"] == "public"
    member = await web.db.read(access_store.get_membership, room["code"], owner["user"]["id"])
    assert member is not None
    assert member["status"] == "approved"


async def test_create_room_with_seed_003_field_names_and_settings(web: WebHandle) -> None:
    owner = await web.register()
    room = await web.create_room(
        owner,
        name=None,
        room_name="Friday",
        video_url="https://example.org/v.mp4",
        video_title="V",
        settings={"control": "everyone", "chat_enabled": False},
    )
    assert room["name"] == "Friday"
    assert room["media"] == {"url": "https://example.org/v.mp4", "title": "V", "duration_s": None}
    assert room["settings"]["control"] == "everyone"
    assert room["settings"]["chat_enabled"] is False
    with_media = await web.create_room(owner, media=MEDIA)
    assert with_media["playback"]["media"] == MEDIA


async def test_create_room_password_is_hashed(web: WebHandle) -> None:
    owner = await web.register()
    room = await web.create_room(
        owner, entry_mode="password", password="s3cret", visibility="private"
    )
    rules = await web.db.read(access_store.get_room_access, room["code"])
    assert rules is not None
    assert rules["password_hash"] is not None
    assert rules["password_hash"].startswith("$argon2id$")
    assert "s3cret" not in rules["password_hash"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "body"),
        ({"name": ""}, "name"),
        ({"name": "x" * 101}, "name"),
        ({"name": "R", "entry_mode": "password"}, "body"),
        ({"name": "R", "entry_mode": "password", "password": "abc"}, "password"),
        ({"name": "R", "password": "abcd"}, "body"),
        ({"name": "R", "visibility": "hidden"}, "visibility"),
        ({"name": "R", "entry_mode": "knock"}, "entry_mode"),
        ({"name": "R", "media": {"url": "javascript:alert(1)"}}, "media.url"),
        ({"name": "R", "media": {"url": "https://x.org/v", "duration_s": -1}}, "media.duration_s"),
        ({"name": "R", "video_title": "no url"}, "body"),
        ({"name": "R", "settings": {"control": "nobody"}}, "settings.control"),
        ({"name": "R", "settings": {"chat_enabled": "yes"}}, "settings.chat_enabled"),
        ({"name": "A", "room_name": "B"}, "body"),
    ],
)
async def test_create_room_validation(web: WebHandle, body: dict[str, Any], field: str) -> None:
    owner = await web.register()
    response = await web.client.post("/api/rooms/create/", json=body, headers=auth(owner))
    error = assert_error(response, 422, "validation_error")
    assert field in {d["field"] for d in error["details"]}, error
    assert web.rooms.rooms == {}


async def test_create_room_needs_an_account(web: WebHandle) -> None:
    response = await web.client.post("/api/rooms/create/", json={"name": "R"})
    assert_error(response, 401, "authentication_required")


async def test_create_room_when_server_is_full(web: WebHandle) -> None:
    owner = await web.register()
    web.rooms.max_rooms = 0
    response = await web.client.post("/api/rooms/create/", json={"name": "R"}, headers=auth(owner))
    assert_error(response, 503, "server_full")


async def test_guests_may_not_create_rooms_when_guest_rooms_is_off(db_path: Path) -> None:
    async with run_web(db_path, guest_rooms=False) as web:
        guest = await web.guest()
        response = await web.client.post(
            "/api/rooms/create/", json={"name": "R"}, headers=auth(guest)
        )
        assert_error(response, 403, "guests_cannot_create")


async def test_failed_rules_write_removes_the_live_room(web: WebHandle) -> None:
    owner = await web.register()
    # The fake does not store this room, so its rules cannot refer to it: the write fails.
    web.rooms.store = None
    response = await web.client.post("/api/rooms/create/", json={"name": "R"}, headers=auth(owner))
    assert_error(response, 500, "internal_error")
    assert web.rooms.rooms == {}
    assert [op for op, _ in web.rooms.calls] == ["create_room", "delete_room"]


# --- join, approve, deny ----------------------------------------------------------------


async def join(web: WebHandle, session: dict[str, Any], **body: Any) -> Any:
    return await web.client.post("/api/rooms/join/", json=body, headers=auth(session))


async def test_join_open_room(web: WebHandle) -> None:
    owner, viewer = await web.register("Owner"), await web.register("Viewer")
    room = await web.create_room(owner)
    for key in ("room_code", "room_id", "code"):
        response = await join(web, viewer, **{key: room["code"]})
        assert response.status_code == 200
        body = response.json()
        assert body["status"] == "joined"
        assert body["room"]["code"] == room["code"]
        assert body["room"]["sync_url"] == "wss://sync.example.org/ws"
    member = await web.db.read(access_store.get_membership, room["code"], viewer["user"]["id"])
    assert member is not None
    assert member["status"] == "approved"


async def test_join_errors(web: WebHandle) -> None:
    viewer = await web.register()
    assert_error(await join(web, viewer, room_code="nope-nope"), 404, "room_not_found")
    assert_error(await join(web, viewer), 422, "validation_error")
    assert_error(await join(web, viewer, room_code="bad code!"), 422, "validation_error")
    assert_error(await join(web, viewer, room_code="abc", room_id="abd"), 422, "validation_error")
    unauthenticated = await web.client.post("/api/rooms/join/", json={"room_code": "abc"})
    assert_error(unauthenticated, 401, "authentication_required")


async def test_join_password_room(web: WebHandle) -> None:
    owner, viewer = await web.register("Owner"), await web.register("Viewer")
    room = await web.create_room(owner, entry_mode="password", password="letmein")
    code = room["code"]
    missing = assert_error(await join(web, viewer, room_code=code), 403, "password_required")
    assert missing["details"][0]["field"] == "password"
    assert_error(await join(web, viewer, room_code=code, password="wrong!"), 403, "wrong_password")
    ok = await join(web, viewer, room_code=code, password="letmein")
    assert ok.status_code == 200
    assert ok.json()["status"] == "joined"
    # Approved now: no password needed again. The owner never needs one.
    assert (await join(web, viewer, room_code=code)).status_code == 200
    assert (await join(web, owner, room_code=code)).status_code == 200
    assert await web.db.read(access_store.may_enter, code, viewer["user"]["id"])


async def test_join_approval_room_approve(web: WebHandle) -> None:
    owner, viewer = await web.register("Owner"), await web.register("Viewer")
    room = await web.create_room(owner, entry_mode="approval", visibility="private")
    code = room["code"]
    pending = await join(web, viewer, room_id=code)
    assert pending.status_code == 202
    assert pending.json()["status"] == "pending"
    assert pending.json()["room_code"] == code
    assert_error(await join(web, viewer, room_id=code), 409, "join_pending")
    assert not await web.db.read(access_store.may_enter, code, viewer["user"]["id"])

    members = await web.client.get(f"/api/rooms/{code}/members/", headers=auth(owner))
    assert members.status_code == 200
    listed = members.json()["results"]
    assert [(m["user_id"], m["display_name"], m["status"]) for m in listed] == [
        (viewer["user"]["id"], "Viewer", "pending")
    ]

    approved = await web.client.post(
        "/api/rooms/approve/",
        json={"room_id": code, "user_id": viewer["user"]["id"]},
        headers=auth(owner),
    )
    assert approved.status_code == 200
    assert approved.json()["status"] == "approved"
    assert approved.json()["decided_at"] is not None
    assert await web.db.read(access_store.may_enter, code, viewer["user"]["id"])
    joined = await join(web, viewer, room_id=code)
    assert joined.status_code == 200
    assert joined.json()["status"] == "joined"
    again = await web.client.post(
        "/api/rooms/approve/",
        json={"room_code": code, "user_id": viewer["user"]["id"]},
        headers=auth(owner),
    )
    assert_error(again, 404, "no_pending_request")


async def test_requests_to_join_are_pushed_to_the_moderators(web: WebHandle) -> None:
    owner, viewer = await web.register("Owner"), await web.register("Viewer")
    code = (await web.create_room(owner, entry_mode="approval"))["code"]
    uid = viewer["user"]["id"]

    def notices() -> list[Any]:
        return [arg for op, arg in web.rooms.calls if op == "notify_join_request"]

    assert (await join(web, viewer, room_code=code)).status_code == 202
    assert notices() == [(code, uid, "Viewer", "pending")]
    # Asking again while pending is refused (409) and tells nobody twice.
    assert_error(await join(web, viewer, room_code=code), 409, "join_pending")
    assert len(notices()) == 1
    # Taking the request back is told too.
    left = await web.client.delete(f"/api/rooms/{code}/leave/", headers=auth(viewer))
    assert left.status_code == 204
    assert notices()[-1] == (code, uid, "Viewer", "withdrawn")
    # Leaving an open room (no request) tells nobody.
    open_code = (await web.create_room(owner))["code"]
    assert (await join(web, viewer, room_code=open_code)).status_code == 200
    await web.client.delete(f"/api/rooms/{open_code}/leave/", headers=auth(viewer))
    assert len(notices()) == 2


async def test_join_approval_room_deny(web: WebHandle) -> None:
    owner, viewer = await web.register("Owner"), await web.register("Viewer")
    code = (await web.create_room(owner, entry_mode="approval"))["code"]
    await join(web, viewer, room_code=code)
    denied = await web.client.post(
        "/api/rooms/deny/",
        json={"room_code": code, "user_id": viewer["user"]["id"]},
        headers=auth(owner),
    )
    assert denied.status_code == 200
    assert denied.json()["status"] == "denied"
    assert_error(await join(web, viewer, room_code=code), 403, "join_denied")


async def test_approve_and_deny_permissions(web: WebHandle) -> None:
    owner, viewer, stranger = [await web.register(n) for n in ("Owner", "Viewer", "Stranger")]
    code = (await web.create_room(owner, entry_mode="approval"))["code"]
    await join(web, viewer, room_code=code)
    body = {"room_code": code, "user_id": viewer["user"]["id"]}
    for path in ("/api/rooms/approve/", "/api/rooms/deny/"):
        refused = await web.client.post(path, json=body, headers=auth(stranger))
        assert_error(refused, 403, "forbidden")
    members = await web.client.get(f"/api/rooms/{code}/members/", headers=auth(stranger))
    assert_error(members, 403, "forbidden")
    # The current host (a participant with the host role) may decide.
    web.rooms.add_participant(code, "Stranger", user_id=stranger["user"]["id"], role="host")
    ok = await web.client.post("/api/rooms/approve/", json=body, headers=auth(stranger))
    assert ok.status_code == 200
    # So may staff.
    other = await web.register("Other")
    await join(web, other, room_code=code)
    admin = await staff(web, "admin")
    ok = await web.client.post(
        "/api/rooms/deny/",
        json={"room_code": code, "user_id": other["user"]["id"]},
        headers=auth(admin),
    )
    assert ok.status_code == 200
    unknown = await web.client.post(
        "/api/rooms/approve/", json={"room_code": "unknown", "user_id": "x"}, headers=auth(owner)
    )
    assert_error(unknown, 404, "room_not_found")
    no_user = await web.client.post(
        "/api/rooms/deny/", json={"room_code": code}, headers=auth(owner)
    )
    assert_error(no_user, 422, "validation_error")


async def test_guests_are_refused_where_the_room_does_not_admit_them(web: WebHandle) -> None:
    owner = await web.register()
    code = (await web.create_room(owner, settings={"allow_guests": False}))["code"]
    guest = await web.guest()
    assert_error(await join(web, guest, room_code=code), 403, "guests_not_allowed")


# --- list, detail -------------------------------------------------------------------------


async def test_list_public_rooms_paginated(web: WebHandle) -> None:
    owner = await web.register()
    codes = []
    for i in range(5):
        codes.append((await web.create_room(owner, name=f"R{i}"))["code"])
        web.clock.advance(1)
    await web.create_room(owner, name="Secret", visibility="private")
    first = await web.client.get("/api/rooms/", params={"page_size": 2})
    assert first.status_code == 200
    page = first.json()
    assert set(page) == {"count", "next", "previous", "results"}
    assert page["count"] == 5
    assert page["previous"] is None
    assert page["next"] == f"{web.url}/api/rooms/?page_size=2&page=2"
    assert [r["code"] for r in page["results"]] == codes[::-1][:2]
    assert set(page["results"][0]) >= {"code", "name", "url", "visibility", "participant_count"}
    second = (await web.client.get(page["next"])).json()
    assert second["previous"] == f"{web.url}/api/rooms/?page_size=2&page=1"
    last = (await web.client.get(second["next"])).json()
    assert last["next"] is None
    assert [r["code"] for r in last["results"]] == [codes[0]]
    beyond = await web.client.get("/api/rooms/", params={"page": 4, "page_size": 2})
    assert_error(beyond, 404, "invalid_page")
    for params in ({"page_size": 101}, {"page": 0}, {"page": "x"}):
        error = assert_error(await web.client.get("/api/rooms/", params=params), 422)
        assert error["details"][0]["field"].startswith("query.")


async def test_list_empty(web: WebHandle) -> None:
    response = await web.client.get("/api/rooms/")
    assert response.json() == {"count": 0, "next": None, "previous": None, "results": []}


async def test_detail_public_and_private(web: WebHandle) -> None:
    owner, viewer = await web.register("Owner"), await web.register("Viewer")
    public = await web.create_room(owner, media=MEDIA)
    web.rooms.add_participant(public["code"], "Owner", user_id=owner["user"]["id"], role="host")
    detail = await web.client.get(f"/api/rooms/{public['code']}/")
    assert detail.status_code == 200
    body = detail.json()
    assert body["participant_count"] == 1
    assert body["participants"][0]["role"] == "host"
    assert body["host_id"] == body["participants"][0]["id"]
    assert body["playback"]["media"] == MEDIA

    private = await web.create_room(owner, visibility="private")
    path = f"/api/rooms/{private['code']}/"
    assert_error(await web.client.get(path), 401, "authentication_required")
    assert_error(await web.client.get(path, headers=auth(viewer)), 403, "private_room")
    assert (await web.client.get(path, headers=auth(owner))).status_code == 200
    assert (await web.client.get(path, headers=auth(await staff(web)))).status_code == 200
    # Open entry: joining by code makes a member, who may see it.
    await join(web, viewer, room_code=private["code"])
    assert (await web.client.get(path, headers=auth(viewer))).status_code == 200
    assert_error(await web.client.get("/api/rooms/unknown/"), 404, "room_not_found")


# --- leave --------------------------------------------------------------------------------


async def test_leave_removes_participants_and_membership(web: WebHandle) -> None:
    owner, viewer = await web.register("Owner"), await web.register("Viewer")
    code = (await web.create_room(owner, entry_mode="password", password="pass"))["code"]
    await join(web, viewer, room_code=code, password="pass")
    web.rooms.add_participant(code, "Viewer", user_id=viewer["user"]["id"])
    web.rooms.add_participant(code, "Viewer (tab 2)", user_id=viewer["user"]["id"])
    response = await web.client.delete(f"/api/rooms/{code}/leave/", headers=auth(viewer))
    assert response.status_code == 204
    assert web.rooms.rooms[code].participants == []
    assert await web.db.read(access_store.get_membership, code, viewer["user"]["id"]) is None
    # Leaving again is fine; entering again needs the password again.
    assert (
        await web.client.delete(f"/api/rooms/{code}/leave/", headers=auth(viewer))
    ).status_code == 204
    assert_error(await join(web, viewer, room_code=code), 403, "password_required")
    assert_error(await web.client.delete(f"/api/rooms/{code}/leave/"), 401)
    assert_error(
        await web.client.delete("/api/rooms/unknown/leave/", headers=auth(viewer)),
        404,
        "room_not_found",
    )


# --- control, change video ----------------------------------------------------------------


async def control(web: WebHandle, session: Any, code: str, **body: Any) -> Any:
    return await web.client.post(f"/api/rooms/{code}/control/", json=body, headers=auth(session))


async def test_owner_controls_playback(web: WebHandle) -> None:
    owner = await web.register()
    code = (await web.create_room(owner, media=MEDIA))["code"]
    played = await control(web, owner, code, action="play", position=12.5)
    assert played.status_code == 200
    body = played.json()
    assert body["seq"] == 1
    assert body["playback"]["paused"] is False
    assert body["playback"]["position_s"] == 12.5
    assert (await control(web, owner, code, action="pause")).json()["playback"]["paused"] is True
    sought = await control(web, owner, code, action="seek", time=60)
    assert sought.json()["playback"]["position_s"] == 60.0
    assert (await control(web, owner, code, action="seek", position_s=61.0)).status_code == 200
    rate = await control(web, owner, code, action="set_rate", rate=1.5)
    assert rate.json()["playback"]["rate"] == 1.5
    assert rate.json()["seq"] == 5
    assert next(a for op, a in web.rooms.calls if op == "act") == {
        "type": "play",
        "position_s": 12.5,
    }


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"action": "rewind"}, "action"),
        ({"action": "seek"}, "body"),
        ({"action": "set_rate"}, "body"),
        ({"action": "set_rate", "rate": 10}, "rate"),
        ({"action": "seek", "position": -1}, "position"),
        ({"action": "seek", "position": "12"}, "position"),
        ({"action": "seek", "position": 1, "time": 2}, "body"),
        ({}, "action"),
    ],
)
async def test_control_validation(web: WebHandle, body: dict[str, Any], field: str) -> None:
    owner = await web.register()
    code = (await web.create_room(owner, media=MEDIA))["code"]
    error = assert_error(await control(web, owner, code, **body), 422, "validation_error")
    assert field in {d["field"] for d in error["details"]}, error


async def test_control_permissions_follow_the_room_setting(web: WebHandle) -> None:
    owner, viewer = await web.register("Owner"), await web.register("Viewer")
    code = (await web.create_room(owner, media=MEDIA))["code"]
    await join(web, viewer, room_code=code)
    assert_error(await control(web, viewer, code, action="play"), 403, "forbidden")
    # A co-host may control under control=cohosts.
    web.rooms.add_participant(code, "Viewer", user_id=viewer["user"]["id"], role="cohost")
    assert (await control(web, viewer, code, action="play")).status_code == 200
    everyone = (await web.create_room(owner, media=MEDIA, settings={"control": "everyone"}))["code"]
    await join(web, viewer, room_code=everyone)
    assert (await control(web, viewer, everyone, action="pause")).status_code == 200
    host_only = (await web.create_room(owner, media=MEDIA, settings={"control": "host"}))["code"]
    web.rooms.add_participant(host_only, "Viewer", user_id=viewer["user"]["id"], role="cohost")
    assert_error(await control(web, viewer, host_only, action="pause"), 403, "forbidden")


async def test_control_needs_entry_to_the_room(web: WebHandle) -> None:
    owner, stranger = await web.register("Owner"), await web.register("Stranger")
    code = (
        await web.create_room(
            owner, media=MEDIA, entry_mode="approval", settings={"control": "everyone"}
        )
    )["code"]
    assert_error(await control(web, stranger, code, action="play"), 403, "forbidden")
    assert web.rooms.rooms[code].paused is True


async def test_control_errors(web: WebHandle) -> None:
    owner = await web.register()
    code = (await web.create_room(owner))["code"]
    assert_error(await control(web, owner, code, action="play"), 409, "no_media")
    assert_error(await control(web, owner, "unknown", action="play"), 404, "room_not_found")
    assert_error(await web.client.post(f"/api/rooms/{code}/control/", json={"action": "play"}), 401)


async def test_change_video(web: WebHandle) -> None:
    owner, viewer = await web.register("Owner"), await web.register("Viewer")
    code = (await web.create_room(owner))["code"]
    path = f"/api/rooms/{code}/change-video/"
    changed = await web.client.post(
        path,
        json={"video_url": "https://example.org/b.mp4", "video_title": "B"},
        headers=auth(owner),
    )
    assert changed.status_code == 200
    assert changed.json()["playback"]["media"] == {
        "url": "https://example.org/b.mp4",
        "title": "B",
        "duration_s": None,
    }
    again = await web.client.post(
        path, json={"url": "/media/c.webm", "title": "C", "duration_s": 10}, headers=auth(owner)
    )
    assert again.json()["playback"]["media"]["url"] == "/media/c.webm"
    assert (await control(web, owner, code, action="play")).status_code == 200
    await join(web, viewer, room_code=code)
    refused = await web.client.post(
        path, json={"url": "https://example.org/d.mp4"}, headers=auth(viewer)
    )
    assert_error(refused, 403, "forbidden")
    for body in (
        {},
        {"url": "ftp://x"},
        {"url": "https://a.org/x", "video_url": "https://b.org/y"},
    ):
        assert_error(await web.client.post(path, json=body, headers=auth(owner)), 422)


# --- messages -----------------------------------------------------------------------------


async def add_messages(web: WebHandle, code: str, count: int) -> None:
    def write(conn: Any) -> None:
        for i in range(count):
            chat_store.insert_message(
                conn,
                room_code=code,
                participant_id="p1",
                user_id=None,
                display_name="Ann",
                text=f"message {i}",
                created_at_ms=1_000 + i,
            )

    await web.db.write(write)


async def test_messages_paginated_newest_first(web: WebHandle) -> None:
    owner = await web.register()
    code = (await web.create_room(owner))["code"]
    await add_messages(web, code, 7)
    first = (await web.client.get(f"/api/rooms/{code}/messages/", params={"page_size": 3})).json()
    assert first["count"] == 7
    assert [m["text"] for m in first["results"]] == ["message 6", "message 5", "message 4"]
    message = first["results"][0]
    assert set(message) == {
        "id",
        "participant_id",
        "user_id",
        "display_name",
        "text",
        "created_at",
        "edited_at",
    }
    third = (
        await web.client.get(f"/api/rooms/{code}/messages/", params={"page_size": 3, "page": 3})
    ).json()
    assert [m["text"] for m in third["results"]] == ["message 0"]
    assert third["next"] is None
    assert third["previous"].endswith("page=2")
    beyond = await web.client.get(
        f"/api/rooms/{code}/messages/", params={"page": 4, "page_size": 3}
    )
    assert_error(beyond, 404, "invalid_page")
    empty_code = (await web.create_room(owner))["code"]
    empty = (await web.client.get(f"/api/rooms/{empty_code}/messages/")).json()
    assert empty == {"count": 0, "next": None, "previous": None, "results": []}


async def test_messages_deep_page_walks_past_the_list_limit(web: WebHandle) -> None:
    owner = await web.register()
    code = (await web.create_room(owner))["code"]
    await add_messages(web, code, chat_store.MAX_LIST_LIMIT + 30)
    page = (
        await web.client.get(f"/api/rooms/{code}/messages/", params={"page_size": 100, "page": 6})
    ).json()
    assert [m["text"] for m in page["results"]] == [f"message {i}" for i in range(29, -1, -1)]


async def test_messages_of_private_rooms_are_for_members(web: WebHandle) -> None:
    owner, viewer = await web.register("Owner"), await web.register("Viewer")
    code = (await web.create_room(owner, visibility="private", entry_mode="approval"))["code"]
    await add_messages(web, code, 1)
    path = f"/api/rooms/{code}/messages/"
    assert_error(await web.client.get(path), 401)
    assert_error(await web.client.get(path, headers=auth(viewer)), 403, "private_room")
    assert (await web.client.get(path, headers=auth(owner))).json()["count"] == 1
    assert_error(await web.client.get("/api/rooms/unknown/messages/"), 404, "room_not_found")
