"""One client of the precision lab, run in its own process under libfaketime.

The lab starts it as::

    LD_PRELOAD=.../libfaketime.so.1 FAKETIME="-1234.5s x1.000137" \\
    FAKETIME_DONT_FAKE_MONOTONIC=1 python -m bench.precision_client --url ... --room ...

so that its wall clock (CLOCK_REALTIME, which the project's client uses by default:
``sync_server.client.wall_clock_ms``) is off by the offset and runs at the given rate,
while CLOCK_MONOTONIC stays true. The client never uses CLOCK_MONOTONIC for the
protocol; it only stamps its reports with it, which is how the lab knows the truth
(see bench/README.md, "How the truth is established").

It plays a simulated player: the media position advances with the client's own
(wrong-rate) clock and starts at the local instant the client computes for a scheduled
start. Every ``--follow-ms`` it compares the player's position with the room position
at its estimated server time and sets the player's rate by
``protocol.clock.follow_rate``, as the watch page's player loop does; the server's
``drift_correction`` seeks are obeyed and its rate nudges ignored (the loop corrects
the same drift continuously). With ``--follow-ms 0`` the player only follows the
server's ``drift_correction`` messages (rate nudges and seeks) after its
``position_report``\\ s every ``--report-interval-s``: the least PROTOCOL.md section 4
asks of a player.

Output: one JSON object a line on stdout (``k`` names the kind):

* ``s``: a sample every ``--sample-ms`` of CLOCK_MONOTONIC: ``m`` (monotonic ms,
  the mean of two readings around the faked one), ``l`` (client clock ms), ``e``
  (estimated server time at ``l``, ms, or null before any sync), ``p`` (simulated
  player position, s, or null while paused/not started), ``x`` (the position the
  room state gives at ``e``), ``sk`` (estimated skew ppm), ``rtt``, ``n`` (samples in
  the estimator), ``seq`` (playback state seq), ``c`` (connection number);
* ``connect`` / ``joined`` / ``synced`` / ``play`` / ``corr`` / ``closed``: events,
  each with ``m``.

Commands on stdin, one per line: ``reconnect`` (drop the connection without leave
and come back with ``resume``), ``quit``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from typing import Any

import trio

from protocol.clock import follow_rate
from sync_server.client import ClientClosed, SyncClient, open_sync_client, wall_clock_ms


def mono_ms() -> float:
    return time.monotonic() * 1000.0


def emit(kind: str, **fields: Any) -> None:
    fields["k"] = kind
    sys.stdout.write(json.dumps(fields, separators=(",", ":")) + "\n")
    sys.stdout.flush()


class Player:
    """A simulated media player whose position advances with the client's clock.

    The position at client time ``L`` (ms) is piecewise linear: held at ``p0`` until
    ``L0`` (a scheduled start), then advancing at ``nudge_rate`` until ``nudge_end``
    (a drift correction) and at ``rate`` afterwards. ``drift_factor`` multiplies the
    player's own clock error (see ``--drift-factor``).
    """

    def __init__(self, clock_error_ppm: float, drift_factor: float) -> None:
        self.playing = False
        self.p0 = 0.0
        self.L0 = 0.0
        self.rate = 1.0
        self.nudge_rate: float | None = None
        self.nudge_end = 0.0
        # Elapsed local time is scaled so that the player's total error against true
        # time is drift_factor times the clock's own (the clock already has 1x).
        self.scale = 1.0 + (drift_factor - 1.0) * clock_error_ppm * 1e-6

    def position(self, L: float) -> float | None:
        if not self.playing:
            return None if self.L0 == 0.0 else self.p0
        if L <= self.L0:
            return self.p0
        if self.nudge_rate is not None:
            if L <= self.nudge_end:
                return self.p0 + (L - self.L0) * self.scale / 1000.0 * self.nudge_rate
            return (
                self.p0
                + (self.nudge_end - self.L0) * self.scale / 1000.0 * self.nudge_rate
                + (L - self.nudge_end) * self.scale / 1000.0 * self.rate
            )
        return self.p0 + (L - self.L0) * self.scale / 1000.0 * self.rate

    def anchor(self, p: float, L: float, rate: float) -> None:
        self.playing = True
        self.p0, self.L0, self.rate = p, L, rate
        self.nudge_rate = None

    def pause(self, p: float) -> None:
        self.playing = False
        self.p0, self.L0 = p, 1.0
        self.nudge_rate = None

    def nudge(self, L: float, rate: float, duration_ms: float) -> None:
        p = self.position(L)
        if p is None:
            return
        self.p0, self.L0 = p, L
        self.nudge_rate, self.nudge_end = rate, L + duration_ms


class Lab:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.player = Player(args.skew_ppm, args.drift_factor)
        self.client: SyncClient | None = None
        self.conn_no = 0
        self.reconnect = trio.Event()
        self.quit = trio.Event()
        self.session: str | None = None
        self.last_seq = 0
        self.player_seq: int | None = None

    # --- the player follows the room ------------------------------------------------
    def apply_playback(self, client: SyncClient, state: dict[str, Any], why: str) -> None:
        now = client.clock()
        if state.get("paused", True):
            self.player_seq = state.get("seq")
            self.player.pause(float(state["position_s"]))
            emit("play", m=mono_ms(), why=why, paused=True, seq=state.get("seq"))
            return
        if client.estimator.estimate is None:
            return  # applied once the first sync is done
        self.player_seq = state.get("seq")
        start_local = client.local_time_of(float(state["server_time_ms"]))
        late = start_local < now
        if late:
            self.player.anchor(client.position_s(now), now, float(state["rate"]))
        else:
            self.player.anchor(float(state["position_s"]), start_local, float(state["rate"]))
        emit(
            "play",
            m=mono_ms(),
            why=why,
            paused=False,
            late=late,
            lead_ms=start_local - now,
            seq=state.get("seq"),
        )

    async def follow(self, client: SyncClient) -> None:
        while True:
            msg = await client.wait_for(None, timeout_s=1e9)
            kind = msg.get("type")
            if kind == "playback":
                self.apply_playback(client, msg["state"], msg.get("action", "?"))
            elif kind == "drift_correction":
                now = client.clock()
                if msg["action"] == "seek":
                    self.player.anchor(client.position_s(now), now, float(client.playback["rate"]))
                elif self.args.follow_ms > 0:
                    pass  # follow_loop already corrects this drift from a newer reading
                else:
                    self.player.nudge(now, float(msg["rate"]), float(msg["duration_ms"]))
                emit("corr", m=mono_ms(), action=msg["action"], drift_ms=msg.get("drift_ms"))
            if isinstance(msg.get("seq"), int):
                self.last_seq = max(self.last_seq, msg["seq"])

    async def follow_loop(self, client: SyncClient) -> None:
        """The player's own loop: every --follow-ms, play at follow_rate of its drift."""
        while True:
            await trio.sleep(self.args.follow_ms / 1000.0)
            L = client.clock()
            p = self.player.position(L)
            state = client.playback
            if (
                p is None
                or not self.player.playing
                or L <= self.player.L0
                or client.estimator.estimate is None
                or not state
                or state.get("paused", True)
                or state.get("seq") != self.player_seq
            ):
                continue
            room_rate = float(state["rate"])
            fix = follow_rate((p - client.position_s(L)) * 1000.0, room_rate=room_rate)
            if fix.action == "seek":
                self.player.anchor(client.position_s(L), L, room_rate)
                emit("corr", m=mono_ms(), action="self-seek", drift_ms=fix.drift_ms)
            elif fix.rate is not None:
                self.player.anchor(p, L, fix.rate)

    async def report(self, client: SyncClient) -> None:
        while True:
            await trio.sleep(self.args.report_interval_s)
            L = client.clock()
            p = self.player.position(L)
            if p is None or not self.player.playing or client.estimator.estimate is None:
                continue
            try:
                await client.request(
                    {
                        "type": "position_report",
                        "position_s": p,
                        "server_time_ms": client.server_time_ms(L),
                    }
                )
            except Exception:  # a rate limit or a close: the next round retries
                continue

    # --- samples ----------------------------------------------------------------------
    async def sample(self) -> None:
        step = self.args.sample_ms
        while True:
            now = mono_ms()
            await trio.sleep((math.floor(now / step) + 1) * step / 1000.0 - now / 1000.0)
            c = self.client
            m1 = mono_ms()
            L = wall_clock_ms()
            m2 = mono_ms()
            est = e = None
            if c is not None:
                est = c.estimator.estimate
                e = est.server_time(L) if est is not None else None
            x = None
            if c is not None and est is not None and c.playback:
                x = c.position_s(L)
            emit(
                "s",
                m=(m1 + m2) / 2,
                l=L,
                e=e,
                p=self.player.position(L) if self.player.playing else None,
                x=x,
                sk=est.skew_ppm if est else None,
                rtt=est.rtt_ms if est else None,
                n=est.samples if est else 0,
                seq=(c.playback or {}).get("seq") if c is not None else None,
                c=self.conn_no,
            )

    # --- connections --------------------------------------------------------------------
    async def one_connection(self) -> None:
        args = self.args
        self.conn_no += 1
        resume = None
        if self.session is not None:
            resume = {"session": self.session, "last_seq": self.last_seq}
        emit("connect", m=mono_ms(), c=self.conn_no, resume=resume is not None)
        async with open_sync_client(
            args.url,
            room=args.room,
            display_name=args.name if resume is None else None,
            resume=resume,
            encoding=args.encoding,
            clock=wall_clock_ms,
            sync_interval_s=args.sync_interval_s,
        ) as client:
            self.session = client.session
            self.last_seq = client.seq
            emit(
                "joined",
                m=mono_ms(),
                c=self.conn_no,
                pid=client.participant_id,
                resumed=client.welcome.get("resumed"),
            )
            # A fresh estimate on every connection (PROTOCOL.md section 4, step 7):
            # SyncClient starts with an empty estimator.
            await client.sync_time(samples=args.burst, spacing_s=0.05)
            self.client = client
            est = client.estimator.estimate
            emit("synced", m=mono_ms(), c=self.conn_no, rtt=est.rtt_ms if est else None)
            # Apply the welcome's state unless the player already follows it (a
            # reconnect with nothing changed meanwhile keeps playing undisturbed).
            state = client.playback
            if state and state.get("seq") != self.player_seq:
                self.apply_playback(client, state, "welcome")
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self.follow, client)
                nursery.start_soon(self.report, client)
                if self.args.follow_ms > 0:
                    nursery.start_soon(self.follow_loop, client)
                await self.reconnect.wait()
                nursery.cancel_scope.cancel()
            self.client = None
        emit("closed", m=mono_ms(), c=self.conn_no, code=client.close_code)

    async def connections(self) -> None:
        while not self.quit.is_set():
            self.reconnect = trio.Event()
            try:
                await self.one_connection()
            except (ClientClosed, OSError) as exc:
                emit("error", m=mono_ms(), error=str(exc))
                await trio.sleep(1.0)
            if self.quit.is_set():
                return
            await trio.sleep(self.args.reconnect_pause_s)

    async def commands(self, nursery: trio.Nursery) -> None:
        stream = trio.lowlevel.FdStream(os.dup(0))
        buf = b""
        async with stream:
            while True:
                data = await stream.receive_some(4096)
                if not data:
                    break
                buf += data
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    cmd = line.decode().strip()
                    if cmd == "reconnect":
                        self.reconnect.set()
                    elif cmd == "quit":
                        break
                else:
                    continue
                break
        self.quit.set()
        self.reconnect.set()
        nursery.cancel_scope.cancel()


async def amain(args: argparse.Namespace) -> None:
    lab = Lab(args)
    with trio.move_on_after(args.max_lifetime_s):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(lab.commands, nursery)
            nursery.start_soon(lab.sample)
            nursery.start_soon(lab.connections)


def main() -> None:
    parser = argparse.ArgumentParser(
        description="one precision-lab client (run by bench.precision)"
    )
    parser.add_argument(
        "--estimator", default="project", help="project, or a candidate of bench.estimators"
    )
    parser.add_argument("--url", required=True)
    parser.add_argument("--room", required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument("--encoding", default="msgpack")
    parser.add_argument(
        "--skew-ppm", type=float, default=0.0, help="the clock rate error faketime gives"
    )
    parser.add_argument("--drift-factor", type=float, default=1.0)
    parser.add_argument("--burst", type=int, default=32)
    parser.add_argument("--sync-interval-s", type=float, default=10.0)
    parser.add_argument("--report-interval-s", type=float, default=2.0)
    parser.add_argument(
        "--follow-ms",
        type=float,
        default=100.0,
        help="check the player against the room this often and follow_rate it (0: off)",
    )
    parser.add_argument("--sample-ms", type=float, default=100.0)
    parser.add_argument("--reconnect-pause-s", type=float, default=0.5)
    parser.add_argument("--max-lifetime-s", type=float, default=7200.0)
    args = parser.parse_args()
    if args.estimator != "project":
        # A scratch experiment: swap the estimator class SyncClient instantiates.
        import sync_server.client as client_module
        from bench.estimators import ESTIMATORS

        client_module.ClockEstimator = ESTIMATORS[args.estimator]  # type: ignore[misc,assignment]
    trio.run(amain, args)


if __name__ == "__main__":
    main()
