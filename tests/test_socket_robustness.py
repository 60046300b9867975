"""One client never takes the server down.

Each test misbehaves on a raw socket the way a hostile or buggy client can, then
proves the server is alive and serving others, and that nothing was logged as an
unexpected failure. The first group reproduces a crash of the WebSocket layer this
server used before its own transport: a ping (or an oversized message) sent after the
server's close frame made the library send a pong in the closing state, and the
exception ended the whole process.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import trio

from protocol.messages import PROTOCOL_VERSION
from sync_server.client import SyncClient
from tests.conftest import ServerHandle, run_server
from tests.ws_raw import OP_PING, OP_TEXT, RawClient, masked_frame

WAIT_S = 10.0
MEDIA = {"url": "https://example.org/v.mp4", "title": "V", "duration_s": 600.0}


def hello(**fields: Any) -> dict[str, Any]:
    return {
        "type": "hello",
        "protocol": PROTOCOL_VERSION,
        "room": "room1",
        "display_name": "raw",
        "id": "h",
        **fields,
    }


def unexpected_failures(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """Records of errors the server did not expect (tracebacks or ERROR level)."""
    return [
        r
        for r in caplog.records
        if r.name.startswith(("sync_server", "protocol", "data"))
        and (r.levelno >= logging.ERROR or r.exc_info)
    ]


async def still_serves(srv: ServerHandle) -> None:
    """A new, well-behaved client joins and gets answers: the server is alive."""
    async with srv.client("room1", "witness") as client:
        state = await client.request({"type": "get_state"})
        assert state["type"] == "state"


async def until_server_hangs_up(raw: RawClient) -> None:
    """Read and ignore everything until the server closes the TCP connection: by then
    it has processed all this connection sent."""
    with trio.fail_after(WAIT_S):
        while await raw.next_event() is not None:
            pass


async def get_closed_by_server(raw: RawClient, trigger: str) -> int | None:
    """Make the server send its close frame; return the close code."""
    if trigger == "unsupported_protocol":
        await raw.send_json(hello(protocol=PROTOCOL_VERSION + 1))
    elif trigger == "leave":
        await raw.send_json(hello())
        await raw.send_json({"type": "leave", "id": "l"})
    # "hello_timeout": send nothing
    with trio.fail_after(WAIT_S):
        return await raw.close_code()


@pytest.mark.parametrize("after_close", ["ping", "oversized_message", "pings_and_messages"])
@pytest.mark.parametrize("trigger", ["unsupported_protocol", "leave", "hello_timeout"])
async def test_frames_after_the_servers_close_frame_are_ignored(
    db_path: Path, caplog: pytest.LogCaptureFixture, trigger: str, after_close: str
) -> None:
    expected = {"unsupported_protocol": 4005, "leave": 1000, "hello_timeout": 4010}[trigger]
    async with run_server(
        db_path, hello_timeout_s=0.5, slow_close_timeout_s=0.5, max_frame_bytes=4096
    ) as srv:
        await srv.server.create_room("room1", "Room one", media=MEDIA)
        raw = await RawClient.connect(srv.server.port)
        assert await get_closed_by_server(raw, trigger) == expected
        # Do not answer the close frame; send what the old transport choked on.
        if after_close in ("ping", "pings_and_messages"):
            await raw.send_frame(masked_frame(OP_PING, b"are you there"))
        if after_close in ("oversized_message", "pings_and_messages"):
            await raw.send_frame(masked_frame(OP_TEXT, b"x" * 10_000))
        if after_close == "pings_and_messages":
            for _ in range(50):
                await raw.send_frame(masked_frame(OP_PING, b"p"))
        await until_server_hangs_up(raw)
        await raw.aclose()
        await still_serves(srv)
    assert unexpected_failures(caplog) == []


async def test_oversized_message_closes_1009_and_ping_flood_after_is_ignored(
    db_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with run_server(db_path, max_frame_bytes=4096, slow_close_timeout_s=0.5) as srv:
        await srv.server.create_room("room1", "Room one", media=MEDIA)
        raw = await RawClient.connect(srv.server.port)
        await raw.send_json(hello())
        welcome = await raw.next_json()
        assert welcome["type"] == "welcome"
        await raw.send_frame(masked_frame(OP_TEXT, b"y" * 8000))
        for _ in range(20):
            await raw.send_frame(masked_frame(OP_PING, b"p"))
        with trio.fail_after(WAIT_S):
            assert await raw.close_code() == 1009
        await until_server_hangs_up(raw)
        await raw.aclose()
        await still_serves(srv)
    assert unexpected_failures(caplog) == []


@pytest.mark.parametrize(
    "garbage",
    [
        b"\x00\x01\x02",  # not a frame at all
        masked_frame(0x3, b"reserved opcode"),
        masked_frame(OP_TEXT, b"rsv bits", rsv=0x4),
        masked_frame(OP_TEXT, b"\xff\xfe not utf-8"),
        masked_frame(OP_PING, b"p" * 200),  # control frame over 125 bytes
        masked_frame(OP_PING, b"fragmented", fin=False),
    ],
    ids=["bytes", "opcode", "rsv", "utf8", "long_ping", "fragmented_ping"],
)
async def test_protocol_violations_close_the_connection_only(
    db_path: Path, caplog: pytest.LogCaptureFixture, garbage: bytes
) -> None:
    async with run_server(db_path, slow_close_timeout_s=0.5) as srv:
        await srv.server.create_room("room1", "Room one", media=MEDIA)
        async with srv.client("room1", "bystander") as bystander:
            raw = await RawClient.connect(srv.server.port)
            await raw.send_json(hello())
            assert (await raw.next_json())["type"] == "welcome"
            await raw.send_frame(garbage)
            with trio.fail_after(WAIT_S):
                code = await raw.close_code()
            assert code in (1002, 1007)
            await until_server_hangs_up(raw)
            await raw.aclose()
            state = await bystander.request({"type": "get_state"})
            assert state["type"] == "state"
    assert unexpected_failures(caplog) == []


@pytest.mark.parametrize("kind", [["ping"], {"a": 1}, 7, None, True])
async def test_a_type_that_is_not_a_string_is_unknown_type(
    db_path: Path, caplog: pytest.LogCaptureFixture, kind: Any
) -> None:
    async with run_server(db_path) as srv:
        await srv.server.create_room("room1", "Room one", media=MEDIA)
        raw = await RawClient.connect(srv.server.port)
        await raw.send_json({"type": kind, "id": 5})
        error = await raw.next_json()
        assert (error["type"], error["code"], error["request_id"]) == ("error", "unknown_type", 5)
        await raw.send_json({"type": "ping", "id": 6})
        assert (await raw.next_json())["type"] == "pong"
        await raw.aclose()
    assert unexpected_failures(caplog) == []


@pytest.mark.parametrize(
    ("encoding", "message_id"),
    # msgpack carries at most unsigned 64-bit integers; JSON any number of digits.
    [("msgpack", 2**63), ("msgpack", 2**64 - 1), ("json", 2**63), ("json", 10**30)],
)
@pytest.mark.parametrize("kind", ["chat_edit", "chat_delete"])
async def test_integers_beyond_64_bits_are_invalid_message(
    db_path: Path,
    caplog: pytest.LogCaptureFixture,
    encoding: str,
    kind: str,
    message_id: int,
) -> None:
    async with run_server(db_path) as srv:
        await srv.server.create_room("room1", "Room one", media=MEDIA)
        async with srv.client("room1", "alice", encoding=encoding) as client:
            body: dict[str, Any] = {"type": kind, "message_id": message_id}
            if kind == "chat_edit":
                body["text"] = "edited"
            error = await _error_of(client, body)
            assert error["code"] == "invalid_message"
            assert [d["field"] for d in error["details"]] == ["message_id"]
            state = await client.request({"type": "get_state"})
            assert state["type"] == "state"
    assert unexpected_failures(caplog) == []


async def _error_of(client: SyncClient, body: dict[str, Any]) -> dict[str, Any]:
    from sync_server.client import ServerError

    with pytest.raises(ServerError) as info:
        await client.request(body)
    return {"code": info.value.code, "details": info.value.details}


async def test_a_failing_connection_ends_alone_and_the_log_is_rate_limited(
    db_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Containment as a property: whatever a connection's own task raises (here an
    injected bug in the reader) closes that connection with 1011 and nothing else;
    of 15 such failures at most 10 tracebacks reach the log in a minute."""
    from sync_server import connection

    original = connection.Connection.reader
    failing = True

    async def reader(self: connection.Connection) -> None:
        if failing:
            raise RuntimeError("injected failure")
        await original(self)

    monkeypatch.setattr(connection.Connection, "reader", reader)
    async with run_server(db_path) as srv:
        await srv.server.create_room("room1", "Room one", media=MEDIA)
        for _ in range(15):
            raw = await RawClient.connect(srv.server.port)
            with trio.fail_after(WAIT_S):
                assert await raw.close_code() == 1011
            await raw.aclose()
        failing = False
        await still_serves(srv)
        assert srv.server.counters["failures_logged"] == 10
        assert srv.server.counters["failures_suppressed"] == 5
    logged = [r for r in caplog.records if r.exc_info and "closing 1011" in r.getMessage()]
    assert len(logged) == 10


async def test_sigterm_exits_0_while_connections_misbehave(tmp_path: Path) -> None:
    """The process stops cleanly (exit 0, no traceback) on SIGTERM while clients sit in
    every misbehaving state: closed but pinging, mid-handshake, silent."""
    import socket as pysocket

    with pysocket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = tmp_path / "serve.log"
    env = {**os.environ, "WATCHPARTY_LOG_LEVEL": "INFO"}
    with log.open("wb") as out:
        proc = await trio.lowlevel.open_process(
            [
                sys.executable,
                "-m",
                "sync_server",
                "serve-sync",
                "--db",
                str(tmp_path / "wp.db"),
                "--port",
                str(port),
                "--host",
                "127.0.0.1",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
        try:
            with trio.fail_after(20):
                while True:
                    try:
                        raw = await RawClient.connect(port)
                        break
                    except OSError:
                        await trio.sleep(0.05)  # the process is starting: no event to wait on
            await raw.send_json(hello(room="demo", protocol=PROTOCOL_VERSION + 1))
            assert await raw.close_code() == 4005
            await raw.send_frame(masked_frame(OP_PING, b"still here"))
            half = await trio.open_tcp_stream("127.0.0.1", port)
            await half.send_all(b"GET /ws HTTP/1.1\r\nHost: x\r\n")  # never finished
            silent = await RawClient.connect(port)
            proc.send_signal(signal.SIGTERM)
            with trio.fail_after(20):
                await proc.wait()
            await raw.aclose()
            await half.aclose()
            await silent.aclose()
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
    output = log.read_text()
    assert proc.returncode == 0, output
    assert "Traceback" not in output, output
