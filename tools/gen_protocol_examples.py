"""Generate the examples of protocol/PROTOCOL.md in both wire encodings.

Every example is a message defined once, below, as a Python dict. The script writes
it into PROTOCOL.md twice: as JSON (what a ``watchparty.v1.json`` client sends or
receives in a text frame) and as the hex bytes of the MessagePack encoding (what a
``watchparty.v1.msgpack`` client sends or receives in a binary frame), made with
``msgpack.packb(message, use_bin_type=True)`` exactly as ``protocol/codec.py`` does.
Nobody writes the hex by hand.

In PROTOCOL.md an example is a region::

    <!-- generated: NAME -->
    ...replaced by this script...
    <!-- /generated -->

Client examples are validated with ``protocol.messages.parse_client_message`` before
anything is written.

Usage (from the repository root)::

    .venv/bin/python tools/gen_protocol_examples.py          # rewrite the regions
    .venv/bin/python tools/gen_protocol_examples.py --check  # exit 1 if out of date

tests/test_docs.py checks independently that every hex block is the MessagePack
encoding of the JSON block above it.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

import msgpack

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from protocol.messages import parse_client_message  # noqa: E402

PROTOCOL_MD = ROOT / "protocol" / "PROTOCOL.md"

REGION = re.compile(r"<!-- generated: (?P<name>[a-z0-9_]+) -->\n.*?<!-- /generated -->", re.DOTALL)

# --- shared pieces of the examples ---------------------------------------------------
T0 = 1_767_225_600_000.0  # server clock, Unix epoch milliseconds (2026-01-01T00:00:00Z)
ALICE = "VMvL9wJ0"
BOB = "k3Jx9QaZ"
SESSION = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJndWVzdDpWTXZMOXdKMCIs…"
ACCESS = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiI0MiIsIm5hbWUiOiJCb2Ii…"
MEDIA = {
    "url": "https://example.org/media/big-buck-bunny.mp4",
    "title": "Big Buck Bunny",
    "duration_s": 596.5,
}
SETTINGS = {
    "control": "cohosts",
    "chat_enabled": True,
    "wait_for_everyone": False,
    "allow_guests": True,
    "polls": "cohosts",
    "voteskip_ratio": 0.5,
    "slow_mode_s": 0.0,
    "permissions": {
        "mute": "moderator",
        "ban": "cohost",
        "slow_mode": "moderator",
        "delete_chat": "moderator",
    },
}


def participant(pid: str, name: str, role: str, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": pid,
        "name": name,
        "role": role,
        "user_id": None,
        "guest": True,
        "connected": True,
        "buffering": False,
        "drift_ms": None,
        "rtt_ms": None,
    }
    body.update(changes)
    return body


def playback(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "media": dict(MEDIA),
        "paused": False,
        "position_s": 95.0,
        "rate": 1.0,
        "server_time_ms": T0 + 120_250.0,
        "seq": 42,
        "waiting": False,
    }
    body.update(changes)
    return body


def chat(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": 1042,
        "participant_id": BOB,
        "user_id": "42",
        "name": "Bob",
        "text": "this scene!",
        "sent_at_ms": 1_767_225_730_512,
        "edited_at_ms": None,
    }
    body.update(changes)
    return body


QUEUE_ITEM = {
    "id": 4,
    "media": {
        "url": "https://example.org/media/sintel.mp4",
        "title": "Sintel",
        "duration_s": 888.0,
    },
    "added_by": BOB,
    "added_by_name": "Bob",
    "added_at_ms": T0 + 160_000.0,
}
QUEUE = {"version": 8, "items": [QUEUE_ITEM], "skip_votes": 0, "skip_needed": 1}
EMPTY_QUEUE = {"version": 0, "items": [], "skip_votes": 0, "skip_needed": 1}


def poll(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": 77,
        "question": "Next film?",
        "options": ["Sintel", "Tears of Steel", "Cosmos Laundromat"],
        "multiple": False,
        "anonymous": False,
        "created_by": ALICE,
        "created_by_name": "Alice",
        "created_at_ms": T0 + 140_000.0,
        "closes_at_ms": T0 + 200_000.0,
        "closed": False,
        "closed_at_ms": None,
        "close_reason": None,
        "closed_by": None,
        "results": {
            "counts": [1, 0, 0],
            "voter_count": 1,
            "voters": [[{"participant_id": BOB, "user_id": "42", "name": "Bob"}], [], []],
        },
    }
    body.update(changes)
    return body


ROOM = {
    "code": "movie-night",
    "name": "Movie night",
    "settings": dict(SETTINGS),
    "host_id": ALICE,
    "created_at_ms": T0 - 3_600_000.0,
}

# --- client-to-server examples -------------------------------------------------------
CLIENT: dict[str, dict[str, Any]] = {
    "hello_guest": {
        "type": "hello",
        "id": 1,
        "protocol": 1,
        "room": "movie-night",
        "display_name": "Alice",
        "client": "mpv-bot/0.3",
    },
    "hello_token": {
        "type": "hello",
        "id": 1,
        "protocol": 1,
        "room": "movie-night",
        "token": ACCESS,
    },
    "hello_resume": {
        "type": "hello",
        "id": 1,
        "protocol": 1,
        "room": "movie-night",
        "resume": {"session": SESSION, "last_seq": 41},
    },
    "hello_create": {
        "type": "hello",
        "id": 1,
        "protocol": 1,
        "room": "movie-night",
        "token": ACCESS,
        "create": {
            "name": "Movie night",
            "settings": {"control": "everyone", "wait_for_everyone": True},
            "media": dict(MEDIA),
        },
    },
    "leave": {"type": "leave", "id": 99},
    "time_sync": {"type": "time_sync", "id": "ts1", "client_send_ms": 1_767_222_000_123.25},
    "time_sync_estimate": {
        "type": "time_sync",
        "id": "ts40",
        "client_send_ms": 1_767_222_130_001.5,
        "rtt_ms": 38.5,
        "offset_ms": 3_600_012.75,
    },
    "ping_client": {"type": "ping", "id": 5, "nonce": "c-1"},
    "pong_client": {"type": "pong", "nonce": 17},
    "play": {"type": "play", "id": 10, "position_s": 95.0},
    "play_here": {"type": "play", "id": 10},
    "pause": {"type": "pause", "id": 11},
    "seek": {"type": "seek", "id": 12, "position_s": 300.5},
    "set_rate": {"type": "set_rate", "id": 13, "rate": 1.25},
    "change_media": {"type": "change_media", "id": 14, "media": dict(MEDIA)},
    "change_media_video": {
        "type": "change_media",
        "id": 15,
        "video_id": "3f2a9c0e5b7d4e1f8a6b2c9d0e1f2a3b",
    },
    "position_report": {
        "type": "position_report",
        "position_s": 123.456,
        "server_time_ms": T0 + 148_706.5,
        "paused": False,
    },
    "buffer_state": {"type": "buffer_state", "id": 15, "buffering": True},
    "chat_send": {"type": "chat_send", "id": 16, "text": "this scene!"},
    "chat_edit": {"type": "chat_edit", "id": 17, "message_id": 1042, "text": "this scene!!"},
    "chat_delete": {"type": "chat_delete", "id": 18, "message_id": 1042},
    "typing_client": {"type": "typing", "typing": True},
    "reaction_client": {"type": "reaction", "id": 19, "emoji": "🎉"},
    "update_settings": {
        "type": "update_settings",
        "id": 20,
        "settings": {"control": "host", "chat_enabled": False},
    },
    "set_role": {"type": "set_role", "id": 21, "participant_id": BOB, "role": "cohost"},
    "kick": {"type": "kick", "id": 22, "participant_id": BOB},
    "poll_create": {
        "type": "poll_create",
        "id": 25,
        "question": "Next film?",
        "options": ["Sintel", "Tears of Steel", "Cosmos Laundromat"],
        "multiple": False,
        "anonymous": False,
        "duration_s": 60.0,
    },
    "poll_vote": {"type": "poll_vote", "id": 26, "poll_id": 77, "choices": [1]},
    "poll_close": {"type": "poll_close", "id": 27, "poll_id": 77},
    "get_reaction_timeline": {"type": "get_reaction_timeline", "id": 28},
    "queue_add": {
        "type": "queue_add",
        "id": 29,
        "media": {
            "url": "https://example.org/media/sintel.mp4",
            "title": "Sintel",
            "duration_s": 888.0,
        },
    },
    "queue_move": {"type": "queue_move", "id": 30, "item_id": 4, "to_index": 0, "version": 7},
    "queue_remove": {"type": "queue_remove", "id": 31, "item_id": 4},
    "queue_skip": {"type": "queue_skip", "id": 32},
    "mute": {"type": "mute", "id": 34, "participant_id": BOB, "duration_s": 600.0},
    "unmute": {"type": "unmute", "id": 35, "participant_id": BOB},
    "ban": {"type": "ban", "id": 36, "participant_id": BOB, "duration_s": 86400.0},
    "unban": {"type": "unban", "id": 37, "key": "user:42"},
    "vote_skip": {"type": "vote_skip", "id": 33},
    "get_state": {"type": "get_state", "id": 23},
    "get_participants": {"type": "get_participants", "id": 24},
}

# --- server-to-client examples -------------------------------------------------------
SERVER: dict[str, dict[str, Any]] = {
    "welcome": {
        "type": "welcome",
        "request_id": 1,
        "protocol": 1,
        "server_time_ms": T0 + 120_000.5,
        "participant": participant(ALICE, "Alice", "host"),
        "session": SESSION,
        "resumed": False,
        "replay": None,
        "missed": [],
        "chat": [
            chat(participant_id="Qw7_pL2x", name="Carol", user_id=None, text="hi all", id=1041)
        ],
        "poll_votes": [{"poll_id": 77, "choices": [0]}],
        "web_url": "https://watch.example.org",
        "room": dict(ROOM),
        "participants": [participant(ALICE, "Alice", "host")],
        "polls": [poll()],
        "queue": dict(EMPTY_QUEUE),
        "playback": playback(paused=True, position_s=0.0, server_time_ms=T0 - 3_600_000.0, seq=0),
        "seq": 3,
        "limits": {
            "max_frame_bytes": 65536,
            "max_chat_chars": 2000,
            "rate_limit_per_s": 20.0,
            "rate_limit_burst": 40,
            "heartbeat_interval_s": 10.0,
            "heartbeat_timeout_s": 30.0,
            "reconnect_grace_s": 20.0,
        },
    },
    "ack_plain": {"type": "ack", "request_id": 15},
    "ack_playback": {"type": "ack", "request_id": 10, "seq": 42, "playback": playback()},
    "ack_chat": {"type": "ack", "request_id": 16, "message_id": 1042, "seq": 43},
    "ack_position": {"type": "ack", "request_id": 30, "drift_ms": -61.2},
    "ack_settings": {
        "type": "ack",
        "request_id": 20,
        "settings": {**SETTINGS, "control": "host", "chat_enabled": False},
    },
    "error_invalid": {
        "type": "error",
        "code": "invalid_message",
        "message": "invalid seek: position_s: Input should be greater than or equal to 0",
        "request_id": 12,
        "details": [{"field": "position_s", "error": "Input should be greater than or equal to 0"}],
    },
    "error_rate": {
        "type": "error",
        "code": "rate_limited",
        "message": "more than 20 messages per second; slow down",
        "request_id": None,
        "details": {"retry_after_ms": 48},
    },
    "error_forbidden": {
        "type": "error",
        "code": "forbidden",
        "message": "pause is allowed to the host and co-hosts in this room; you are viewer",
        "request_id": 11,
    },
    "time_sync_reply": {
        "type": "time_sync_reply",
        "request_id": "ts1",
        "client_send_ms": 1_767_222_000_123.25,
        "server_recv_ms": T0 + 120_019.5,
        "server_send_ms": T0 + 120_019.625,
    },
    "ack_poll_create": {"type": "ack", "request_id": 25, "poll_id": 77, "seq": 45},
    "ack_poll_vote": {"type": "ack", "request_id": 26, "poll_id": 77, "choices": [1]},
    "poll_opened": {"type": "poll_opened", "seq": 45, "poll": poll()},
    "poll_results": {
        "type": "poll_results",
        "poll_id": 77,
        "results": {
            "counts": [1, 1, 0],
            "voter_count": 2,
            "voters": [
                [{"participant_id": BOB, "user_id": "42", "name": "Bob"}],
                [{"participant_id": ALICE, "user_id": None, "name": "Alice"}],
                [],
            ],
        },
        "server_time_ms": T0 + 150_250.0,
    },
    "poll_closed": {
        "type": "poll_closed",
        "seq": 46,
        "poll": poll(
            closed=True,
            closed_at_ms=T0 + 200_000.0,
            close_reason="expired",
            results={"counts": [3, 5, 1], "voter_count": 9, "voters": None},
            anonymous=True,
        ),
    },
    "moderation": {
        "type": "moderation",
        "seq": 48,
        "action": "mute",
        "by": ALICE,
        "participant_id": BOB,
        "user_id": "42",
        "until_ms": T0 + 770_000.0,
    },
    "queue_changed": {
        "type": "queue_changed",
        "seq": 47,
        "action": "add",
        "by": BOB,
        "item_id": 4,
        "queue": dict(QUEUE),
    },
    "reaction_timeline": {
        "type": "reaction_timeline",
        "request_id": 28,
        "media_key": "url:https://example.org/media/big-buck-bunny.mp4",
        "bucket_s": 1,
        "counts": [[12, "😂", 3], [13, "😂", 7], [13, "🎉", 1], [131, "🎉", 2]],
    },
    "ping_server": {"type": "ping", "nonce": 17, "server_time_ms": T0 + 130_000.25},
    "pong_server": {
        "type": "pong",
        "nonce": "c-1",
        "request_id": 5,
        "server_time_ms": T0 + 120_400.75,
    },
    "state": {
        "type": "state",
        "request_id": 23,
        "server_time_ms": T0 + 150_000.0,
        "room": dict(ROOM),
        "participants": [
            participant(ALICE, "Alice", "host", rtt_ms=31.4, drift_ms=4.2),
            participant(BOB, "Bob", "viewer", user_id="42", guest=False, rtt_ms=38.5),
        ],
        "playback": playback(),
        "polls": [],
        "queue": dict(QUEUE),
        "seq": 44,
    },
    "participants": {
        "type": "participants",
        "request_id": 24,
        "seq": 14,
        "host_id": ALICE,
        "participants": [
            participant(ALICE, "Alice", "host", rtt_ms=31.4, drift_ms=4.2),
            participant(BOB, "Bob", "viewer", user_id="42", guest=False, rtt_ms=38.5),
        ],
    },
    "participant_joined": {
        "type": "participant_joined",
        "seq": 4,
        "participant": participant(BOB, "Bob", "viewer", user_id="42", guest=False),
    },
    "participant_left": {
        "type": "participant_left",
        "seq": 45,
        "participant_id": BOB,
        "reason": "timeout",
    },
    "participant_updated": {
        "type": "participant_updated",
        "seq": 46,
        "participant": participant(
            BOB, "Bob", "viewer", user_id="42", guest=False, connected=False
        ),
    },
    "host_changed": {
        "type": "host_changed",
        "seq": 49,
        "host_id": BOB,
        "previous_host_id": ALICE,
    },
    "playback_play": {
        "type": "playback",
        "seq": 42,
        "action": "play",
        "by": ALICE,
        "state": playback(),
    },
    "playback_wait": {
        "type": "playback",
        "seq": 47,
        "action": "wait",
        "by": None,
        "state": playback(
            paused=True,
            waiting=True,
            position_s=131.25,
            server_time_ms=T0 + 156_000.0,
            seq=47,
        ),
    },
    "chat_message": {"type": "chat_message", "seq": 43, "message": chat()},
    "chat_edited": {
        "type": "chat_edited",
        "seq": 50,
        "message": chat(text="this scene!!", edited_at_ms=1_767_225_741_003),
    },
    "chat_deleted": {"type": "chat_deleted", "seq": 51, "message_id": 1042, "by": ALICE},
    "settings_changed": {
        "type": "settings_changed",
        "seq": 52,
        "settings": {**SETTINGS, "chat_enabled": False},
        "changed": {"chat_enabled": False},
    },
    "typing_server": {"type": "typing", "participant_id": BOB, "typing": True},
    "reaction_server": {
        "type": "reaction",
        "participant_id": BOB,
        "emoji": "🎉",
        "position_s": 131.872,
    },
    "participant_stats": {
        "type": "participant_stats",
        "server_time_ms": T0 + 155_000.0,
        "stats": {
            ALICE: {"drift_ms": 4.2, "rtt_ms": 31.4, "buffering": False},
            BOB: {"drift_ms": -61.2, "rtt_ms": 38.5, "buffering": False},
        },
    },
    "drift_correction_rate": {
        "type": "drift_correction",
        "action": "rate",
        "drift_ms": -61.2,
        "server_time_ms": T0 + 148_710.0,
        "position_s": 123.52,
        "rate": 1.05,
        "duration_ms": 1224.0,
    },
    "drift_correction_seek": {
        "type": "drift_correction",
        "action": "seek",
        "drift_ms": 2480.0,
        "server_time_ms": T0 + 148_710.0,
        "position_s": 123.52,
    },
    "join_request": {
        "type": "join_request",
        "room": ROOM["code"],
        "status": "pending",
        "user_id": "5f0c2a9e7b1d4e3f8a6b9c0d1e2f3a4b",
        "display_name": "Dana",
        "requested_at_ms": T0 + 162_400.0,
    },
}


def to_json(message: dict[str, Any]) -> str:
    """JSON as a reader wants it: one line when short, indented when long."""
    line = json.dumps(message, ensure_ascii=False)
    if len(line) <= 96:
        return line
    return json.dumps(message, ensure_ascii=False, indent=2)


def to_hex(message: dict[str, Any], per_line: int = 24) -> str:
    """The MessagePack bytes of *message* as protocol/codec.py packs them, in hex."""
    data = msgpack.packb(message, use_bin_type=True)
    pairs = data.hex(" ").split(" ")
    return "\n".join(" ".join(pairs[i : i + per_line]) for i in range(0, len(pairs), per_line))


def render(name: str) -> str:
    if name in CLIENT:
        direction, message = "client", CLIENT[name]
    elif name in SERVER:
        direction, message = "server", SERVER[name]
    else:
        raise KeyError(f"PROTOCOL.md names example {name!r}, which this script does not define")
    size = len(msgpack.packb(message, use_bin_type=True))
    return (
        f"<!-- generated: {name} -->\n"
        f"<!-- example: {direction} -->\n"
        f"```json\n{to_json(message)}\n```\n\n"
        f"MessagePack ({size} bytes, hex):\n\n"
        f"```text\n{to_hex(message)}\n```\n"
        f"<!-- /generated -->"
    )


def validate() -> None:
    for name, message in CLIENT.items():
        parse_client_message(message)  # raises ProtocolError naming the field
        # JSON must carry it unchanged (no NaN, str keys only).
        if json.loads(json.dumps(message)) != message:
            raise ValueError(f"client example {name} does not survive a JSON round trip")
    for name, message in SERVER.items():
        if json.loads(json.dumps(message)) != message:
            raise ValueError(f"server example {name} does not survive a JSON round trip")


def regenerate(text: str) -> tuple[str, set[str]]:
    used: set[str] = set()

    def replace(match: re.Match[str]) -> str:
        used.add(match.group("name"))
        return render(match.group("name"))

    return REGION.sub(replace, text), used


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if PROTOCOL.md is out of date")
    parser.add_argument("--path", type=Path, default=PROTOCOL_MD, help="the file to rewrite")
    args = parser.parse_args(argv)
    validate()
    text = args.path.read_text(encoding="utf-8")
    new, used = regenerate(text)
    unused = sorted((set(CLIENT) | set(SERVER)) - used)
    if unused:
        print(
            f"examples defined but not placed in {args.path}: {', '.join(unused)}", file=sys.stderr
        )
        return 1
    if args.check:
        if new != text:
            print(
                f"{args.path} is out of date; run tools/gen_protocol_examples.py", file=sys.stderr
            )
            return 1
        return 0
    if new != text:
        args.path.write_text(new, encoding="utf-8")
        print(f"rewrote {len(used)} examples in {args.path}")
    else:
        print(f"{args.path} is up to date ({len(used)} examples)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
