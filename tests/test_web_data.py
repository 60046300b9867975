"""Tests of the account and room-access queries (data/users.py, data/room_access.py) and
of migration m0002."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from data import Database, NotFoundError, open_database, rooms
from data import room_access as access_store
from data import users as user_store
from data.migrations import migration_names

ROOM = "room42"


@pytest.fixture
def db(db_path: Path) -> Iterator[Database]:
    database = open_database(db_path)
    try:
        yield database
    finally:
        database.close()


def add_room(db: Database, code: str = ROOM) -> None:
    snapshot = {
        "code": code,
        "name": "Room",
        "settings": {},
        "state": {},
        "last_seq": 0,
        "created_at_ms": 1,
        "updated_at_ms": 1,
    }
    db.write_sync(rooms.upsert_room_snapshots, [snapshot])


def add_user(db: Database, email: str | None = "a@example.org", **kw: Any) -> user_store.User:
    guest = email is None
    return db.write_sync(
        lambda w: user_store.create_user(
            w,
            email=email,
            password_hash=None if guest else "hash",
            display_name=kw.pop("display_name", "Ann"),
            now_ms=1_000,
            is_guest=guest,
            **kw,
        )
    )


def test_m0002_is_registered_after_m0001() -> None:
    assert migration_names()[:2] == ["m0001_initial", "m0002_accounts_and_access"]


def test_schema_constraints(db: Database) -> None:
    add_room(db)
    user = add_user(db)
    with pytest.raises(sqlite3.IntegrityError, match="CHECK"):
        db.write_sync(
            lambda w: w.execute(
                "INSERT INTO users (id, display_name, role, is_guest, created_at_ms) "
                "VALUES ('x', 'X', 'root', 0, 1)"
            )
        )
    with pytest.raises(sqlite3.IntegrityError, match="CHECK"):
        db.write_sync(
            lambda w: w.execute(
                "INSERT INTO room_access (room_code, visibility, entry_mode) "
                "VALUES (?, 'public', 'password')",
                [ROOM],
            )
        )
    with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"):
        db.write_sync(
            lambda w: w.execute(
                "INSERT INTO room_members (room_code, user_id, status, requested_at_ms) "
                "VALUES ('nope', ?, 'pending', 1)",
                [user["id"]],
            )
        )


def test_create_and_find_users(db: Database) -> None:
    user = add_user(db, "Ann@Example.org")
    assert len(user["id"]) == 32
    assert user["email"] == "Ann@Example.org"
    assert user["role"] == "user"
    assert user["is_guest"] is False
    assert user["is_active"] is True
    assert user["last_login_ms"] is None
    # Emails compare without regard to case.
    found = db.read_sync(user_store.find_login, "ann@example.ORG")
    assert found == (user, "hash")
    with pytest.raises(user_store.EmailTakenError):
        add_user(db, "ANN@example.org")
    guest = add_user(db, None, display_name="G")
    assert guest["is_guest"] is True
    assert guest["email"] is None
    assert db.read_sync(user_store.find_user, "missing") is None
    with pytest.raises(NotFoundError):
        db.read_sync(user_store.get_user, "missing")


def test_create_user_rejects_inconsistent_arguments(db: Database) -> None:
    with pytest.raises(ValueError, match="role"):
        add_user(db, role="root")
    with pytest.raises(ValueError, match="guest"):
        db.write_sync(
            lambda w: user_store.create_user(
                w,
                email="g@example.org",
                password_hash=None,
                display_name="G",
                now_ms=1,
                is_guest=True,
            )
        )
    with pytest.raises(ValueError, match="password hash"):
        db.write_sync(
            lambda w: user_store.create_user(
                w, email="g@example.org", password_hash=None, display_name="G", now_ms=1
            )
        )


def test_record_login_role_and_active(db: Database) -> None:
    user = add_user(db)
    db.write_sync(user_store.record_login, user["id"], 5_000, "newhash")
    assert db.read_sync(user_store.find_user, user["id"])["last_login_ms"] == 5_000
    assert db.read_sync(user_store.find_login, "a@example.org")[1] == "newhash"
    db.write_sync(user_store.record_login, user["id"], 6_000)
    assert db.read_sync(user_store.find_login, "a@example.org")[1] == "newhash"
    assert db.write_sync(user_store.set_user_role, user["id"], "staff")["role"] == "staff"
    with pytest.raises(ValueError, match="role"):
        db.write_sync(user_store.set_user_role, user["id"], "root")
    db.write_sync(
        lambda w: user_store.add_refresh_token(w, jti="r1", user_id=user["id"], expires_at_s=99)
    )
    disabled = db.write_sync(user_store.set_user_active, user["id"], False)
    assert disabled["is_active"] is False
    # Disabling revoked the refresh token.
    assert db.read_sync(lambda r: r.execute("SELECT revoked FROM refresh_tokens").fetchone()) == (
        1,
    )


def test_revoked_tokens(db: Database) -> None:
    assert db.read_sync(user_store.is_token_revoked, "j1") is False
    db.write_sync(user_store.revoke_token, "j1", 100)
    db.write_sync(user_store.revoke_token, "j1", 100)  # idempotent
    assert db.read_sync(user_store.is_token_revoked, "j1") is True
    db.write_sync(user_store.revoke_token, "j2", 300)
    assert db.write_sync(user_store.purge_expired_tokens, 200) == 1
    assert db.read_sync(user_store.is_token_revoked, "j1") is False
    assert db.read_sync(user_store.is_token_revoked, "j2") is True


def test_refresh_rotation_and_reuse_detection(db: Database) -> None:
    user = add_user(db)
    uid = user["id"]
    db.write_sync(
        lambda w: user_store.add_refresh_token(w, jti="r1", user_id=uid, expires_at_s=1_000)
    )

    def rotate(jti: str, new: str, now_s: float = 10.0, user_id: str = uid) -> Any:
        return db.write_sync(
            lambda w: user_store.rotate_refresh_token(
                w, jti=jti, user_id=user_id, new_jti=new, new_expires_at_s=2_000, now_s=now_s
            )
        )

    assert rotate("r1", "r2")["id"] == uid
    assert rotate("unknown", "x") is None
    assert rotate("r2", "x", user_id="someone else") is None
    assert rotate("r2", "x", now_s=5_000) is None  # expired
    # r1 was rotated already: presenting it again revokes r2 too.
    assert rotate("r1", "r3") is None
    assert rotate("r2", "r4") is None
    valid = db.read_sync(
        lambda r: r.execute("SELECT count(*) FROM refresh_tokens WHERE revoked = 0").fetchone()
    )
    assert valid == (0,)


def test_logout_revokes_access_and_refresh_tokens(db: Database) -> None:
    uid = add_user(db)["id"]
    for jti in ("r1", "r2"):
        db.write_sync(
            lambda w, jti=jti: user_store.add_refresh_token(w, jti=jti, user_id=uid, expires_at_s=9)
        )
    assert db.write_sync(lambda w: user_store.logout(w, user_id=uid, jti="a1", expires_at_s=9)) == 2
    assert db.read_sync(user_store.is_token_revoked, "a1")


def test_room_access_and_may_enter(db: Database) -> None:
    add_room(db)
    owner = add_user(db, "o@example.org")["id"]
    other = add_user(db, "x@example.org")["id"]
    # No rules: public and open, for everyone.
    assert db.read_sync(access_store.get_room_access, ROOM) is None
    assert db.read_sync(access_store.may_enter, ROOM, None)
    assert db.read_sync(access_store.may_enter, "unknown-room", other)
    rules = db.write_sync(
        lambda w: access_store.create_room_access(
            w,
            room_code=ROOM,
            visibility="private",
            entry_mode="approval",
            password_hash=None,
            owner_user_id=owner,
            now_ms=5,
        )
    )
    assert db.read_sync(access_store.get_room_access, ROOM) == rules
    assert db.read_sync(access_store.get_membership, ROOM, owner)["status"] == "approved"
    assert db.read_sync(access_store.may_enter, ROOM, owner)
    assert not db.read_sync(access_store.may_enter, ROOM, other)
    assert not db.read_sync(access_store.may_enter, ROOM, None)
    db.write_sync(access_store.set_membership, ROOM, other, "pending", 6)
    assert not db.read_sync(access_store.may_enter, ROOM, other)
    decided = db.write_sync(access_store.decide_membership, ROOM, other, "approved", 7)
    assert decided["status"] == "approved"
    assert decided["decided_at_ms"] == 7
    assert decided["requested_at_ms"] == 6
    assert db.read_sync(access_store.may_enter, ROOM, other)
    with pytest.raises(NotFoundError):
        db.write_sync(access_store.decide_membership, ROOM, other, "denied", 8)
    assert db.write_sync(access_store.remove_membership, ROOM, other)
    assert not db.write_sync(access_store.remove_membership, ROOM, other)


def test_create_room_access_checks_arguments(db: Database) -> None:
    add_room(db)

    def create(**kw: Any) -> Any:
        args = {
            "room_code": ROOM,
            "visibility": "public",
            "entry_mode": "open",
            "password_hash": None,
            "owner_user_id": None,
            "now_ms": 1,
        }
        args.update(kw)
        return db.write_sync(lambda w: access_store.create_room_access(w, **args))

    with pytest.raises(ValueError, match="visibility"):
        create(visibility="hidden")
    with pytest.raises(ValueError, match="entry mode"):
        create(entry_mode="knock")
    with pytest.raises(ValueError, match="password hash"):
        create(entry_mode="password")
    with pytest.raises(ValueError, match="password hash"):
        create(password_hash="h")
    with pytest.raises(sqlite3.IntegrityError):
        create(room_code="not-stored")
    create(entry_mode="password", password_hash="h")
    assert db.read_sync(access_store.may_enter, ROOM, None) is False


def test_memberships_list_and_cascade(db: Database) -> None:
    add_room(db)
    users = [add_user(db, f"u{i}@example.org", display_name=f"U{i}")["id"] for i in range(3)]
    for i, uid in enumerate(users):
        db.write_sync(access_store.set_membership, ROOM, uid, "pending", 10 + i)
    count, page = db.read_sync(
        lambda r: access_store.list_memberships(r, ROOM, "pending", offset=1, limit=1)
    )
    assert count == 3
    assert [(m["user_id"], m["display_name"]) for m in page] == [(users[1], "U1")]
    with pytest.raises(ValueError, match="status"):
        db.read_sync(lambda r: access_store.list_memberships(r, ROOM, "x", offset=0, limit=1))
    assert db.read_sync(access_store.room_access_map, [ROOM, "other"]) == {}
    # Deleting the room deletes its memberships; deleting a user deletes theirs.
    db.write_sync(lambda w: w.execute("DELETE FROM users WHERE id = ?", [users[0]]))
    assert (
        db.read_sync(
            lambda r: access_store.list_memberships(r, ROOM, "pending", offset=0, limit=9)
        )[0]
        == 2
    )
    db.write_sync(rooms.delete_room, ROOM)
    left = db.read_sync(lambda r: r.execute("SELECT count(*) FROM room_members").fetchone())
    assert left == (0,)
