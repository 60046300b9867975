"""The `watchparty` command as a self-hoster runs it: both servers in one process, or
sync and web as two processes on one database; SIGTERM stops them cleanly."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import trio

from sync_server.client import open_sync_client

WAIT_S = 20.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@asynccontextmanager
async def watchparty(*args: str, log: Path) -> AsyncIterator[trio.Process]:
    """Run `watchparty ARGS`; on exit send SIGTERM and require a clean exit 0."""
    env = {**os.environ, "WATCHPARTY_LOG_LEVEL": "INFO"}
    with log.open("wb") as out:
        proc = await trio.lowlevel.open_process(
            [sys.executable, "-m", "sync_server", *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
        try:
            yield proc
        finally:
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
            with trio.move_on_after(WAIT_S) as waited:
                await proc.wait()
            if waited.cancelled_caught:
                proc.kill()
                await proc.wait()
    if proc.returncode != 0:
        output = await trio.Path(log).read_text()
        raise AssertionError(f"watchparty {args[0]} exited {proc.returncode}:\n{output}")


async def wait_ready(url: str, client: httpx.AsyncClient) -> dict:
    """Retry until the health endpoint answers (the server is still starting)."""
    with trio.fail_after(WAIT_S):
        while True:
            try:
                response = await client.get(url)
                if response.status_code == 200:
                    return response.json()
            except httpx.TransportError:
                pass
            await trio.sleep(0.05)  # polling a starting process; no event to wait on


async def exercise(web_url: str, sync_url: str) -> str:
    """A guest creates a room over REST, a socket client joins, REST play reaches it.
    The welcome names the web app, so the room's media path resolves against it."""
    async with httpx.AsyncClient(base_url=web_url, timeout=10) as http:
        health = await wait_ready("/api/health/", http)
        assert health["status"] == "ok"
        guest = (await http.post("/api/auth/guest/", json={"display_name": "Host"})).json()
        headers = {"Authorization": f"Bearer {guest['access']}"}
        created = await http.post(
            "/api/rooms/create/",
            json={
                "name": "Process room",
                "media": {"url": "/x.webm", "title": "X", "duration_s": 60},
            },
            headers=headers,
        )
        assert created.status_code == 201, created.text
        code = created.json()["code"]
        async with open_sync_client(sync_url, room=code, display_name="viewer") as viewer:
            assert viewer.welcome["web_url"] == web_url
            assert viewer.media_url() == f"{web_url}/x.webm"
            played = await http.post(
                f"/api/rooms/{code}/control/",
                json={"action": "play", "position": 2},
                headers=headers,
            )
            assert played.status_code == 200, played.text
            event = await viewer.wait_for("playback")
            assert event["state"]["paused"] is False
            assert event["state"]["position_s"] == 2
        return code


async def stored_rooms(db: Path) -> list[str]:
    import data
    from data import rooms as room_store

    database = await trio.to_thread.run_sync(data.open_database, db)
    try:
        return [s["code"] for s in await database.read(room_store.load_room_snapshots)]
    finally:
        database.close()


async def test_one_process_runs_both_servers_and_stops_on_sigterm(tmp_path):
    db, sync_port, web_port = tmp_path / "wp.db", free_port(), free_port()
    async with watchparty(
        "serve",
        "--db",
        str(db),
        "--port",
        str(sync_port),
        "--web-port",
        str(web_port),
        log=tmp_path / "serve.log",
    ):
        code = await exercise(f"http://127.0.0.1:{web_port}", f"ws://127.0.0.1:{sync_port}/ws")
    log = (tmp_path / "serve.log").read_text()
    assert "received SIGTERM" in log
    assert "ffprobe" not in log  # installed (the README's test command installs ffmpeg)
    assert "sync server stopped" in log
    assert code in await stored_rooms(db)


async def test_two_processes_share_one_database(tmp_path):
    db, sync_port, web_port = tmp_path / "wp.db", free_port(), free_port()
    async with watchparty(
        "serve-sync",
        "--db",
        str(db),
        "--port",
        str(sync_port),
        "--public-web-url",
        f"http://127.0.0.1:{web_port}/",
        log=tmp_path / "sync.log",
    ):
        async with watchparty(
            "serve-web",
            "--db",
            str(db),
            "--web-port",
            str(web_port),
            "--sync-url",
            f"ws://127.0.0.1:{sync_port}/control",
            log=tmp_path / "web.log",
        ):
            code = await exercise(f"http://127.0.0.1:{web_port}", f"ws://127.0.0.1:{sync_port}/ws")
            # Without --public-sync-url, clients are sent to the port of --sync-url.
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{web_port}") as http:
                detail = (await http.get(f"/api/rooms/{code}/")).json()
                assert detail["sync_url"] == f"ws://127.0.0.1:{sync_port}/ws"
                page = (await http.get(f"/watch/{code}")).text
                assert f'data-sync-url="ws://127.0.0.1:{sync_port}/ws"' in page
    assert code in await stored_rooms(db)
    assert "received SIGTERM" in (tmp_path / "web.log").read_text()
