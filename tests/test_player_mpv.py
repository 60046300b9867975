"""`watchparty play`: Debian's mpv run headless (``--vo=null --ao=null``, an IPC socket in
a private directory) kept in a live room by the bridge, against a real sync server and
a browser-less peer that drives the room.

The 50 ms checks are the issue's condition ("time-pos within 50 ms of the room position
one second after each action"): the second is the measurement's definition, not a wait
for something to happen.
"""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trio

from sync_server.control import LocalRoomControl
from sync_server.player.bridge import MpvBridge, may_control, media_source
from sync_server.player.cli import (
    EXIT_OK,
    EXIT_PLAYER,
    EXIT_REFUSED,
    EXIT_UNREACHABLE,
    EXIT_USAGE,
    PlayOptions,
    play,
)
from sync_server.player.ipc import (
    MpvClosedError,
    MpvCommandError,
    MpvNotFoundError,
    NotMpvError,
    launch_mpv,
    open_mpv_ipc,
)
from sync_server.player.join import RoomUrlError, parse_room_url

from .conftest import ServerHandle, run_server
from .player_helpers import (
    HEADLESS,
    CuttableProxy,
    make_clip,
    open_watcher,
    room_error_s,
    run_play,
)
from .web_helpers import run_web

pytestmark = pytest.mark.slow
CLIP_S = 60.0
TOLERANCE_S = 0.05


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_clip(tmp_path_factory.mktemp("clip") / "clip.mp4", CLIP_S)


@pytest.fixture
def http_clip(clip: Path) -> Iterator[str]:
    """The clip served over HTTP by a real server on a loopback port."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, directory=str(clip.parent), **kwargs)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/{clip.name}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def media(url: str = "https://example.org/film.mp4", duration_s: float = CLIP_S) -> dict[str, Any]:
    return {"url": url, "title": "Test clip", "duration_s": duration_s}


def options(srv: ServerHandle, room: str, file: Path | None, **kw: Any) -> PlayOptions:
    kw.setdefault("name", "Desk")
    return PlayOptions(
        room_url=f"{srv.url}?room={room}",
        file=str(file) if file else None,
        mpv_args=[*HEADLESS, *kw.pop("mpv_args", [])],
        **kw,
    )


async def settle_and_check(bridge: MpvBridge, peer: Any, what: str) -> float:
    """One second after an action: mpv's time-pos is within 50 ms of the room."""
    await trio.sleep(1.0)
    # The median of three readings 10 ms apart: one late wake-up of this (shared)
    # process is not mpv's error.
    readings = []
    for _ in range(3):
        readings.append(await room_error_s(bridge, peer))
        await trio.sleep(0.01)
    error = sorted(readings)[1]
    if abs(error) >= TOLERANCE_S:
        t0 = bridge.clock()
        recent = [(round(t - t0), w, d) for t, w, d in list(bridge.log)[-25:]]
        drifts = [round(d) for d in list(bridge.drifts_ms)[-12:]]
        pytest.fail(f"{what}: mpv is {error * 1000:+.1f} ms off the room; {drifts=} {recent=}")
    return error


# --- the IPC client ------------------------------------------------------------------------
async def test_ipc_commands_properties_and_errors() -> None:
    async with launch_mpv(args=HEADLESS) as (ipc, process):
        assert str(await ipc.get_property("mpv-version")).startswith("mpv")
        assert await ipc.get_property("pause") is True  # launched paused
        await ipc.set_property("speed", 1.5)
        assert await ipc.get_property("speed") == pytest.approx(1.5)
        assert await ipc.get_property("time-pos") is None  # no file: unavailable
        with pytest.raises(MpvCommandError, match="property not found"):
            await ipc.get_property("no-such-property")
        async with open_mpv_ipc(ipc.path) as second:  # mpv takes several clients
            assert await second.get_property("speed") == pytest.approx(1.5)
        await ipc.command("quit")
        await ipc.closed.wait()
        with pytest.raises(MpvClosedError):
            await ipc.get_property("pause")
    assert process.returncode == 0


async def test_ipc_refuses_what_is_not_mpv(tmp_path: Path) -> None:
    with pytest.raises(MpvClosedError):
        async with open_mpv_ipc(str(tmp_path / "nothing.sock")):
            pass
    path = str(tmp_path / "silent.sock")
    sock = trio.socket.socket(trio.socket.AF_UNIX)
    await sock.bind(path)
    sock.listen()
    with pytest.raises(NotMpvError, match="not an mpv IPC socket"):
        async with open_mpv_ipc(path, check_timeout_s=0.5):
            pass
    sock.close()
    with pytest.raises(MpvNotFoundError, match="apt-get install mpv"):
        async with launch_mpv(executable="/nonexistent/mpv"):
            pass


def test_room_urls_and_rules() -> None:
    page = parse_room_url("https://watch.example.org/watch/movie-night")
    assert (page.room, page.sync_url, page.web_base) == (
        "movie-night",
        None,
        "https://watch.example.org",
    )
    sock = parse_room_url("ws://127.0.0.1:8765/ws?room=demo")
    assert (sock.room, sock.sync_url, sock.web_base) == ("demo", "ws://127.0.0.1:8765/ws", None)
    for bad in ("ftp://x/watch/demo", "http://x/rooms/demo", "ws://x/ws", "http://x/watch/a"):
        with pytest.raises(RoomUrlError):
            parse_room_url(bad)
    assert media_source({"url": "/api/videos/ab/stream/"}, "http://h:8000") == (
        "http://h:8000/api/videos/ab/stream/"
    )
    assert media_source({"url": "/v.mp4"}, None) is None
    assert media_source({"url": "file:///etc/passwd"}, "http://h") is None
    assert media_source({"url": "https://e.org/v.mp4"}, None) == "https://e.org/v.mp4"


# --- following the room --------------------------------------------------------------------
async def test_mpv_follows_play_pause_seek_and_rate(tmp_path: Path, clip: Path) -> None:
    async with (
        run_server(tmp_path / "wp.db") as srv,
        srv.client("film", "Host", create={"name": "Film", "media": media()}) as host,
    ):
        await host.sync_time()
        async with run_play(options(srv, "film", clip)) as run:
            bridge = run.bridge
            assert bridge.client is not None
            me = bridge.client.participants[bridge.client.participant_id]
            assert me["role"] == "viewer"
            await settle_and_check(bridge, host, "joined paused")
            await host.play(5.0)
            await settle_and_check(bridge, host, "play")
            await host.seek(20.0)
            await settle_and_check(bridge, host, "seek while playing")
            await host.set_rate(1.5)
            await settle_and_check(bridge, host, "rate 1.5")
            await host.set_rate(0.75)
            await settle_and_check(bridge, host, "rate 0.75")
            await host.pause()
            await settle_and_check(bridge, host, "pause")
            assert await bridge.mpv.get_property("pause") is True
            await host.seek(40.0)
            await settle_and_check(bridge, host, "seek while paused")
            await host.play()
            await settle_and_check(bridge, host, "play again")
            # The bridge's own commands never reached the room as actions.
            assert not [e for e in bridge.log if e[1] == "local pause" or e[1] == "local seek"]
            assert all(
                ev.get("state", {}).get("seq") is None or ev.get("by") != me["id"]
                for ev in host.events
                if ev.get("type") == "playback"
            )


async def test_local_seek_reaches_the_room(tmp_path: Path, clip: Path) -> None:
    room_media = media()
    async with (
        run_server(tmp_path / "wp.db") as srv,
        srv.client(
            "film",
            "Host",
            create={"name": "Film", "media": room_media, "settings": {"control": "everyone"}},
        ) as host,
    ):
        await host.sync_time()
        async with run_play(options(srv, "film", clip)) as run:
            bridge = run.bridge
            await host.play(3.0)
            await settle_and_check(bridge, host, "play")
            me = bridge.client.participant_id
            mark = host.mark()
            # Another IPC client seeks, as a key press or a script would.
            async with open_mpv_ipc(bridge.mpv.path) as other:
                await other.command("seek", 30.0, "absolute+exact")
            event = await host.wait_for(
                "playback", lambda m: m["action"] == "seek" and m["by"] == me, since=mark
            )
            assert event["state"]["position_s"] == pytest.approx(30.0, abs=0.1)
            await settle_and_check(bridge, host, "after the local seek")
            # A local pause and a speed change become the room's too.
            mark = host.mark()
            async with open_mpv_ipc(bridge.mpv.path) as other:
                await other.set_property("pause", True)
            event = await host.wait_for(
                "playback", lambda m: m["action"] == "pause" and m["by"] == me, since=mark
            )
            async with open_mpv_ipc(bridge.mpv.path) as other:
                await other.command("multiply", "speed", 1.25)  # as mpv's ] key does
            event = await host.wait_for(
                "playback", lambda m: m["action"] == "set_rate" and m["by"] == me, since=mark
            )
            assert event["state"]["rate"] == pytest.approx(1.25)


async def test_a_viewer_without_control_is_put_back(tmp_path: Path, clip: Path) -> None:
    async with (
        run_server(tmp_path / "wp.db") as srv,
        srv.client("film", "Host", create={"name": "Film", "media": media()}) as host,
    ):
        await host.sync_time()
        async with run_play(options(srv, "film", clip)) as run:
            bridge = run.bridge
            assert not may_control(bridge.client)
            await host.play(3.0)
            await settle_and_check(bridge, host, "play")
            seq = host.seq
            async with open_watcher(bridge.mpv.path, "pause") as watcher:
                await watcher.wait_value("pause", lambda v: v is False)
                # A pause within the echo window of the bridge's own last pause would be
                # taken for its own (documented); on a busy machine the start can be
                # that recent, so act once the window has passed.
                with trio.fail_after(5):
                    while bridge._pause_echo.is_echo(True, bridge.clock()):
                        await trio.sleep(0.02)
                await watcher.ipc.set_property("pause", True)
                # Put back: playing again, without any change in the room.
                await watcher.wait_value("pause", lambda v: v is False)
            assert "put back" in [e[1] for e in bridge.log]
            await settle_and_check(bridge, host, "put back after a pause")
            async with open_mpv_ipc(bridge.mpv.path) as other:
                await other.command("seek", 50.0, "absolute+exact")
            await settle_and_check(bridge, host, "put back after a seek")
            assert host.seq == seq
            assert host.playback["paused"] is False


async def test_media_from_a_url_and_chat_on_screen(tmp_path: Path, http_clip: str) -> None:
    async with (
        run_server(tmp_path / "wp.db") as srv,
        srv.client("film", "Host", create={"name": "Film"}) as host,
    ):
        await host.sync_time()
        async with run_play(options(srv, "film", None)) as run:
            bridge = run.bridge
            mark = host.mark()
            await host.change_media(http_clip, "Clip", CLIP_S)
            await host.wait_for(
                "participant_updated",
                lambda m: m["participant"]["name"] == "Desk" and not m["participant"]["buffering"],
                since=mark,
            )
            assert await bridge.mpv.get_property("path") == http_clip
            await host.play(2.0)
            await settle_and_check(bridge, host, "play from a URL")
            mark = bridge.client.mark()
            for i in range(5):
                await host.chat(f"hello {i}")
            await bridge.client.wait_for(
                "chat_message", lambda m: m["message"]["text"] == "hello 4", since=mark
            )
            shown = [e[2] for e in bridge.log if e[1] == "osd"]
            assert shown[:3] == ["Host: hello 0", "Host: hello 1", "Host: hello 2"]
            assert len(shown) == 3  # rate-limited: the rest is counted in the next one

            # A URL that cannot load is told, and the session goes on.
            await host.change_media("http://127.0.0.1:9/missing.mp4", "Missing", 10.0)
            told = await run.wait_message("cannot play")
            assert "http://127.0.0.1:9/missing.mp4" in told
            assert bridge.mode == "idle"
            await host.change_media(http_clip, "Clip", CLIP_S)
            await host.play(1.0)
            await settle_and_check(bridge, host, "play after a failed load")


async def test_no_chat_and_local_file_duration(tmp_path: Path, clip: Path) -> None:
    async with (
        run_server(tmp_path / "wp.db") as srv,
        srv.client(
            "film", "Host", create={"name": "Film", "media": media(duration_s=61.5)}
        ) as host,
    ):
        await host.sync_time()
        opts = options(srv, "film", clip, show_chat=False)
        async with run_play(opts) as run:
            bridge = run.bridge
            assert bridge.local_duration_s == pytest.approx(CLIP_S, abs=0.1)
            mark = bridge.client.mark()
            await host.chat("nobody sees this in mpv")
            await bridge.client.wait_for("chat_message", since=mark)
            assert not [e for e in bridge.log if e[1] == "osd"]
            told = await run.wait_message("differs from the room media's")
            assert "by -1.5 s" in told
            # Media whose duration is far from the file's plays from the room instead.
            await host.change_media("http://127.0.0.1:9/other.mp4", "Other", 600.0)
            await run.wait_message("does not match your file")
            await run.wait_message("cannot play")


# --- robustness -------------------------------------------------------------------------------
async def test_a_lost_socket_resumes(tmp_path: Path, clip: Path) -> None:
    async with (
        run_server(tmp_path / "wp.db") as srv,
        srv.client("film", "Host", create={"name": "Film", "media": media()}) as host,
        trio.open_nursery() as nursery,
    ):
        await host.sync_time()
        proxy = CuttableProxy(srv.server.port)
        await nursery.start(proxy.serve)
        opts = options(srv, "film", clip)
        opts.room_url = f"ws://127.0.0.1:{proxy.port}/ws?room=film"
        async with run_play(opts) as run:
            bridge = run.bridge
            pid = bridge.client.participant_id
            await host.play(2.0)
            await settle_and_check(bridge, host, "play")
            mark = host.mark()
            proxy.cut()
            await host.wait_for(
                "participant_updated",
                lambda m: m["participant"]["id"] == pid and not m["participant"]["connected"],
                since=mark,
            )
            await host.wait_for(
                "participant_updated",
                lambda m: m["participant"]["id"] == pid and m["participant"]["connected"],
                timeout_s=30,
            )
            await run.wait_message("connection lost")
            await run.wait_message("reconnected")
            assert proxy.connections == 2
            await host.seek(25.0)
            await settle_and_check(bridge, host, "seek after the resume")
            assert bridge.client.participant_id == pid  # the same participant
        nursery.cancel_scope.cancel()


async def test_mpv_quitting_ends_the_session(tmp_path: Path, clip: Path) -> None:
    async with (
        run_server(tmp_path / "wp.db") as srv,
        srv.client("film", "Host", create={"name": "Film", "media": media()}) as host,
    ):
        async with run_play(options(srv, "film", clip)) as run:
            bridge = run.bridge
            pid = bridge.client.participant_id
            async with open_mpv_ipc(bridge.mpv.path) as other:
                await other.command("quit")
            left = await host.wait_for("participant_left", timeout_s=20)
            assert left["participant_id"] == pid
            assert left["reason"] == "left"
            await run.done.wait()
        assert run.status == EXIT_OK


async def test_bad_input_exit_statuses(tmp_path: Path, clip: Path) -> None:
    messages: list[str] = []

    async def status(opts: PlayOptions) -> int:
        messages.clear()
        return await play(opts, notify=messages.append)

    assert await status(PlayOptions(room_url="ftp://example.org/x")) == EXIT_USAGE
    assert await status(PlayOptions(room_url="ws://h/ws?room=demo", file="/no/file")) == EXIT_USAGE
    async with run_server(tmp_path / "wp.db") as srv:
        opts = options(srv, "nope", None)
        assert await status(opts) == EXIT_REFUSED
        assert "no room has this code" in messages[-1]
        opts = options(srv, "nope", None, mpv="/nonexistent/mpv")
        assert await status(opts) == EXIT_PLAYER
        assert "apt-get install mpv" in messages[-1]
        opts = options(srv, "nope", None, attach=str(tmp_path / "none.sock"))
        assert await status(opts) == EXIT_PLAYER
        port = srv.server.port
    opts = PlayOptions(room_url=f"ws://127.0.0.1:{port}/ws?room=demo", mpv_args=HEADLESS)
    assert await status(opts) == EXIT_UNREACHABLE
    assert "cannot reach the sync server" in messages[-1]


async def test_a_password_room_through_the_web_app(tmp_path: Path, clip: Path) -> None:
    db_path = tmp_path / "wp.db"
    async with run_server(db_path) as srv:
        control = LocalRoomControl(srv.server)
        async with run_web(
            db_path, rooms=control, db=srv.db, clock=time.time, public_sync_url=srv.url
        ) as web:
            owner = await web.register("Owner")
            room = await web.create_room(
                owner, media=media(), entry_mode="password", password="sesame"
            )
            url = f"{web.url}/watch/{room['code']}"
            asked: list[str] = []

            def wrong(prompt: str) -> str | None:
                asked.append(prompt)
                return "guess"

            messages: list[str] = []
            opts = PlayOptions(room_url=url, file=str(clip), name="Desk", mpv_args=HEADLESS)
            status = await play(opts, notify=messages.append, ask_password=wrong)
            assert status == EXIT_REFUSED
            assert "is wrong" in messages[-1]
            assert len(asked) == 3
            assert asked[0].startswith("Password for room")

            def nothing(prompt: str) -> None:
                return None

            assert await play(opts, notify=messages.append, ask_password=nothing) == EXIT_REFUSED
            assert "needs a password" in messages[-1]

            async with run_play(opts, ask_password=lambda prompt: "sesame") as run:
                me = run.bridge.client.participants[run.bridge.client.participant_id]
                assert me["name"] == "Desk"
                assert me["guest"] is True  # a guest account signed in for the entry
