"""Moderation that lasts, over real sockets in both encodings: the moderator role and
the room's permission table, mutes and bans held by the person (through reconnects and
a restart), slow mode, and the audit log of every moderation and control action."""

from __future__ import annotations

import pytest

from data import audit as audit_store
from protocol.errors import CLOSE_KICKED
from sync_server.client import ServerError
from tests.conftest import run_server
from tests.test_socket_errors import hello
from tests.test_socket_errors import refused as hello_refused

ENCODINGS = ["msgpack", "json"]
MEDIA = {"url": "https://example.org/v.mp4", "title": "V", "duration_s": 600.0}

pytestmark = pytest.mark.parametrize("encoding", ENCODINGS)


async def refused(client, message, code):
    with pytest.raises(ServerError) as info:
        await client.request(message)
    assert info.value.code == code, (message, info.value)
    return info.value


async def test_moderator_mutes_and_the_mute_lasts(db_path, encoding):
    async with run_server(db_path) as srv:
        await srv.server.create_room("room1", "Room one", media=MEDIA)
        vic_token = srv.token("u-vic", "Vic")
        async with (
            srv.client("room1", "alice", encoding=encoding) as host,
            srv.client("room1", "mona", encoding=encoding) as mod,
            srv.client("room1", token=vic_token, encoding=encoding) as vic,
        ):
            mute = {"type": "mute", "participant_id": vic.participant_id}
            await refused(mod, mute, "forbidden")  # a viewer may not
            await host.request(
                {"type": "set_role", "participant_id": mod.participant_id, "role": "moderator"}
            )
            await refused(vic, {"type": "mute", "participant_id": mod.participant_id}, "forbidden")
            ack = await mod.request(mute)
            event = await vic.wait_for("moderation")
            assert event["seq"] == ack["seq"]
            assert (event["action"], event["by"], event["user_id"], event["until_ms"]) == (
                "mute",
                mod.participant_id,
                "u-vic",
                None,
            )
            poll = await host.request(
                {"type": "poll_create", "question": "Q?", "options": ["a", "b"]}
            )
            await host.request({"type": "queue_add", "media": {"url": "https://example.org/n"}})
            for message in (
                {"type": "chat_send", "text": "hi"},
                {"type": "reaction", "emoji": "👍"},
                {"type": "poll_vote", "poll_id": poll["poll_id"], "choices": [0]},
                {"type": "vote_skip"},
            ):
                await refused(vic, message, "muted")
            # A moderator may not mute the host or a fellow moderator.
            await refused(mod, {"type": "mute", "participant_id": host.participant_id}, "forbidden")
            # The account is muted on another connection too.
            async with srv.client("room1", token=vic_token, encoding=encoding) as vic2:
                await refused(vic2, {"type": "chat_send", "text": "hi"}, "muted")
            session = vic.session
        # ... and after a restart.
    async with run_server(db_path) as srv:
        resume = {"session": session, "last_seq": 0}
        async with srv.client("room1", resume=resume, encoding=encoding) as vic:
            await refused(vic, {"type": "chat_send", "text": "hi"}, "muted")


async def test_a_mute_with_a_duration_ends(db_path, encoding):
    now = [1_000_000.0]
    async with run_server(db_path, clock=lambda: now[0]) as srv:
        await srv.server.create_room("room1", "Room one", media=MEDIA)
        async with (
            srv.client("room1", "alice", encoding=encoding) as host,
            srv.client("room1", "vic", encoding=encoding) as vic,
        ):
            await host.request(
                {"type": "mute", "participant_id": vic.participant_id, "duration_s": 60}
            )
            event = await vic.wait_for("moderation")
            assert event["until_ms"] == 1_000_000.0 + 60_000.0
            await refused(vic, {"type": "chat_send", "text": "hi"}, "muted")
            now[0] += 60_000.0  # the server's clock reaches the end of the mute
            await vic.chat("free again")


async def test_ban_closes_every_connection_and_outlasts_a_restart(db_path, encoding):
    async with run_server(db_path) as srv:
        await srv.server.create_room("room1", "Room one", media=MEDIA)
        token = srv.token("u-bad", "Bad")
        async with (
            srv.client("room1", "alice", encoding=encoding) as host,
            srv.client("room1", "carl", encoding=encoding) as cohost,
            srv.client("room1", token=token, encoding=encoding) as bad1,
            srv.client("room1", token=token, encoding=encoding) as bad2,
        ):
            await host.request(
                {"type": "set_role", "participant_id": cohost.participant_id, "role": "cohost"}
            )
            session = bad1.session
            await cohost.request({"type": "ban", "participant_id": bad1.participant_id})
            assert await bad1.wait_closed() == CLOSE_KICKED
            assert await bad2.wait_closed() == CLOSE_KICKED
            left = await host.wait_for("participant_left")
            assert left["reason"] == "banned"
            host_session = host.session
            # Coming back with the account, or with the old session: refused, 4012.
            for fields in ({"token": token}, {"resume": {"session": session, "last_seq": 0}}):
                error, code = await hello_refused(srv.url, encoding, hello(**fields))
                assert (error["code"], code) == ("forbidden", CLOSE_KICKED)
    async with run_server(db_path) as srv:
        error, code = await hello_refused(srv.url, encoding, hello(token=token))
        assert (error["code"], code) == ("forbidden", CLOSE_KICKED)
        resume = {"session": host_session, "last_seq": 0}
        async with srv.client("room1", resume=resume, encoding=encoding) as host:
            # The host, back within its grace, lifts the ban.
            await host.request({"type": "unban", "key": "user:u-bad"})
            async with srv.client("room1", token=token, encoding=encoding) as back:
                assert back.participant_id
            await refused(host, {"type": "unban", "key": "user:u-bad"}, "not_found")


async def test_slow_mode_and_the_permission_table(db_path, encoding):
    async with run_server(db_path) as srv:
        await srv.server.create_room("room1", "Room one", media=MEDIA)
        async with (
            srv.client("room1", "alice", encoding=encoding) as host,
            srv.client("room1", "mona", encoding=encoding) as mod,
            srv.client("room1", "vic", encoding=encoding) as vic,
        ):
            await host.request(
                {"type": "set_role", "participant_id": mod.participant_id, "role": "moderator"}
            )
            # A moderator may set slow mode (and nothing else of the settings).
            await refused(
                mod, {"type": "update_settings", "settings": {"chat_enabled": False}}, "forbidden"
            )
            await mod.request({"type": "update_settings", "settings": {"slow_mode_s": 600}})
            await vic.chat("one")
            error = await refused(vic, {"type": "chat_send", "text": "two"}, "rate_limited")
            assert 0 < error.details["retry_after_ms"] <= 600_000
            await mod.chat("moderators are exempt")
            await mod.chat("twice")
            # The host narrows muting to co-hosts: the moderator may no longer.
            await host.request(
                {"type": "update_settings", "settings": {"permissions": {"mute": "cohost"}}}
            )
            settings = (await host.request({"type": "get_state"}))["room"]["settings"]
            assert settings["permissions"] == {
                "mute": "cohost",
                "ban": "cohost",
                "slow_mode": "moderator",
                "delete_chat": "moderator",
            }
            await refused(mod, {"type": "mute", "participant_id": vic.participant_id}, "forbidden")
            bad = {"type": "update_settings", "settings": {"permissions": {"mute": "owner"}}}
            await refused(host, bad, "invalid_message")


async def test_the_audit_log_records_who_did_what_to_whom(db_path, encoding):
    async with run_server(db_path) as srv:
        await srv.server.create_room("room1", "Room one", media=MEDIA)
        async with (
            srv.client("room1", "alice", encoding=encoding) as host,
            srv.client("room1", "vic", encoding=encoding) as vic,
        ):
            await host.seek(30.0)
            await host.request({"type": "mute", "participant_id": vic.participant_id})
            await host.request({"type": "unmute", "participant_id": vic.participant_id})
            await host.request(
                {"type": "set_role", "participant_id": vic.participant_id, "role": "moderator"}
            )
            await host.request({"type": "kick", "participant_id": vic.participant_id})
        count, entries = await srv.db.read(
            lambda db: audit_store.list_entries(db, "room1", offset=0, limit=10)
        )
        actions = [(e["action"], e["actor_name"], e["target"]) for e in reversed(entries)]
        vic_id = vic.participant_id
        assert actions == [
            ("seek", "alice", None),
            ("mute", "alice", vic_id),
            ("unmute", "alice", vic_id),
            ("set_role", "alice", vic_id),
            ("kick", "alice", vic_id),
        ]
        assert count == 5
        assert entries[-1]["details"]["position_s"] == 30.0
        assert entries[1]["details"] == {"role": "moderator"}
