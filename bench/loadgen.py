"""Fan-out load generator: N WebSocket clients in R rooms, in one process, one thread.

It is deliberately not built on trio-websocket: to keep the generator from being the
bottleneck on the one core it gets, it drives non-blocking sockets from a single
``epoll`` loop and frames WebSocket messages itself (RFC 6455: client frames carry a
mask; the all-zero masking key is used, which is valid and costs no XOR).

Every client speaks the sync protocol's msgpack subprotocol (``--encoding json``: its
JSON one): handshake, ``hello``
(the first client of a room creates it with ``control: everyone`` and a media), then
``pong`` for every heartbeat ``ping``. Senders (``ceil(rate / 10)`` per room, so each
stays under the server's 20 msgs/s rate limit) send at fixed intervals:

* ``chat_send`` whose text carries the CLOCK_MONOTONIC send time, and
* every ``--playback-every``-th message a ``seek`` whose ``position_s`` *is* that time
  (rooms are paused, so the server echoes it unchanged in the ``playback`` event).

Every received ``chat_message`` / ``playback`` is a delivery; its latency is receive
time minus the time in its payload (same clock, same process). Losses are deliveries
expected (messages the server acknowledged × room members) minus deliveries received.

``--protocol syncplay`` drives a Syncplay server instead, over its JSON-lines protocol
(bench/syncplay_loadgen.py), with the same rooms, senders, steps and figures.

Output: JSON lines on stdout (``{"event": "step_start", ...}``, ``step_end`` with
the step's figures, ``done``); progress on stderr. Every phase has a time limit and
the process stops by itself.

Example (by hand; bench.fanout normally runs it)::

    python -m bench.loadgen --port 8765 --rooms 100 --room-size 10 --rates 10 --duration 20
"""

from __future__ import annotations

import argparse
import base64
import errno
import heapq
import json
import math
import os
import resource
import select
import socket
import sys
import time
from array import array
from typing import Any

import msgpack

SUBPROTOCOLS = {"msgpack": "watchparty.v1.msgpack", "json": "watchparty.v1.json"}
EPOLLIN, EPOLLOUT = select.EPOLLIN, select.EPOLLOUT
MASK = b"\x00\x00\x00\x00"
TS_WRAP_S = 1_000_000.0  # positions must stay under 10,000,000 s

_packb = msgpack.Packer(use_bin_type=True).pack
_unpackb = msgpack.unpackb
_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def chat_text(ts: float, index: int, n: int) -> str:
    """The text of a timed chat message: its send time *ts* (CLOCK_MONOTONIC modulo
    :data:`TS_WRAP_S`, seconds), the sending connection's index and its message count."""
    return f"t{ts!r}|{index}:{n}"


def sent_time(text: str) -> float:
    """The send time carried by a :func:`chat_text`, seconds. Raises ValueError if the
    text is not one."""
    if not text.startswith("t"):
        raise ValueError(f"not a timed chat text: {text[:40]!r}")
    return float(text[1 : text.index("|")])


def ws_frame(payload: bytes, opcode: int = 0x2) -> bytes:
    n = len(payload)
    if n < 126:
        head = bytes((0x80 | opcode, 0x80 | n))
    elif n < 65536:
        head = bytes((0x80 | opcode, 0xFE)) + n.to_bytes(2, "big")
    else:
        head = bytes((0x80 | opcode, 0xFF)) + n.to_bytes(8, "big")
    return head + MASK + payload


class Conn:
    __slots__ = (
        "chat_received",
        "chat_recovered",
        "close_code",
        "closed",
        "connect_t",
        "fd",
        "hs_buf",
        "index",
        "joined",
        "last_chat_id",
        "last_pb_seq",
        "pb_received",
        "rbuf",
        "received",
        "resynced",
        "room",
        "sock",
        "state",
        "wbuf",
        "welcome_ms",
    )

    def __init__(self, index: int, room: int) -> None:
        self.index = index
        self.room = room
        self.sock: socket.socket | None = None
        self.fd = -1
        self.state = "new"  # new, connecting, handshake, open, closed
        self.hs_buf = b""
        self.rbuf = b""
        self.wbuf = b""
        self.joined = False
        self.closed = False
        self.close_code: int | None = None
        self.received = 0
        # Per step: chat / playback events received live, chat recovered from a
        # resync's recent chat, and whether a resync ``state`` arrived.
        self.chat_received = 0
        self.pb_received = 0
        self.chat_recovered = 0
        self.resynced = False
        self.last_chat_id = 0
        self.last_pb_seq = 0
        self.welcome_ms = 0.0
        self.connect_t = 0.0


class LoadGen:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.ep = select.epoll()
        self.by_fd: dict[int, Conn] = {}
        self.conns: list[Conn] = []
        self.host_header = f"127.0.0.1:{args.port}"
        # Measurement state (per step).
        self.lat = array("d")
        self.lat_t = array("d")
        self.counting = False
        self.deliveries = 0
        self.other_msgs = 0
        self.acked_per_room: list[int] = []
        self.acked_seeks_per_room: list[int] = []
        self.seek_ids: set[int] = set()
        self.resyncs = 0
        self.sent_per_room: list[int] = []
        self.errors: dict[str, int] = {}
        self.closes: dict[int, int] = {}
        self.pings = 0
        self.bytes_in = 0
        self.next_id = 1

    # --- low level --------------------------------------------------------------------
    def log(self, text: str) -> None:
        print(f"[loadgen {time.monotonic():.1f}] {text}", file=sys.stderr, flush=True)

    def out(self, **fields: Any) -> None:
        print(json.dumps(fields), flush=True)

    def send(self, c: Conn, data: bytes) -> None:
        if c.closed or c.sock is None:
            return
        if c.wbuf:
            c.wbuf += data
            return
        try:
            n = c.sock.send(data)
        except BlockingIOError:
            n = 0
        except OSError:
            self.fail(c, None)
            return
        if n < len(data):
            c.wbuf = data[n:]
            self.ep.modify(c.fd, EPOLLIN | EPOLLOUT)

    def send_msg(self, c: Conn, msg: dict[str, Any]) -> None:
        if self.args.encoding == "json":
            self.send(c, ws_frame(_dumps(msg).encode(), 0x1))
        else:
            self.send(c, ws_frame(_packb(msg)))

    def flush(self, c: Conn) -> None:
        try:
            n = c.sock.send(c.wbuf)  # type: ignore[union-attr]
        except BlockingIOError:
            return
        except OSError:
            self.fail(c, None)
            return
        c.wbuf = c.wbuf[n:]
        if not c.wbuf:
            self.ep.modify(c.fd, EPOLLIN)

    def fail(self, c: Conn, code: int | None) -> None:
        if c.closed:
            return
        c.closed = True
        c.close_code = code
        c.state = "closed"
        self.closes[code or 0] = self.closes.get(code or 0, 0) + 1
        if c.sock is not None:
            try:
                self.ep.unregister(c.fd)
            except OSError:
                pass
            c.sock.close()
            self.by_fd.pop(c.fd, None)

    # --- connecting -------------------------------------------------------------------
    def start_connect(self, c: Conn) -> None:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        err = s.connect_ex(("127.0.0.1", self.args.port))
        if err not in (0, errno.EINPROGRESS):
            s.close()
            self.fail(c, -err)
            return
        c.sock, c.fd, c.state = s, s.fileno(), "connecting"
        c.connect_t = time.monotonic()
        self.by_fd[c.fd] = c
        self.ep.register(c.fd, EPOLLOUT)

    def on_connected(self, c: Conn) -> None:
        err = c.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)  # type: ignore[union-attr]
        if err:
            self.fail(c, -err)
            return
        key = base64.b64encode(os.urandom(16)).decode()
        req = (
            f"GET /ws HTTP/1.1\r\nHost: {self.host_header}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            f"Sec-WebSocket-Protocol: {SUBPROTOCOLS[self.args.encoding]}\r\n\r\n"
        ).encode()
        c.state = "handshake"
        self.ep.modify(c.fd, EPOLLIN)
        self.send(c, req)

    def on_handshake_data(self, c: Conn, data: bytes) -> None:
        c.hs_buf += data
        end = c.hs_buf.find(b"\r\n\r\n")
        if end < 0:
            return
        head, rest = c.hs_buf[:end], c.hs_buf[end + 4 :]
        c.hs_buf = b""
        if not head.startswith(b"HTTP/1.1 101"):
            self.log(f"handshake refused: {head[:80]!r}")
            self.fail(c, -101)
            return
        c.state = "open"
        creator = c.index % self.args.room_size == 0
        hello: dict[str, Any] = {
            "type": "hello",
            "id": 0,
            "protocol": 1,
            "room": self.room_code(c.room),
            "display_name": f"u{c.index}",
        }
        if creator:
            hello["create"] = {
                "name": f"bench room {c.room}",
                "settings": {"control": "everyone"},
                "media": {"url": "https://example.org/bench.mp4", "title": "bench"},
            }
        self.send_msg(c, hello)
        if rest:
            self.on_data(c, rest)

    def room_code(self, room: int) -> str:
        return f"bench{room:05d}"

    # --- receiving ----------------------------------------------------------------------
    def on_data(self, c: Conn, data: bytes) -> None:
        """Bytes from an open connection: WebSocket frames."""
        buf = c.rbuf + data if c.rbuf else data
        pos = 0
        end = len(buf)
        while end - pos >= 2:
            b0 = buf[pos]
            ln = buf[pos + 1] & 0x7F
            hdr = 2
            if ln == 126:
                if end - pos < 4:
                    break
                ln = int.from_bytes(buf[pos + 2 : pos + 4], "big")
                hdr = 4
            elif ln == 127:
                if end - pos < 10:
                    break
                ln = int.from_bytes(buf[pos + 2 : pos + 10], "big")
                hdr = 10
            if end - pos < hdr + ln:
                break
            payload = buf[pos + hdr : pos + hdr + ln]
            pos += hdr + ln
            opcode = b0 & 0x0F
            if opcode == 0x2:
                self.on_message(c, _unpackb(payload))
            elif opcode == 0x1:
                self.on_message(c, json.loads(payload))
            elif opcode == 0x8:
                code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005
                self.fail(c, code)
                return
            elif opcode == 0x9:
                self.send(c, ws_frame(payload, 0xA))
        c.rbuf = buf[pos:] if pos < end else b""

    def on_message(self, c: Conn, msg: dict[str, Any]) -> None:
        kind = msg.get("type")
        if kind == "chat_message":
            now = time.monotonic()
            c.received += 1
            mid = msg["message"].get("id") or 0
            if mid > c.last_chat_id:
                c.last_chat_id = mid
            if self.counting:
                c.chat_received += 1
                sent = sent_time(msg["message"]["text"])
                self.lat.append(((now % TS_WRAP_S) - sent) * 1000.0)
                self.lat_t.append(now)
                self.deliveries += 1
        elif kind == "playback":
            now = time.monotonic()
            c.received += 1
            c.last_pb_seq = max(c.last_pb_seq, int(msg.get("seq") or 0))
            if self.counting:
                c.pb_received += 1
                sent = float(msg["state"]["position_s"])
                self.lat.append(((now % TS_WRAP_S) - sent) * 1000.0)
                self.lat_t.append(now)
                self.deliveries += 1
        elif kind == "ping":
            self.pings += 1
            self.send_msg(c, {"type": "pong", "nonce": msg.get("nonce")})
        elif kind == "ack":
            rid = msg.get("request_id")
            if rid:
                self.acked_per_room[c.room] += 1
                if rid in self.seek_ids:
                    self.seek_ids.discard(rid)
                    self.acked_seeks_per_room[c.room] += 1
        elif kind == "welcome":
            c.joined = True
            c.welcome_ms = (time.monotonic() - c.connect_t) * 1000.0
        elif kind == "state" and msg.get("resync"):
            # The server dropped this client's queued events and sent the whole room
            # instead (its send queue was full while the client kept reading). The
            # playback state in it supersedes any dropped seek; its recent chat
            # carries dropped chat messages, which count as recovered, not lost.
            if self.counting:
                self.resyncs += 1
                c.resynced = True
            for m in msg.get("chat") or ():
                mid = m.get("id") or 0
                if mid > c.last_chat_id:
                    c.last_chat_id = mid
                    if self.counting and str(m.get("text", "")).startswith("t"):
                        c.chat_recovered += 1
        elif kind == "error":
            code = str(msg.get("code"))
            self.errors[code] = self.errors.get(code, 0) + 1
        else:
            self.other_msgs += 1

    # --- the loop -----------------------------------------------------------------------
    def poll(self, timeout_s: float) -> None:
        for fd, ev in self.ep.poll(timeout_s, 1024):
            c = self.by_fd.get(fd)
            if c is None:
                continue
            if c.state == "connecting":
                self.on_connected(c)
                continue
            if ev & EPOLLOUT and c.wbuf:
                self.flush(c)
            if ev & (EPOLLIN | select.EPOLLHUP | select.EPOLLERR):
                try:
                    data = c.sock.recv(262144)  # type: ignore[union-attr]
                except BlockingIOError:
                    continue
                except OSError:
                    self.fail(c, -1)
                    continue
                if not data:
                    self.fail(c, c.close_code or -2)
                    continue
                self.bytes_in += len(data)
                if c.state == "handshake":
                    self.on_handshake_data(c, data)
                else:
                    self.on_data(c, data)

    def connect_all(self) -> None:
        a = self.args
        n = a.rooms * a.room_size
        self.conns = [Conn(i, i // a.room_size) for i in range(n)]
        self.acked_per_room = [0] * a.rooms
        self.acked_seeks_per_room = [0] * a.rooms
        self.sent_per_room = [0] * a.rooms
        deadline = time.monotonic() + a.connect_timeout_s
        t0 = time.monotonic()
        # Creators first (each room must exist before its members say hello), then
        # the others; at most --inflight handshakes at a time.
        for group in (
            [c for c in self.conns if c.index % a.room_size == 0],
            [c for c in self.conns if c.index % a.room_size != 0],
        ):
            todo = list(reversed(group))
            pending: list[Conn] = []
            last_log = time.monotonic()
            started = 0
            g0 = time.monotonic()
            while (todo or pending) and time.monotonic() < deadline:
                while (
                    todo
                    and len(pending) < a.inflight
                    and (not a.join_rate or started < (time.monotonic() - g0) * a.join_rate + 1)
                ):
                    c = todo.pop()
                    self.start_connect(c)
                    pending.append(c)
                    started += 1
                self.poll(0.01)
                pending = [c for c in pending if not (c.joined or c.closed)]
                if time.monotonic() - last_log > 5:
                    last_log = time.monotonic()
                    joined = sum(1 for c in self.conns if c.joined)
                    self.log(f"connecting: {joined}/{n} joined")
        joined = sum(1 for c in self.conns if c.joined)
        welcome = sorted(c.welcome_ms for c in self.conns if c.joined)
        self.out(
            event="connected",
            connections=n,
            joined=joined,
            failed=sum(1 for c in self.conns if c.closed),
            seconds=round(time.monotonic() - t0, 2),
            welcome_p50_ms=welcome[len(welcome) // 2] if welcome else None,
            welcome_max_ms=welcome[-1] if welcome else None,
            closes=self.closes,
        )

    def hold(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.poll(min(0.05, max(0.0, end - time.monotonic())))

    def run_step(self, rate_per_room: float) -> None:
        a = self.args
        senders_per_room = max(1, math.ceil(rate_per_room / a.max_sender_rate))
        period = senders_per_room / rate_per_room
        heap: list[tuple[float, int, int]] = []  # (due, conn index, message counter)
        t0 = time.monotonic() + 0.5
        for room in range(a.rooms):
            members = [
                c
                for c in self.conns[room * a.room_size : (room + 1) * a.room_size]
                if c.joined and not c.closed
            ]
            for k, c in enumerate(members[:senders_per_room]):
                # Spread the senders over the period so the load is smooth.
                phase = ((room * senders_per_room + k) * 0.6180339887) % 1.0
                heap.append((t0 + phase * period, c.index, 0))
        heapq.heapify(heap)
        self.lat = array("d")
        self.lat_t = array("d")
        self.deliveries = 0
        self.other_msgs = 0
        self.errors = {}
        self.closes = {}
        self.resyncs = 0
        acked0 = list(self.acked_per_room)
        seeks0 = list(self.acked_seeks_per_room)
        sent0 = list(self.sent_per_room)
        for c in self.conns:
            c.received = 0
            c.chat_received = c.pb_received = c.chat_recovered = 0
            c.resynced = False
        members0 = [c for c in self.conns if c.joined and not c.closed]
        members_at_start = [
            sum(
                1
                for c in self.conns[r * a.room_size : (r + 1) * a.room_size]
                if c.joined and not c.closed
            )
            for r in range(a.rooms)
        ]
        cpu0 = _cpu()
        self.counting = True
        start = time.monotonic()
        end_send = t0 + a.duration
        self.out(
            event="step_start",
            rate_per_room=rate_per_room,
            senders_per_room=senders_per_room,
            t=start,
        )
        late_sends = 0
        sent = 0
        last_log = start
        while True:
            now = time.monotonic()
            if now >= end_send:
                break
            while heap and heap[0][0] <= now:
                due, idx, n = heapq.heappop(heap)
                c = self.conns[idx]
                if c.closed:
                    continue
                if now - due > 0.1:
                    late_sends += 1
                self.send_timed(c, now % TS_WRAP_S, n)
                self.sent_per_room[c.room] += 1
                sent += 1
                nxt = due + period
                if nxt < now - 1.0:  # fell behind by over a second: do not burst
                    nxt = now + period
                heapq.heappush(heap, (nxt, idx, n + 1))
            timeout = max(0.0, min(0.005, (heap[0][0] - time.monotonic()) if heap else 0.005))
            self.poll(timeout)
            if now - last_log > 5:
                last_log = now
                self.log(f"rate {rate_per_room}/room: sent {sent}, deliveries {self.deliveries}")
        send_end = time.monotonic()
        # Drain: wait until every expected delivery arrived, or the drain limit.
        drain_end = send_end + a.drain_s
        expected = 0
        while time.monotonic() < drain_end:
            acked = [self.acked_per_room[r] - acked0[r] for r in range(a.rooms)]
            expected = sum(acked[r] * members_at_start[r] for r in range(a.rooms))
            covered = self._covered(members0, acked0, seeks0)[2]
            unanswered = sum(self.sent_per_room) - sum(sent0) - sum(acked)
            if self.deliveries + covered >= expected and unanswered <= sum(self.errors.values()):
                break
            self.poll(0.01)
        self.counting = False
        cpu1 = _cpu()
        acked = [self.acked_per_room[r] - acked0[r] for r in range(a.rooms)]
        expected = sum(acked[r] * members_at_start[r] for r in range(a.rooms))
        lost, recovered, _ = self._covered(members0, acked0, seeks0)
        superseded = self._covered(members0, acked0, seeks0, superseded=True) - self._coalesced(
            members0, seeks0
        )
        # Throughput over the sending window only, skipping the first second.
        win_lo, win_hi = t0 + 1.0, send_end
        in_win = sum(1 for t in self.lat_t if win_lo <= t < win_hi)
        lat_sorted = sorted(self.lat)
        # Worst latency per second of the step, to tell a stall from a steady queue.
        worst: dict[int, float] = {}
        for t, v in zip(self.lat_t, self.lat, strict=True):
            k = int(t - start)
            if v > worst.get(k, -1.0):
                worst[k] = v
        self.out(
            event="step_end",
            rate_per_room=rate_per_room,
            rooms=a.rooms,
            room_size=a.room_size,
            senders_per_room=senders_per_room,
            offered_msgs_per_s=rate_per_room * a.rooms,
            offered_deliveries_per_s=rate_per_room * sum(members_at_start),
            sent=sum(self.sent_per_room) - sum(sent0),
            acked=sum(acked),
            errors=self.errors,
            expected_deliveries=expected,
            deliveries=self.deliveries,
            # Per member at the step's start: acked chat not received live nor in a
            # resync's recent chat, plus acked seeks not received when no resync
            # came. Seeks missing on a resynced member are superseded by its state.
            lost=lost,
            seeks_coalesced=self._coalesced(members0, seeks0),
            lost_if_resync_ignored=max(0, expected - self.deliveries),
            resyncs=self.resyncs,
            resynced_members=sum(1 for c in members0 if c.resynced),
            chat_recovered_by_resync=recovered,
            seeks_superseded_by_resync=superseded,
            deliveries_per_s=in_win / max(1e-9, win_hi - win_lo),
            latency_ms={
                "p50": _pct(lat_sorted, 50),
                "p99": _pct(lat_sorted, 99),
                "max": lat_sorted[-1] if lat_sorted else None,
            },
            late_sends=late_sends,
            closes=self.closes,
            open_connections=sum(1 for c in self.conns if not c.closed),
            loadgen_cpu_cores=(cpu1 - cpu0) / max(1e-9, time.monotonic() - start),
            window=[start, send_end, time.monotonic()],
            other_msgs=self.other_msgs,
            worst_latency_per_s=[
                round(worst.get(k, 0.0), 1) for k in range(max(worst, default=-1) + 1)
            ],
        )

    def send_timed(self, c: Conn, ts: float, n: int) -> None:
        """Send connection *c*'s *n*-th timed message, stamped with *ts* (s): a seek
        every ``--playback-every``-th message, otherwise chat."""
        a = self.args
        self.next_id += 1
        if a.playback_every and n % a.playback_every == a.playback_every - 1:
            msg = {"type": "seek", "id": self.next_id, "position_s": ts}
            self.seek_ids.add(self.next_id)
        else:
            msg = {"type": "chat_send", "id": self.next_id, "text": chat_text(ts, c.index, n)}
        self.send_msg(c, msg)

    def _newest_pb(self, members):
        newest: dict[int, int] = {}
        for c in members:
            if c.last_pb_seq > newest.get(c.room, 0):
                newest[c.room] = c.last_pb_seq
        return newest

    def _coalesced(self, members, seeks0):
        """Seeks missing on members that hold their room's newest playback event: the
        server coalesces ``playback`` events in a send queue (PROTOCOL.md), so a
        member that was behind gets only the newest one. Not a loss."""
        newest = self._newest_pb(members)
        n = 0
        for c in members:
            seeks = self.acked_seeks_per_room[c.room] - seeks0[c.room]
            if not c.resynced and c.last_pb_seq and c.last_pb_seq == newest.get(c.room):
                n += max(0, seeks - c.pb_received)
        return n

    def _covered(self, members, acked0, seeks0, superseded=False):
        """(lost, chat recovered by resync, recovered + superseded) over ``members``;
        with ``superseded``, the number of seeks missing on resynced members."""
        lost = rec = sup = 0
        newest = self._newest_pb(members)
        for c in members:
            r = c.room
            seeks = self.acked_seeks_per_room[r] - seeks0[r]
            chats = self.acked_per_room[r] - acked0[r] - seeks
            miss_chat = max(0, chats - c.chat_received - c.chat_recovered)
            miss_pb = max(0, seeks - c.pb_received)
            rec += min(c.chat_recovered, max(0, chats - c.chat_received))
            if c.resynced:
                sup += miss_pb
                lost += miss_chat
            elif c.last_pb_seq and c.last_pb_seq == newest.get(r):
                sup += miss_pb  # coalesced: it holds the newest playback event
                lost += miss_chat
            else:
                lost += miss_chat + miss_pb
        if superseded:
            return sup
        return lost, rec, rec + sup

    def close_all(self) -> None:
        for c in self.conns:
            if not c.closed and c.state == "open":
                try:
                    c.sock.send(ws_frame(b"\x03\xe8", 0x8))  # type: ignore[union-attr]
                except OSError:
                    pass
        self.hold(0.5)
        for c in self.conns:
            if c.sock is not None and not c.closed:
                c.sock.close()


def _cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    pos = (len(values) - 1) * q / 100.0
    lo = int(pos)
    hi = min(lo + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (pos - lo)


def main() -> None:
    p = argparse.ArgumentParser(
        prog="python -m bench.loadgen", description=__doc__.split("\n\n")[0]
    )
    p.add_argument("--port", type=int, required=True, help="server port on 127.0.0.1")
    p.add_argument(
        "--protocol",
        choices=("watchparty", "syncplay"),
        default="watchparty",
        help="the server's protocol: watchparty's over WebSocket, or Syncplay's JSON lines "
        "over TCP (bench/syncplay_loadgen.py)",
    )
    p.add_argument(
        "--encoding",
        choices=sorted(SUBPROTOCOLS),
        default="msgpack",
        help="watchparty's encoding (WebSocket subprotocol)",
    )
    p.add_argument("--rooms", type=int, required=True)
    p.add_argument("--room-size", type=int, required=True)
    p.add_argument(
        "--rates", default="0", help="comma-separated messages/s per room, one step each; 0: idle"
    )
    p.add_argument("--duration", type=float, default=20.0, help="seconds of sending per step")
    p.add_argument(
        "--idle-s", type=float, default=0.0, help="idle hold after connecting, s (memory runs)"
    )
    p.add_argument(
        "--playback-every", type=int, default=5, help="every Nth message is a seek (0: chat only)"
    )
    p.add_argument(
        "--max-sender-rate", type=float, default=10.0, help="msgs/s per sending connection"
    )
    p.add_argument("--inflight", type=int, default=200, help="handshakes in flight")
    p.add_argument(
        "--join-rate", type=float, default=0.0, help="connections started per second (0: no limit)"
    )
    p.add_argument("--connect-timeout-s", type=float, default=600.0)
    p.add_argument("--drain-s", type=float, default=10.0)
    p.add_argument("--settle-s", type=float, default=2.0, help="pause between steps, s")
    args = p.parse_args()
    n = args.rooms * args.room_size
    if not (1 <= n <= 20_000):
        p.error("rooms x room-size must be 1..20000")
    if args.duration > 3600 or args.idle_s > 3600:
        p.error("steps are limited to an hour")
    import resource as r

    soft, hard = r.getrlimit(r.RLIMIT_NOFILE)
    if soft < n + 100:
        r.setrlimit(r.RLIMIT_NOFILE, (min(hard, n + 1000), hard))
    if args.protocol == "syncplay":
        from bench.syncplay_loadgen import SyncplayLoadGen

        gen: LoadGen = SyncplayLoadGen(args)
    else:
        gen = LoadGen(args)
    gen.connect_all()
    if args.idle_s:
        gen.out(event="idle_start", t=time.monotonic())
        gen.hold(args.idle_s)
        gen.out(
            event="idle_end",
            t=time.monotonic(),
            closes=gen.closes,
            pings=gen.pings,
            open_connections=sum(1 for c in gen.conns if not c.closed),
        )
        gen.hold(1.0)  # still connected while the caller reads the server's memory
    for rate in (float(x) for x in args.rates.split(",")):
        if rate <= 0:
            continue
        gen.run_step(rate)
        gen.hold(args.settle_s)
    gen.close_all()
    gen.out(event="done")


if __name__ == "__main__":
    main()
