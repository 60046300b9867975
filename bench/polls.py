"""Vote storm: N participants of one room vote in one poll within one second.

The server (``python -m sync_server serve-sync``, pinned to core 0) runs as in the
fan-out benchmark; this process (core 1) opens N JSON sockets on loopback, joins them
to one room, opens one anonymous poll, and has every participant vote once at a random
instant within ``--spread`` seconds.

Measured:

* **results delivery**: for every ``poll_results`` every member receives, receipt
  time minus the message's ``server_time_ms`` (one machine, one wall clock):
  p50 / p99 / max, milliseconds. The target is p99 <= 100 ms.
* **vote to visible**: for each vote, the time from sending it to the first
  ``poll_results`` the voter receives after its ``ack`` (which includes the vote:
  one connection delivers in order). Bounded below by the coalescing interval
  (250 ms) by design.
* **messages**: ``poll_results`` broadcasts (distinct ``server_time_ms``) against
  votes, and the most any one member received: coalesced, never one per vote per
  member.

Usage (repository root)::

    .venv/bin/python -m bench.polls --participants 500 --spread 1.0
"""

from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import trio
from trio_websocket import open_websocket_url

from bench.common import (
    Summary,
    command_line,
    env_block,
    environment,
    md_table,
    raise_nofile,
    write_result,
)
from bench.fanout import ServerUnderTest

#: Ports anything run by hand here may use.
PORT_RANGE = (22400, 22499)


def now_ms() -> float:
    return time.time() * 1000.0


class Member:
    """One participant: its socket, what it received, when."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.delivery_ms: list[float] = []
        self.results: list[dict[str, Any]] = []
        self.vote_sent_ms: float | None = None
        self.acked = False
        self.visible_ms: float | None = None
        self.final = trio.Event()
        self.opened: dict[str, Any] | None = None
        self.got_opened = trio.Event()

    async def read(self, total: int) -> None:
        while True:
            msg = json.loads(await self.ws.get_message())
            kind = msg.get("type")
            if kind == "ping":
                await self.ws.send_message(json.dumps({"type": "pong", "nonce": msg["nonce"]}))
            elif kind == "poll_opened":
                self.opened = msg["poll"]
                self.got_opened.set()
            elif kind == "ack" and msg.get("request_id") == "vote":
                self.acked = True
            elif kind == "poll_results":
                t = now_ms()
                self.delivery_ms.append(t - msg["server_time_ms"])
                self.results.append(msg)
                if self.acked and self.visible_ms is None and self.vote_sent_ms is not None:
                    self.visible_ms = t - self.vote_sent_ms
                if msg["results"]["voter_count"] >= total:
                    self.final.set()


async def join(url: str, room: str, name: str, create: bool, nursery: trio.Nursery) -> Member:
    ws = await nursery.start(_open, url)
    hello: dict[str, Any] = {
        "type": "hello",
        "id": "h",
        "protocol": 1,
        "room": room,
        "display_name": name,
    }
    if create:
        hello["create"] = {"name": "Vote storm", "settings": {"polls": "host"}}
    await ws.send_message(json.dumps(hello))
    while True:
        msg = json.loads(await ws.get_message())
        if msg.get("type") == "welcome":
            return Member(ws)
        if msg.get("type") == "error":
            raise RuntimeError(f"hello refused: {msg}")


async def _open(url: str, *, task_status: Any) -> None:
    async with open_websocket_url(url, subprotocols=["watchparty.v1.json"]) as ws:
        task_status.started(ws)
        await trio.sleep_forever()


async def storm(url: str, participants: int, spread_s: float, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    async with trio.open_nursery() as nursery:
        host = await join(url, "vote-storm", "host", True, nursery)
        members = [host]
        limiter = trio.CapacityLimiter(50)

        async def one(i: int) -> None:
            async with limiter:
                members.append(await join(url, "vote-storm", f"p{i}", False, nursery))

        async with trio.open_nursery() as joins:
            for i in range(participants - 1):
                joins.start_soon(one, i)
        for m in members:
            nursery.start_soon(m.read, participants)
        await host.ws.send_message(
            json.dumps(
                {
                    "type": "poll_create",
                    "question": "Storm?",
                    "options": ["a", "b", "c", "d"],
                    "anonymous": True,
                }
            )
        )
        for m in members:
            await m.got_opened.wait()
        poll_id = host.opened["id"] if host.opened else 0

        async def vote(m: Member) -> None:
            await trio.sleep(rng.uniform(0.0, spread_s))
            m.vote_sent_ms = now_ms()
            await m.ws.send_message(
                json.dumps(
                    {
                        "type": "poll_vote",
                        "id": "vote",
                        "poll_id": poll_id,
                        "choices": [rng.randrange(4)],
                    }
                )
            )

        started = time.monotonic()
        async with trio.open_nursery() as votes:
            for m in members:
                votes.start_soon(vote, m)
        with trio.fail_after(30):
            for m in members:
                await m.final.wait()
        elapsed = time.monotonic() - started
        nursery.cancel_scope.cancel()
    delivery = sorted(d for m in members for d in m.delivery_ms)
    visible = sorted(m.visible_ms for m in members if m.visible_ms is not None)
    broadcasts = {r["server_time_ms"] for r in host.results}
    return {
        "participants": participants,
        "votes": participants,
        "spread_s": spread_s,
        "seconds_to_final": round(elapsed, 3),
        "broadcasts": len(broadcasts),
        "messages_delivered": len(delivery),
        "max_per_member": max(len(m.results) for m in members),
        "delivery": asdict(Summary.of(delivery)),
        "visible": asdict(Summary.of(visible)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--participants", type=int, default=500)
    parser.add_argument("--spread", type=float, default=1.0, help="seconds the votes span")
    parser.add_argument("--seed", type=int, default=18)
    args = parser.parse_args()
    raise_nofile()
    env = environment()
    with tempfile.TemporaryDirectory() as tmp:
        server = ServerUnderTest("watchparty", Path(tmp), port_range=PORT_RANGE)
        server.start()
        try:
            if hasattr(os, "sched_setaffinity"):
                os.sched_setaffinity(0, {1})
            url = f"ws://127.0.0.1:{server.port}/ws"
            result = trio.run(storm, url, args.participants, args.spread, args.seed)
        finally:
            server.stop()
    d, v = result["delivery"], result["visible"]
    rows = [
        [
            result["participants"],
            f"{result['spread_s']:g}",
            result["broadcasts"],
            result["messages_delivered"],
            result["max_per_member"],
            f"{d['p50']:.1f} / {d['p99']:.1f} / {d['max']:.1f}",
            f"{v['p50']:.0f} / {v['p99']:.0f} / {v['max']:.0f}",
            "met" if d["p99"] <= 100.0 else "missed",
        ]
    ]
    markdown = "\n\n".join(
        [
            "### Vote storm",
            env_block(env, command_line("bench.polls")),
            "- server pinned to core 0, load generator (this process, JSON) to core 1; one "
            "anonymous poll with 4 options; every participant votes once at a random "
            "instant within the spread",
            md_table(
                [
                    "participants",
                    "votes within s",
                    "results broadcasts",
                    "results delivered",
                    "most to one member",
                    "delivery p50 / p99 / max ms",
                    "vote to visible p50 / p99 / max ms",
                    "target p99 <= 100 ms",
                ],
                rows,
            ),
        ]
    )
    print(markdown)
    path = write_result("polls", markdown, {"env": env, "result": result})
    print(f"\n(written to {path})")


if __name__ == "__main__":
    main()
