"""Fuzzing the sync socket with Hypothesis: every documented message with fields of
every shape, plus raw garbage, against one live server.

The server runs in a thread of its own (its own ``trio.run``) so that Hypothesis can
drive plain blocking sockets example by example. A well-behaved participant (the
room's host, a :class:`sync_server.client.SyncClient`) sits in the same room the
whole time. Asserted:

- every frame is answered: a sentinel ``ping`` after each batch gets its ``pong``,
  unless the server closed the connection with a documented close code;
- every ``error`` carries a documented code, never ``internal_error``;
- nothing is logged as an unexpected failure (no traceback, nothing at ERROR);
- the well-behaved participant stays connected, sees a gap-free sequence of room
  events and receives every chat message the fuzzer got stored.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgpack
import pytest
import trio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from wsproto import WSConnection
from wsproto.connection import ConnectionType
from wsproto.events import AcceptConnection, CloseConnection, Request
from wsproto.events import BytesMessage as WsBytes
from wsproto.events import TextMessage as WsText

from protocol import errors
from protocol.codec import SUBPROTOCOL_JSON, SUBPROTOCOL_MSGPACK
from protocol.messages import CLIENT_TYPES, PROTOCOL_VERSION
from sync_server.client import open_sync_client
from sync_server.server import serve_sync
from tests.conftest import make_config
from tests.ws_raw import OP_BINARY, OP_PING, OP_TEXT, masked_frame

ROOM = "fuzz"
#: Chat message ids the server acknowledged as stored to a fuzzer.
STORED: list[int] = []
DOCUMENTED_ERRORS = {getattr(errors, name) for name in dir(errors) if name.startswith("E_")} - {
    errors.E_INTERNAL
}
DOCUMENTED_CLOSES = {
    getattr(errors, name)
    for name in dir(errors)
    if name.startswith("CLOSE_") and isinstance(getattr(errors, name), int)
} - {errors.CLOSE_INTERNAL_ERROR}


class _Failures(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.ERROR or record.exc_info:
            self.records.append(record)


class LiveServer:
    """A sync server in its own thread, with a well-behaved host in room ``fuzz``."""

    def __init__(self, db_path: Path) -> None:
        self.db_path = db_path
        self.port = 0
        self.host: Any = None
        self.server: Any = None
        self._token: trio.lowlevel.TrioToken | None = None
        self._scope: trio.CancelScope | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.error: BaseException | None = None

    def _run(self) -> None:
        try:
            trio.run(self._main)
        except BaseException as exc:
            self.error = exc
            self._ready.set()

    async def _main(self) -> None:
        config = make_config(
            self.db_path,
            rate_limit_per_s=100_000.0,
            rate_limit_burst=100_000,
            time_sync_per_s=100_000.0,
            time_sync_burst=100_000,
            hello_timeout_s=30.0,
        )
        with trio.CancelScope() as scope:
            self._scope = scope
            self._token = trio.lowlevel.current_trio_token()
            async with trio.open_nursery() as nursery:
                self.server = await nursery.start(
                    lambda task_status: serve_sync(config, task_status=task_status)
                )
                self.port = self.server.port
                await self.server.create_room(
                    ROOM,
                    "Fuzz",
                    settings={"control": "everyone"},
                    media={"url": "https://example.org/v.mp4", "title": "V", "duration_s": 600},
                )
                async with open_sync_client(
                    f"ws://127.0.0.1:{self.port}/ws", room=ROOM, display_name="host"
                ) as host:
                    self.host = host
                    host.events = deque()  # keep every event: the test checks them all
                    self._ready.set()
                    await trio.sleep_forever()

    def __enter__(self) -> LiveServer:
        self._thread.start()
        self._ready.wait(30)
        if self.error is not None:
            raise self.error
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._token is not None and self._scope is not None:
            trio.from_thread.run_sync(self._scope.cancel, trio_token=self._token)
        self._thread.join(30)

    def call(self, fn: Any) -> Any:
        assert self._token is not None
        return trio.from_thread.run_sync(fn, trio_token=self._token)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    handler = _Failures()
    logging.getLogger().addHandler(handler)
    try:
        with LiveServer(tmp_path_factory.mktemp("fuzz") / "wp.db") as server:
            server.failures = handler  # type: ignore[attr-defined]
            yield server
    finally:
        logging.getLogger().removeHandler(handler)


# --- a blocking client --------------------------------------------------------------
class BlockingClient:
    def __init__(self, port: int, encoding: str) -> None:
        self.encoding = encoding
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=20)
        self.ws = WSConnection(ConnectionType.CLIENT)
        proto = SUBPROTOCOL_JSON if encoding == "json" else SUBPROTOCOL_MSGPACK
        self.sock.sendall(self.ws.send(Request(host="x", target="/ws", subprotocols=[proto])))
        self.close_code: int | None = None
        self._parts: list[Any] = []
        assert isinstance(self._next_event(), AcceptConnection)

    def _next_event(self) -> Any:
        while True:
            for event in self.ws.events():
                return event
            data = self.sock.recv(65536)
            if not data:
                return None
            self.ws.receive_data(data)

    def send_raw(self, frame: bytes) -> None:
        try:
            self.sock.sendall(frame)
        except OSError:
            pass  # closed by the server: the read side reports how

    def send(self, message: Any) -> None:
        if self.encoding == "json":
            self.send_raw(masked_frame(OP_TEXT, json.dumps(message).encode()))
        else:
            self.send_raw(masked_frame(OP_BINARY, msgpack.packb(message)))

    def receive(self) -> dict[str, Any] | None:
        """The next message; ``None`` once closed (:attr:`close_code` says how)."""
        while True:
            event = self._next_event()
            if event is None:
                return None
            if isinstance(event, CloseConnection):
                self.close_code = event.code
                return None
            if isinstance(event, (WsText, WsBytes)):
                self._parts.append(event.data)
                if not event.message_finished:
                    continue
                parts, self._parts = self._parts, []
                if isinstance(event, WsText):
                    return json.loads("".join(parts))
                return msgpack.unpackb(b"".join(parts))

    def close(self) -> None:
        self.sock.close()


# --- strategies ---------------------------------------------------------------------
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**64) + 1, max_value=2**64 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=40),
    st.sampled_from(["", "x" * 5000, "\u202e", "🎬", "room1", ROOM, "host", "everyone"]),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=8,
)
#: Plausible values by field name, so fuzzing reaches past validation into the room.
PLAUSIBLE: dict[str, st.SearchStrategy[Any]] = {
    "id": st.one_of(st.integers(-5, 10**6), st.text(max_size=8)),
    "position_s": st.floats(0, 700),
    "rate": st.floats(0.1, 4),
    "text": st.text(min_size=1, max_size=60),
    "message_id": st.integers(0, 400),
    "emoji": st.sampled_from(["👍", "😂", "x", ""]),
    "typing": st.booleans(),
    "buffering": st.booleans(),
    "participant_id": st.text(max_size=10),
    "role": st.sampled_from(["host", "cohost", "viewer", "moderator"]),
    "settings": st.fixed_dictionaries(
        {},
        optional={
            "control": st.sampled_from(["everyone", "host", "cohosts"]),
            "chat_enabled": st.booleans(),
            "wait_for_everyone": st.booleans(),
        },
    ),
    "media": st.fixed_dictionaries(
        {"url": st.sampled_from(["https://example.org/a.mp4", "/v.webm", "javascript:x"])},
        optional={"title": st.text(max_size=10), "duration_s": st.floats(0, 900)},
    ),
    "video_id": st.sampled_from(["0" * 32, "f" * 32, "nope"]),
    "server_time_ms": st.floats(0, 4e12),
    "client_send_ms": st.floats(-1e13, 4e12),
    "offset_ms": st.floats(-1e9, 1e9),
    "rtt_ms": st.floats(0, 1e6),
    "nonce": st.integers(-1, 10),
    "protocol": st.just(PROTOCOL_VERSION),
    "room": st.just(ROOM),
    "display_name": st.text(min_size=1, max_size=45),
    "last_seq": st.integers(0, 10**6),
}
FIELDS = sorted({name for cls in CLIENT_TYPES.values() for name in cls.model_fields} - {"type"})


@st.composite
def documented_messages(draw: st.DrawFn) -> dict[str, Any]:
    """A documented message type with a random subset of its own fields (and now and
    then another type's), each with a value of any shape."""
    kind = draw(st.sampled_from(sorted(CLIENT_TYPES)))
    own = sorted(set(CLIENT_TYPES[kind].model_fields) - {"type"})
    names = draw(st.lists(st.sampled_from(own or FIELDS), max_size=len(own) + 1, unique=True))
    if draw(st.booleans()):
        names.append(draw(st.sampled_from(FIELDS)))
    message: dict[str, Any] = {"type": kind}
    for name in names:
        plausible = PLAUSIBLE.get(name)
        if plausible is not None and draw(st.integers(0, 3)) > 0:
            message[name] = draw(plausible)
        else:
            message[name] = draw(values)
    if kind == "hello" and draw(st.booleans()):
        message.update(protocol=PROTOCOL_VERSION, room=ROOM)
    return message


documented = documented_messages().map(lambda m: ("message", m))
frames = st.one_of(
    documented,
    documented,
    documented,
    documented,
    values.map(lambda v: ("message", v)),
    st.fixed_dictionaries({"type": values}, optional={"id": values}).map(lambda m: ("message", m)),
    st.binary(max_size=64).map(lambda b: ("binary", b)),
    st.text(max_size=64).map(lambda t: ("text", t)),
)


@settings(
    max_examples=400,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(encoding=st.sampled_from(["json", "msgpack"]), batch=st.lists(frames, max_size=12))
def test_fuzzed_frames_get_documented_answers(
    live: LiveServer, encoding: str, batch: list[tuple[str, Any]]
) -> None:
    client = BlockingClient(live.port, encoding)
    try:
        client.send(
            {
                "type": "hello",
                "protocol": PROTOCOL_VERSION,
                "room": ROOM,
                "display_name": "fuzzer",
                "id": "h",
            }
        )
        welcome = client.receive()
        assert welcome is not None
        assert welcome["type"] == "welcome", welcome
        for kind, payload in batch:
            if kind == "message":
                try:
                    client.send(payload)
                except (TypeError, ValueError, OverflowError):
                    continue  # not encodable in this encoding: nothing to send
            elif kind == "binary":
                client.send_raw(masked_frame(OP_BINARY, payload))
            else:
                client.send_raw(masked_frame(OP_TEXT, payload.encode("utf-8", "surrogatepass")))
        client.send_raw(masked_frame(OP_PING, b"transport ping"))
        client.send({"type": "ping", "id": "sentinel"})
        while True:
            message = client.receive()
            if message is None:
                assert client.close_code in DOCUMENTED_CLOSES, client.close_code
                break
            if message.get("type") == "error":
                assert message["code"] in DOCUMENTED_ERRORS, message
            if message.get("type") == "ack" and isinstance(message.get("message_id"), int):
                STORED.append(message["message_id"])
            if message.get("type") == "pong" and message.get("request_id") == "sentinel":
                break
    finally:
        client.close()
    assert live.failures.records == []  # type: ignore[attr-defined]


def test_the_well_behaved_host_was_served_throughout(live: LiveServer) -> None:
    """Runs after the fuzzing (same module, same server): the host is still there,
    its room events have no gap, and a chat message from it reaches it back."""
    host = live.host
    assert host.close_code is None

    async def chat_round_trip() -> int:
        return int(await host.chat("still here"))

    message_id = trio.from_thread.run(chat_round_trip, trio_token=live._token)
    events = list(host.events)
    received_chat = {m["message"]["id"] for m in events if m.get("type") == "chat_message"}
    assert message_id in received_chat
    assert set(STORED) <= received_chat
    seqs = [
        m["seq"]
        for m in events
        if isinstance(m.get("seq"), int) and m.get("type") not in ("welcome", "state", "ack")
    ]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))  # no gap, no reorder
    assert live.server.counters["resyncs"] == 0
    assert live.failures.records == []  # type: ignore[attr-defined]
