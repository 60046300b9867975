"""The documentation matches the code (as sqlite-utils' tests/test_docs.py does).

* docs/settings.md documents every setting with its default, environment variable and flag;
* docs/cli.md documents every subcommand and its options;
* protocol/PROTOCOL.md has a section for every message type, a row for every error and
  close code, client examples that the server accepts, MessagePack bytes that are the
  encoding of the JSON above them, and server examples shaped like what a live server
  really sends.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import re
from pathlib import Path
from typing import Any

import msgpack
import pytest
import trio
from trio_websocket import ConnectionClosed, WebSocketConnection, open_websocket_url

from protocol.errors import CLOSE_REASONS, ERROR_CODES
from protocol.messages import CLIENT_TYPES, SERVER_TYPES, parse_client_message
from sync_server.cli import build_parser
from sync_server.config import ENV_PREFIX, SETTINGS, Config, config_fields
from sync_server.control import LocalRoomControl
from sync_server.server import serve_sync

ROOT = Path(__file__).resolve().parent.parent
PROTOCOL_MD = ROOT / "protocol" / "PROTOCOL.md"
SETTINGS_MD = ROOT / "docs" / "settings.md"
CLI_MD = ROOT / "docs" / "cli.md"
LIMITS_MD = ROOT / "docs" / "limits.md"

EXAMPLE = re.compile(
    r"<!-- example: (?P<direction>client|server) -->\n"
    r"```json\n(?P<json>.*?)\n```\n+"
    r"MessagePack \((?P<size>\d+) bytes, hex\):\n+"
    r"```text\n(?P<hex>.*?)\n```",
    re.DOTALL,
)


def read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def section(text: str, heading: str) -> str:
    """The text of the level-2 section whose heading starts with *heading*."""
    start = text.index(f"\n## {heading}")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def examples(direction: str | None = None) -> list[dict[str, Any]]:
    found = [m.groupdict() for m in EXAMPLE.finditer(read(PROTOCOL_MD))]
    return [e for e in found if direction is None or e["direction"] == direction]


def toml_literal(value: Any) -> str:
    """A default as docs/settings.md writes it (the way it is written in TOML)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    return repr(value)


def table_row(text: str, first_cell: str) -> str:
    """The Markdown table row whose first cell is *first_cell*."""
    for line in text.splitlines():
        if line.startswith(f"| {first_cell} |"):
            return line
    raise AssertionError(f"no table row starting with {first_cell!r}")


# --- settings ---------------------------------------------------------------------------
def test_config_fields_are_the_settings() -> None:
    assert config_fields() == [s.name for s in SETTINGS]
    defaults = Config()
    for s in SETTINGS:
        assert getattr(defaults, s.name) == s.default, s.name


@pytest.mark.parametrize("setting", SETTINGS, ids=lambda s: s.name)
def test_every_setting_is_documented(setting: Any) -> None:
    row = table_row(read(SETTINGS_MD), f"`{setting.name}`")
    assert f"`{ENV_PREFIX}{setting.name.upper()}`" in row
    assert f"`--{setting.name.replace('_', '-')}`" in row
    assert f"`{toml_literal(setting.default)}`" in row, "the documented default is wrong"


def test_no_unknown_settings_are_documented() -> None:
    names = {s.name for s in SETTINGS}
    for line in read(SETTINGS_MD).splitlines():
        match = re.match(r"\| `([a-z0-9_]+)` \| `", line)
        if match:
            assert match.group(1) in names, f"docs/settings.md documents {match.group(1)!r}"


# --- command line ---------------------------------------------------------------------------
def subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    raise AssertionError("build_parser() has no subcommands")


@pytest.mark.parametrize("name", sorted(subcommands()))
def test_every_subcommand_is_documented(name: str) -> None:
    text = read(CLI_MD)
    assert f"\n## `watchparty {name}`" in text
    setting_flags = {"--" + s.name.replace("_", "-") for s in SETTINGS}
    setting_flags |= {"--no-" + s.name.replace("_", "-") for s in SETTINGS}
    doc = section(text, f"`watchparty {name}`")
    for action in subcommands()[name]._actions:
        for flag in action.option_strings:
            if flag.startswith("--") and flag != "--help" and flag not in setting_flags:
                assert f"`{flag}" in doc, f"{flag} of {name} is not documented"


# --- protocol reference ----------------------------------------------------------------------
@pytest.mark.parametrize("kind", sorted(CLIENT_TYPES))
def test_every_client_type_has_a_section(kind: str) -> None:
    assert f"\n### `{kind}`\n" in section(read(PROTOCOL_MD), "6. Client-to-server")


@pytest.mark.parametrize("kind", sorted(SERVER_TYPES))
def test_every_server_type_has_a_section(kind: str) -> None:
    assert f"\n### `{kind}`\n" in section(read(PROTOCOL_MD), "7. Server-to-client")


def test_no_section_for_an_unknown_type() -> None:
    text = read(PROTOCOL_MD)
    for heading, known in (
        ("6. Client-to-server", CLIENT_TYPES),
        ("7. Server-to-client", SERVER_TYPES),
    ):
        for kind in re.findall(r"\n### `([a-z_]+)`\n", section(text, heading)):
            assert kind in known, f"PROTOCOL.md documents a message type {kind!r} the code lacks"


@pytest.mark.parametrize("code", sorted(ERROR_CODES))
def test_every_error_code_is_documented(code: str) -> None:
    table_row(section(read(PROTOCOL_MD), "8. Error codes"), f"`{code}`")


@pytest.mark.parametrize("code", sorted(CLOSE_REASONS))
def test_every_close_code_is_documented(code: int) -> None:
    row = table_row(section(read(PROTOCOL_MD), "9. Close codes"), str(code))
    assert CLOSE_REASONS[code] in row, "the close code's meaning differs from CLOSE_REASONS"


def test_every_limit_close_code_is_in_limits_page() -> None:
    text = read(LIMITS_MD)
    for code in (1009, 4001, 4003, 4006, 4007, 4008, 4009, 4010):
        assert str(code) in text


def test_every_message_type_has_an_example() -> None:
    client = {json.loads(e["json"])["type"] for e in examples("client")}
    server = {json.loads(e["json"])["type"] for e in examples("server")}
    assert client == set(CLIENT_TYPES)
    assert server == set(SERVER_TYPES)


@pytest.mark.parametrize("index", range(len(examples("client"))))
def test_client_examples_are_valid(index: int) -> None:
    message = json.loads(examples("client")[index]["json"])
    parse_client_message(message)  # raises ProtocolError naming the bad field


@pytest.mark.parametrize("index", range(len(examples())))
def test_msgpack_bytes_match_the_json(index: int) -> None:
    example = examples()[index]
    expected = msgpack.packb(json.loads(example["json"]), use_bin_type=True)
    assert bytes.fromhex(example["hex"].replace("\n", " ")) == expected
    assert int(example["size"]) == len(expected)


def test_examples_are_generated() -> None:
    spec = importlib.util.spec_from_file_location(
        "gen_protocol_examples", ROOT / "tools" / "gen_protocol_examples.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main(["--check"]) == 0, "run tools/gen_protocol_examples.py"


# --- server examples against a live server ------------------------------------------------------
NESTED = ("participant", "room", "playback", "state", "limits", "message", "settings", "media")
LISTED = ("participants", "chat")


class RawClient:
    """A bare JSON client that records every message and answers pings."""

    def __init__(self, ws: WebSocketConnection) -> None:
        self.ws = ws
        self.received: list[dict[str, Any]] = []

    async def send(self, message: dict[str, Any]) -> None:
        await self.ws.send_message(json.dumps(message))

    async def read_forever(self) -> None:
        try:
            while True:
                message = json.loads(await self.ws.get_message())
                self.received.append(message)
                if message["type"] == "ping":
                    await self.send({"type": "pong", "nonce": message["nonce"]})
        except ConnectionClosed:
            pass

    async def wait_for(self, kind: str, **fields: Any) -> dict[str, Any]:
        with trio.fail_after(5):
            while True:
                for message in self.received:
                    if message["type"] == kind and all(
                        message.get(k) == v for k, v in fields.items()
                    ):
                        return message
                await trio.sleep(0.005)


async def observe_live_messages(tmp_path: Path) -> list[dict[str, Any]]:
    """Drive a real server through every server message type; return all received."""
    config = Config(
        host="127.0.0.1",
        port=0,
        db=str(tmp_path / "docs.db"),
        secret_key="d" * 32,
        demo=False,
        heartbeat_interval_s=0.1,
        stats_interval_s=0.1,
        correction_cooldown_s=0.0,
    )
    media = {"url": "https://example.org/v.mp4", "title": "V", "duration_s": 600.0}
    received: list[dict[str, Any]] = []
    with trio.fail_after(20):
        async with trio.open_nursery() as nursery:
            server = await nursery.start(serve_sync, config)
            url = f"ws://127.0.0.1:{server.port}/ws"
            async with (
                open_websocket_url(url, subprotocols=["watchparty.v1.json"]) as ws_a,
                open_websocket_url(url, subprotocols=["watchparty.v1.json"]) as ws_b,
            ):
                a, b = RawClient(ws_a), RawClient(ws_b)
                nursery.start_soon(a.read_forever)
                nursery.start_soon(b.read_forever)
                await a.send({"type": "time_sync", "id": "t", "client_send_ms": 1.5})
                await a.send({"type": "ping", "id": "p", "nonce": "n"})
                await a.wait_for("pong", request_id="p")
                await a.send(
                    {
                        "type": "hello",
                        "id": "h",
                        "protocol": 1,
                        "room": "docs-room",
                        "display_name": "alice",
                        "create": {"name": "Docs", "media": media},
                    }
                )
                await a.wait_for("welcome")
                await b.send(
                    {
                        "type": "hello",
                        "id": "h",
                        "protocol": 1,
                        "room": "docs-room",
                        "display_name": "bob",
                    }
                )
                bob = (await b.wait_for("welcome"))["participant"]["id"]
                await b.send({"type": "pause", "id": "forbidden"})
                await a.send({"type": "seek", "id": "invalid", "position_s": -1})
                await a.send({"type": "play", "id": "play", "position_s": 10.0})
                playing = (await a.wait_for("ack", request_id="play"))["playback"]
                at = playing["server_time_ms"]
                await b.send({"type": "buffer_state", "id": "buf", "buffering": False})
                for rid, ahead_s in (("r1", 0.1), ("r2", 5.0)):
                    await b.send(
                        {
                            "type": "position_report",
                            "id": rid,
                            "position_s": playing["position_s"] + ahead_s,
                            "server_time_ms": at,
                        }
                    )
                    await b.wait_for("ack", request_id=rid)
                await b.send({"type": "chat_send", "id": "c1", "text": "hi"})
                message_id = (await b.wait_for("ack", request_id="c1"))["message_id"]
                await b.send(
                    {"type": "chat_edit", "id": "c2", "message_id": message_id, "text": "hey"}
                )
                # The edit is applied before the delete (two connections: no order).
                await b.wait_for("ack", request_id="c2")
                await a.wait_for("chat_edited")
                await a.send({"type": "chat_delete", "id": "c3", "message_id": message_id})
                await b.send({"type": "typing", "id": "ty", "typing": True})
                await a.wait_for("typing")
                await b.send({"type": "reaction", "id": "re", "emoji": "🎉"})
                await a.send(
                    {"type": "poll_create", "id": "pc", "question": "Go?", "options": ["y", "n"]}
                )
                poll_id = (await a.wait_for("ack", request_id="pc"))["poll_id"]
                await b.send({"type": "poll_vote", "id": "pv", "poll_id": poll_id, "choices": [0]})
                await b.wait_for("poll_results")
                await a.send({"type": "poll_close", "id": "px", "poll_id": poll_id})
                await b.send({"type": "get_reaction_timeline", "id": "rt"})
                await b.wait_for("reaction_timeline")
                await b.send(
                    {"type": "queue_add", "id": "qa", "media": {"url": "https://example.org/n.mp4"}}
                )
                await b.wait_for("queue_changed")
                await a.send({"type": "mute", "id": "mu", "participant_id": bob, "duration_s": 60})
                await b.wait_for("moderation")
                await a.send({"type": "unmute", "id": "um", "participant_id": bob})
                await a.send(
                    {"type": "update_settings", "id": "us", "settings": {"chat_enabled": False}}
                )
                await a.send({"type": "get_state", "id": "gs"})
                await a.send({"type": "get_participants", "id": "gp"})
                await a.wait_for("participant_stats")
                told = await LocalRoomControl(server).notify_join_request(
                    "docs-room", user_id="a" * 32, display_name="Dana", requested_at_ms=1.0
                )
                assert told == 1  # alice, the host; not bob
                await a.wait_for("join_request")
                await a.send(
                    {"type": "set_role", "id": "sr", "participant_id": bob, "role": "host"}
                )
                await b.wait_for("host_changed")
                await a.send({"type": "leave", "id": "bye"})
                await b.wait_for("participant_left")
                received = a.received + b.received
            nursery.cancel_scope.cancel()
    return received


def shape_errors(example: dict[str, Any], real: dict[str, Any]) -> list[str]:
    errors = []
    for key in NESTED:
        if isinstance(example.get(key), dict) and isinstance(real.get(key), dict):
            if set(example[key]) != set(real[key]):
                errors.append(f"{key}: documented {sorted(example[key])}, sent {sorted(real[key])}")
            errors += [f"{key}.{e}" for e in shape_errors({"type": "", **example[key]}, real[key])]
    if isinstance(example.get("stats"), dict) and isinstance(real.get("stats"), dict):
        for documented, sent in zip(
            example["stats"].values(), real["stats"].values(), strict=False
        ):
            if set(documented) != set(sent):
                errors.append(f"stats: documented {sorted(documented)}, sent {sorted(sent)}")
    for key in LISTED:
        if example.get(key) and real.get(key):
            if set(example[key][0]) != set(real[key][0]):
                errors.append(
                    f"{key}[0]: documented {sorted(example[key][0])}, sent {sorted(real[key][0])}"
                )
    return errors


async def test_server_examples_have_the_fields_the_server_sends(tmp_path: Path) -> None:
    received = await observe_live_messages(tmp_path)
    assert {m["type"] for m in received} == set(SERVER_TYPES), "not every type was observed"
    for example in examples("server"):
        documented = json.loads(example["json"])
        same_type = [m for m in received if m["type"] == documented["type"]]
        same_keys = [m for m in same_type if set(m) == set(documented)]
        assert same_keys, (
            f"documented {documented['type']} has fields {sorted(documented)}; the server sent "
            f"{sorted({tuple(sorted(m)) for m in same_type})}"
        )
        problems = [shape_errors(documented, m) for m in same_keys]
        assert min(problems, key=len) == [], f"{documented['type']}: {min(problems, key=len)}"
