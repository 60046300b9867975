"""The fan-out load generator speaking Syncplay's protocol: JSON lines over TCP.

``python -m bench.loadgen --protocol syncplay ...`` runs it; it keeps everything of
:class:`bench.loadgen.LoadGen` (one process, one thread, ``epoll``, the same rooms,
senders, steps, drain and figures) and replaces the wire protocol, as Syncplay 1.6.9
speaks it (``syncplay/protocols.py`` of Debian's ``syncplay-common``):

* every message is one JSON object per line, ``\\r\\n``-terminated (Twisted's
  ``LineReceiver``), whose keys are commands: ``Hello``, ``Set``, ``List``, ``State``,
  ``Chat``, ``Error``, ``TLS``;
* a client says ``{"Hello": {"username", "room": {"name"}, "version",
  "realversion", "features"}}`` and the server answers ``Hello`` (the join);
* the server sends every member a ``State`` once a second and drops a member whose
  last ``State`` is over 12.5 s old, so each client answers every ``State`` as a
  paused player at 0 s would (:func:`state_reply`);
* ``{"Chat": "text"}`` is broadcast to every member of the sender's room, the sender
  included, as ``{"Chat": {"message": "text", "username": ...}}``.

A delivery is a ``Chat`` received by a member; its text is the same timed text as on
watchparty's side (:func:`bench.loadgen.chat_text`), so latency is receive time minus
send time on one clock. Syncplay acknowledges nothing: every chat message written is
expected at every member of the room at the step's start (lost = expected −
received). Syncplay has no seek event that is a plain broadcast, so its runs are chat
only (``--playback-every 0``).
"""

from __future__ import annotations

import json
import socket
import time
from typing import Any

from bench.loadgen import EPOLLIN, TS_WRAP_S, Conn, LoadGen, chat_text, sent_time

#: The version a Syncplay 1.6.9 client announces (``realversion``; ``version`` is
#: 1.2.255 for servers older than 1.3). At or above the server's 1.6.8, it gets no
#: upgrade notice in its MOTD; at or above 1.5.0 it is sent chat.
CLIENT_VERSION = "1.6.9"
#: The feature list a Syncplay 1.6.9 client sends in its ``Hello``.
CLIENT_FEATURES = {
    "sharedPlaylists": True,
    "chat": True,
    "featureList": True,
    "readiness": True,
    "managedRooms": True,
}

_dumps = json.JSONEncoder(ensure_ascii=False, separators=(", ", ": ")).encode


def encode(message: dict[str, Any]) -> bytes:
    """One protocol line: *message* as JSON, UTF-8, ``\\r\\n``-terminated."""
    return _dumps(message).encode() + b"\r\n"


def split_lines(buf: bytes) -> tuple[list[bytes], bytes]:
    """Complete lines of *buf* (without their terminator) and the incomplete rest.

    Splits on ``\\n``; a ``\\r`` left at a line's end is JSON whitespace."""
    *lines, rest = buf.split(b"\n")
    return [line for line in lines if line.strip()], rest


def hello(username: str, room: str) -> dict[str, Any]:
    """A client's ``Hello``: join *room* (created by its first member) as *username*
    (the server appends ``_`` to a name already present)."""
    return {
        "Hello": {
            "username": username,
            "room": {"name": room},
            "version": "1.2.255",
            "realversion": CLIENT_VERSION,
            "features": CLIENT_FEATURES,
        }
    }


def chat(text: str) -> dict[str, Any]:
    """A chat message for the sender's room (the server truncates it to its
    ``--max-chat-message-length``, 150 characters by default)."""
    return {"Chat": text}


def state_reply(state: dict[str, Any], now_s: float) -> dict[str, Any]:
    """A paused player's answer at position 0 s to the server's ``State`` *state*.

    What ``SyncClientProtocol.handleState`` then ``sendState`` send for a player that
    never changes: its play state, the server's ``latencyCalculation`` echoed, its own
    time *now_s* (wall-clock seconds, as the client's ``time.time()``) and, when the
    server announced forced updates (``ignoringOnTheFly.server``), that count echoed,
    which ends the server's wait for the client to catch up. Without the echo the
    server would ignore the client's states and drop it after 12.5 s.
    """
    ping_in = state.get("ping") or {}
    ping: dict[str, Any] = {"clientLatencyCalculation": now_s, "clientRtt": 0}
    if ping_in.get("latencyCalculation"):
        ping["latencyCalculation"] = ping_in["latencyCalculation"]
    reply: dict[str, Any] = {"playstate": {"position": 0, "paused": True}, "ping": ping}
    server_ignoring = (state.get("ignoringOnTheFly") or {}).get("server")
    if server_ignoring:
        reply["ignoringOnTheFly"] = {"server": server_ignoring}
    return {"State": reply}


class SyncplayLoadGen(LoadGen):
    """:class:`LoadGen` over Syncplay's protocol (see the module docstring)."""

    def on_connected(self, c: Conn) -> None:
        assert c.sock is not None
        err = c.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if err:
            self.fail(c, -err)
            return
        c.state = "open"
        self.ep.modify(c.fd, EPOLLIN)
        self.send(c, encode(hello(f"u{c.index}", self.room_code(c.room))))

    def send_msg(self, c: Conn, msg: dict[str, Any]) -> None:
        self.send(c, encode(msg))

    def on_data(self, c: Conn, data: bytes) -> None:
        lines, c.rbuf = split_lines(c.rbuf + data if c.rbuf else data)
        for line in lines:
            msg = json.loads(line)
            if not isinstance(msg, dict):
                self.other_msgs += 1
                continue
            for command, body in msg.items():
                self.on_command(c, command, body)

    def on_command(self, c: Conn, command: str, body: Any) -> None:
        if command == "Chat":
            c.received += 1
            if self.counting:
                now = time.monotonic()
                try:
                    sent = sent_time(str(body.get("message", "")))
                except ValueError:
                    self.other_msgs += 1
                    return
                c.chat_received += 1
                self.lat.append(((now % TS_WRAP_S) - sent) * 1000.0)
                self.lat_t.append(now)
                self.deliveries += 1
        elif command == "State":
            self.pings += 1
            self.send_msg(c, state_reply(body, time.time()))
        elif command == "Hello":
            c.joined = True
            c.welcome_ms = (time.monotonic() - c.connect_t) * 1000.0
        elif command == "Error":
            code = str(body.get("message", ""))[:60]
            self.errors[code] = self.errors.get(code, 0) + 1
        else:
            self.other_msgs += 1

    def send_timed(self, c: Conn, ts: float, n: int) -> None:
        self.send_msg(c, chat(chat_text(ts, c.index, n)))
        # No acknowledgement in Syncplay's protocol: every message written counts as
        # accepted, so it is expected at every member.
        self.acked_per_room[c.room] += 1

    def close_all(self) -> None:
        for c in self.conns:
            if c.sock is not None and not c.closed:
                c.sock.close()
                c.closed = True
