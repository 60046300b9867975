"""Position error of ``watchparty play`` (the mpv bridge) against the room, over playback.

One process, loopback only: a sync server on an ephemeral port, a peer (the host, no
browser) that creates a room and plays, and ``watchparty play`` driving Debian's mpv
headless (``--vo=null --ao=null``) on a generated 50 fps clip (ffmpeg ``testsrc``). Every
100 ms the peer reads mpv's ``time-pos`` over mpv's IPC and compares it with the room
position it computes itself at the moment the answer arrives; the bridge's own
estimate (``time-pos`` extrapolated, what its follow loop steers) is recorded beside it.
The first 2 s after the start are left out (the start itself is the tests' business).

``time-pos`` is the timestamp of the frame shown, so it trails the continuous position
by 0 to 20 ms at 50 fps: the "time-pos" column includes that quantisation.

    python -m bench.mpv_bridge --seconds 60

Needs the Debian packages ``mpv`` and ``ffmpeg``.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any

import trio

from bench.common import command_line, env_block, environment, md_table, percentile
from sync_server.player.cli import PlayOptions
from tests.conftest import run_server
from tests.player_helpers import HEADLESS, make_clip, room_error_s, run_play


async def measure(seconds: float, tmp: Path) -> dict[str, Any]:
    clip = make_clip(tmp / "clip.mp4", seconds + 20.0)
    media = {"url": "https://example.org/clip.mp4", "title": "clip", "duration_s": seconds + 20}
    async with (
        run_server(tmp / "wp.db") as srv,
        srv.client("bench", "Host", create={"name": "Bench", "media": media}) as host,
    ):
        await host.sync_time()
        options = PlayOptions(
            room_url=f"{srv.url}?room=bench", file=str(clip), name="Desk", mpv_args=HEADLESS
        )
        async with run_play(options) as run:
            bridge = run.bridge
            await host.play(1.0)
            await trio.sleep(2.0)
            shown: list[float] = []
            steered: list[float] = []
            deadline = trio.current_time() + seconds
            while trio.current_time() < deadline:
                shown.append(await room_error_s(bridge, host) * 1000.0)
                steered.append(bridge.drifts_ms[-1])
                await trio.sleep(0.1)
            return {"shown_ms": shown, "steered_ms": steered, "lead_ms": bridge.start_lead_ms}


def stats(values: list[float]) -> list[str]:
    absolute = sorted(abs(v) for v in values)
    return [
        f"{percentile(absolute, 50):.1f}",
        f"{percentile(absolute, 99):.1f}",
        f"{max(absolute):.1f}",
        f"{sum(values) / len(values):+.1f}",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.mpv_bridge", description=__doc__)
    parser.add_argument("--seconds", type=float, default=60.0, help="playback measured, s")
    args = parser.parse_args()
    env = environment()
    with tempfile.TemporaryDirectory() as tmp:
        result = trio.run(measure, args.seconds, Path(tmp))
    n = len(result["shown_ms"])
    print("### mpv bridge: position error against the room\n")
    print(env_block(env, command_line("bench.mpv_bridge")))
    print(f"- {n} samples, every 100 ms over {args.seconds:g} s of playback at rate 1\n")
    print(
        md_table(
            ["position", "\\|error\\| p50 (ms)", "p99 (ms)", "max (ms)", "mean error (ms)"],
            [
                ["mpv `time-pos` (frame shown)", *stats(result["shown_ms"])],
                ["bridge estimate (extrapolated)", *stats(result["steered_ms"])],
            ],
        )
    )
    print(f"\nlearned start lead: {result['lead_ms']:.1f} ms")


if __name__ == "__main__":
    main()
