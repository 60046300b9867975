"""Helpers of the mpv bridge tests and benchmark: a generated clip, Debian's mpv run
headless, a watcher on mpv's own IPC socket, a TCP proxy whose connections can be cut.

Needs the ``mpv`` and ``ffmpeg`` Debian packages.
"""

from __future__ import annotations

import math
import shutil
import subprocess
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import trio

from sync_server.player.cli import PlayOptions, play
from sync_server.player.ipc import MpvIpc, collapse_single_groups, open_mpv_ipc

#: Options that make mpv headless and deterministic: no config, no video or audio out.
HEADLESS = ["--no-config", "--vo=null", "--ao=null"]
CLIP_FPS = 50


def make_clip(path: Path, duration_s: float = 60.0, size: str = "160x120") -> Path:
    """An H.264/AAC MP4 of *duration_s* seconds made with ffmpeg's ``testsrc`` at
    :data:`CLIP_FPS` frames a second, a keyframe every half second (so exact seeks are
    quick), ``moov`` first (so it streams over HTTP)."""
    ffmpeg = shutil.which("ffmpeg")
    assert ffmpeg, "ffmpeg is needed (Debian package ffmpeg)"
    subprocess.run(
        [
            ffmpeg, "-hide_banner", "-loglevel", "error", "-y",
            "-f", "lavfi", "-i", f"testsrc=size={size}:rate={CLIP_FPS}:duration={duration_s}",
            "-f", "lavfi", "-i", f"sine=frequency=440:duration={duration_s}",
            "-c:v", "libx264", "-preset", "ultrafast", "-g", str(CLIP_FPS // 2),
            "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", "-movflags", "+faststart",
            str(path),
        ],
        check=True,
    )  # fmt: skip
    return path


class Watcher:
    """mpv as another IPC client sees it: observed properties, with a way to wait for
    a value."""

    def __init__(self, ipc: MpvIpc) -> None:
        self.ipc = ipc
        self.values: dict[str, Any] = {}
        self._changed = trio.lowlevel.ParkingLot()
        ipc.on_event = self._on_event

    def _on_event(self, event: dict[str, Any]) -> None:
        if event.get("event") == "property-change":
            self.values[event["name"]] = event.get("data")
            self._changed.unpark_all()

    async def observe(self, *names: str) -> None:
        for name in names:
            await self.ipc.observe_property(name)

    async def wait_value(
        self, name: str, predicate: Callable[[Any], bool], timeout_s: float = 10.0
    ) -> Any:
        with trio.fail_after(timeout_s):
            while not (name in self.values and predicate(self.values[name])):
                await self._changed.park()
        return self.values[name]


@asynccontextmanager
async def open_watcher(path: str, *names: str) -> AsyncIterator[Watcher]:
    async with open_mpv_ipc(path) as ipc:
        watcher = Watcher(ipc)
        await watcher.observe(*names)
        yield watcher


async def room_error_s(bridge: Any, peer: Any) -> float:
    """mpv's ``time-pos`` minus the room position the *peer* computes at the moment
    the answer arrives, seconds."""
    time_pos = await bridge.mpv.get_property("time-pos")
    return float(time_pos) - peer.position_s()


class PlayRun:
    """A :func:`play` session running in the background.

    Attributes:
        bridge: Its bridge, once joined.
        status: Its exit status, once it has ended (``done`` is set then).
        messages: What it told the user.
    """

    def __init__(self, messages: list[str]) -> None:
        self.bridge: Any = None
        self.status: int | None = None
        self.done = trio.Event()
        self.messages = messages

    async def wait_message(self, fragment: str, timeout_s: float = 20.0) -> str:
        """Wait until a message containing *fragment* was told; return it."""
        with trio.fail_after(timeout_s):
            while True:
                for m in self.messages:
                    if fragment in m:
                        return m
                await self._told.park()

    _told = trio.lowlevel.ParkingLot()

    def tell(self, text: str) -> None:
        self.messages.append(text)
        self._told.unpark_all()


@asynccontextmanager
async def run_play(
    options: PlayOptions, messages: list[str] | None = None, **kwargs: Any
) -> AsyncIterator[PlayRun]:
    """Run :func:`play` in the background until it has joined; yield its
    :class:`PlayRun`; stop it on exit."""
    run = PlayRun(messages if messages is not None else [])
    run._told = trio.lowlevel.ParkingLot()

    async def runner(task_status: trio.TaskStatus[Any]) -> None:
        try:
            run.status = await play(options, notify=run.tell, task_status=task_status, **kwargs)
        finally:
            run.done.set()

    with collapse_single_groups():
        async with trio.open_nursery() as nursery:
            run.bridge = await nursery.start(runner)
            yield run
            nursery.cancel_scope.cancel()


class CuttableProxy:
    """A TCP proxy on 127.0.0.1 (port 0) to *port*, whose connections :meth:`cut`
    closes at once, as a lost network would."""

    def __init__(self, port: int) -> None:
        self.target_port = port
        self.port = 0
        self.connections = 0
        self._scopes: list[trio.CancelScope] = []

    async def serve(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
        self.port = listeners[0].socket.getsockname()[1]
        task_status.started()
        await trio.serve_listeners(self._handle, listeners)

    async def _handle(self, down: trio.SocketStream) -> None:
        self.connections += 1
        with trio.CancelScope() as scope:
            self._scopes.append(scope)
            async with down, await trio.open_tcp_stream("127.0.0.1", self.target_port) as up:
                async with trio.open_nursery() as nursery:

                    async def pipe(a: trio.SocketStream, b: trio.SocketStream) -> None:
                        try:
                            while data := await a.receive_some(65536):
                                await b.send_all(data)
                        except (trio.BrokenResourceError, trio.ClosedResourceError):
                            pass
                        nursery.cancel_scope.cancel()

                    nursery.start_soon(pipe, down, up)
                    nursery.start_soon(pipe, up, down)
        self._scopes.remove(scope)

    def cut(self) -> None:
        for scope in self._scopes:
            scope.cancel()


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return math.nan
    k = min(len(ordered) - 1, max(0, math.ceil(p / 100.0 * len(ordered)) - 1))
    return ordered[k]
