"""The `watchparty` command as a newcomer meets it: every failure is one line naming what
failed and what to do, with its exit status, never a traceback. Real processes
(``python -m sync_server``), real sockets, a real terminal (a pty) for the prompts."""

from __future__ import annotations

import argparse
import json
import os
import pty
import select
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import trio

import data
from data import rooms as room_store
from data import running
from sync_server.cli import build_parser
from sync_server.config import SETTINGS, WEB_ONLY

from .conftest import run_server
from .test_processes import WAIT_S, free_port, wait_ready, watchparty


def run_cli(
    *args: str, stdin: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `watchparty ARGS` to the end (stdin a pipe, not a terminal)."""
    return subprocess.run(
        [sys.executable, "-m", "sync_server", *args],
        input=stdin if stdin is not None else "",
        capture_output=True,
        text=True,
        timeout=WAIT_S,
        env={**os.environ, **(env or {})},
    )


def assert_fails(result: subprocess.CompletedProcess[str], status: int, *texts: str) -> None:
    assert result.returncode == status, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    line = result.stderr.strip().splitlines()[-1]
    assert line.startswith("watchparty: error: "), result.stderr
    for text in texts:
        assert text in result.stderr, result.stderr


# --- --version, help ----------------------------------------------------------------------
def test_version() -> None:
    from importlib.metadata import version

    result = run_cli("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"watchparty {version('watchparty')}"


def _flags(command: str) -> set[str]:
    parser = build_parser()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return {f for a in action.choices[command]._actions for f in a.option_strings}
    raise AssertionError("no subcommands")


def test_each_server_command_offers_the_settings_it_reads() -> None:
    def flag(name: str) -> str:
        return "--" + name.replace("_", "-")

    serve, sync, web = _flags("serve"), _flags("serve-sync"), _flags("serve-web")
    for s in SETTINGS:
        assert flag(s.name) in serve
        assert (flag(s.name) in sync) == (s.applies_to in ("sync", "both")), s.name
        assert (flag(s.name) in web) == (s.applies_to in ("web", "both")), s.name
    assert "web_port" in WEB_ONLY
    assert "--web-port" not in sync
    assert "--demo" not in web
    assert {"--port", "--db"} <= web & sync  # both read them
    assert_fails_usage = run_cli("serve-sync", "--web-port", "9000")
    assert assert_fails_usage.returncode == 2
    assert "unrecognized arguments: --web-port 9000" in assert_fails_usage.stderr


# --- settings -----------------------------------------------------------------------------
def test_settings_shows_effective_values_and_where_they_came_from(tmp_path: Path) -> None:
    toml = tmp_path / "wp.toml"
    toml.write_text('port = 9100\nlog_level = "WARNING"\n')
    env = {"WATCHPARTY_LOG_LEVEL": "DEBUG", "WATCHPARTY_DEMO": "no"}
    result = run_cli("settings", "--json", "--config", str(toml), env=env)
    assert result.returncode == 0, result.stderr
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    assert set(rows) == {s.name for s in SETTINGS}
    assert rows["port"] == rows["port"] | {"value": 9100, "default": 8765}
    assert rows["port"]["source"] == f"config file {toml}"
    assert (rows["log_level"]["value"], rows["log_level"]["source"]) == (
        "DEBUG",
        "environment variable WATCHPARTY_LOG_LEVEL",
    )
    assert (rows["demo"]["value"], rows["demo"]["source"]) == (
        False,
        "environment variable WATCHPARTY_DEMO",
    )
    assert (rows["web_port"]["value"], rows["web_port"]["source"]) == (8000, "default")
    assert rows["web_port"]["applies_to"] == "web"

    table = run_cli("settings", "--config", str(toml), env=env).stdout
    assert f"port                         9100                   (config file {toml})" in table
    # WATCHPARTY_CONFIG names the file when --config does not.
    named = run_cli("settings", "--json", env={"WATCHPARTY_CONFIG": str(toml)})
    assert {r["name"]: r["value"] for r in json.loads(named.stdout)}["port"] == 9100

    assert_fails(
        run_cli("settings", "--config", str(tmp_path / "missing.toml")),
        2,
        "cannot read config file",
    )
    assert_fails(
        run_cli("settings", env={"WATCHPARTY_PORT": "abc"}),
        2,
        "setting 'port' in environment variable WATCHPARTY_PORT must be int, got 'abc'",
    )


# --- createsuperuser ----------------------------------------------------------------------
GOOD = ["--email", "admin@example.org", "--display-name", "Admin"]


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (GOOD, "abc\n", "--password-stdin: the password must be 8 to 1024 characters, got 3"),
        (
            ["--email", "nope", "--display-name", "Admin"],
            "long enough\n",
            "--email: must be an email address like name@example.org",
        ),
        (
            ["--email", "a@example.org", "--display-name", "x" * 41],
            "long enough\n",
            "--display-name: must be 1 to 40 characters",
        ),
        (GOOD, "", "--password-stdin: standard input is empty"),
        (["--email", "a@example.org"], "long enough\n", "missing --display-name"),
        ([], None, "missing --email, --display-name, --password-stdin (run it in a terminal"),
    ],
    ids=["short-password", "bad-email", "long-name", "empty-stdin", "missing-name", "nothing"],
)
def test_createsuperuser_refuses_invalid_input(
    tmp_path: Path, args: list[str], stdin: str | None, message: str
) -> None:
    flags = [*args, "--password-stdin"] if stdin is not None else args
    result = run_cli("createsuperuser", "--db", str(tmp_path / "wp.db"), *flags, stdin=stdin)
    assert_fails(result, 2, message)


def test_createsuperuser_creates_once(tmp_path: Path) -> None:
    db = str(tmp_path / "wp.db")
    created = run_cli(
        "createsuperuser", "--db", db, *GOOD, "--password-stdin", stdin="long enough\n"
    )
    assert created.returncode == 0, created.stderr
    assert created.stdout.startswith("created admin admin@example.org (id ")
    again = run_cli("createsuperuser", "--db", db, *GOOD, "--password-stdin", stdin="long enough\n")
    assert_fails(again, 1, "an account with admin@example.org exists already")


class Terminal:
    """A process on a pseudo-terminal, in a session of its own (so it has no /dev/tty but
    the pty): read what it prints, answer its prompts."""

    def __init__(self, *args: str) -> None:
        self.master, slave = pty.openpty()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "sync_server", *args],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            start_new_session=True,
        )
        os.close(slave)
        self.output = ""
        self.seen = 0
        self.deadline = time.monotonic() + WAIT_S

    def _read(self) -> bool:
        remaining = self.deadline - time.monotonic()
        ready, _, _ = select.select([self.master], [], [], max(0.0, remaining))
        if not ready:
            raise AssertionError(f"no more output in time; so far:\n{self.output}")
        try:
            chunk = os.read(self.master, 4096)
        except OSError:  # EIO: the process ended and closed the terminal
            return False
        self.output += chunk.decode(errors="replace")
        return bool(chunk)

    def expect(self, text: str) -> None:
        while (found := self.output.find(text, self.seen)) < 0:
            if not self._read():
                raise AssertionError(f"{text!r} never came; output:\n{self.output}")
        self.seen = found + len(text)

    def answer(self, text: str) -> None:
        os.write(self.master, text.encode() + b"\n")

    def finish(self) -> int:
        while self._read():
            pass
        os.close(self.master)
        return self.proc.wait(timeout=WAIT_S)


def test_createsuperuser_states_the_rules_and_asks_again(tmp_path: Path) -> None:
    term = Terminal("createsuperuser", "--db", str(tmp_path / "wp.db"))
    term.expect("a password of 8 to 1024 characters")
    term.expect("E-mail: ")
    term.answer("not an address")
    term.expect(
        "must be an email address like name@example.org (at most 254 characters); try again"
    )
    term.expect("E-mail: ")
    term.answer("root@example.org")
    term.expect("Display name (1 to 40 characters): ")
    term.answer("x" * 41)
    term.expect("must be 1 to 40 characters")
    term.expect("Display name (1 to 40 characters): ")
    term.answer("Root")
    term.expect("Password (8 to 1024 characters): ")
    term.answer("abc")
    term.expect("must be 8 to 1024 characters, got 3; try again")
    term.expect("Password (8 to 1024 characters): ")
    term.answer("long enough")
    term.expect("Password (again): ")
    term.answer("something else")
    term.expect("the two passwords differ; try again")
    term.expect("Password (8 to 1024 characters): ")
    term.answer("long enough")
    term.expect("Password (again): ")
    term.answer("long enough")
    term.expect("created admin root@example.org")
    assert term.finish() == 0
    assert "Traceback" not in term.output
    assert "long enough" not in term.output  # the password is never echoed


def test_createsuperuser_prompt_gives_up_after_three_invalid_answers(tmp_path: Path) -> None:
    term = Terminal("createsuperuser", "--db", str(tmp_path / "wp.db"), "--email", "a@example.org")
    for _ in range(3):
        term.expect("Display name (1 to 40 characters): ")
        term.answer("   ")
    term.expect("watchparty: error: no account created: 3 invalid answers")
    assert term.finish() == 2


# --- start-up failures --------------------------------------------------------------------
@pytest.mark.parametrize(
    ("command", "port_flag"),
    [
        ("serve", "--port"),
        ("serve", "--web-port"),
        ("serve-sync", "--port"),
        ("serve-web", "--web-port"),
    ],
)
def test_a_port_in_use_is_named_with_its_cause(
    tmp_path: Path, command: str, port_flag: str
) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        other = "--web-port" if port_flag == "--port" else "--port"
        args = [command, "--db", str(tmp_path / "wp.db"), port_flag, str(port)]
        if command == "serve":
            args += [other, "0"]
        result = run_cli(*args)
    what = "the web app" if port_flag == "--web-port" else "the sync server"
    assert_fails(
        result,
        1,
        f"cannot start {what}: 127.0.0.1:{port} is already in use",
        f"choose another port with {port_flag} (0 picks a free one)",
    )


def test_an_unknown_host_is_named(tmp_path: Path) -> None:
    result = run_cli(
        "serve-sync", "--db", str(tmp_path / "wp.db"), "--host", "no-such-host.invalid"
    )
    assert_fails(result, 1, "cannot start the sync server: cannot resolve the address", "--host")


def test_serve_web_refuses_two_different_sync_ports(tmp_path: Path) -> None:
    result = run_cli(
        "serve-web",
        "--db",
        str(tmp_path / "wp.db"),
        "--sync-url",
        "ws://127.0.0.1:18766/control",
        "--port",
        "8765",
    )
    assert_fails(
        result,
        2,
        "setting 'sync_url' (--sync-url) names port 18766, but setting 'port' (--port) is 8765",
        "public_sync_url",
    )
    bad = run_cli("serve-web", "--db", str(tmp_path / "wp.db"), "--sync-url", "127.0.0.1:8765")
    assert_fails(bad, 2, "setting 'sync_url' in --sync-url must be a ws(s) URL")


# --- cleanup-rooms against a running server -----------------------------------------------
async def _live(db_path: Path) -> list[running.RunningServer]:
    db = await trio.to_thread.run_sync(data.open_database, db_path)
    try:
        return await db.read(
            lambda conn: running.live_servers(conn, now_ms=int(time.time() * 1000))
        )
    finally:
        db.close()


async def test_cleanup_rooms_refuses_while_a_sync_server_runs(tmp_path: Path) -> None:
    db_path, port = tmp_path / "wp.db", free_port()

    async def cleanup(*args: str) -> subprocess.CompletedProcess[str]:
        return await trio.to_thread.run_sync(
            lambda: run_cli("cleanup-rooms", "--db", str(db_path), *args)
        )

    async with watchparty(
        "serve-sync", "--db", str(db_path), "--port", str(port), log=tmp_path / "s.log"
    ):
        with trio.fail_after(WAIT_S):
            while not await trio.to_thread.run_sync(db_path.exists) or not await _live(db_path):
                await trio.sleep(0.05)  # polling a starting process; no event to wait on
        (server,) = await _live(db_path)
        assert server["url"] == f"ws://127.0.0.1:{port}/ws"
        refused = await cleanup()
        assert_fails(
            refused,
            1,
            f"a sync server is running on {db_path} (pid {server['pid']}",
            f"ws://127.0.0.1:{port}/ws",
            "stop it first",
        )
        dry = await cleanup("--dry-run")
        assert dry.returncode == 0, dry.stderr
        assert "0 of 1 rooms idle" in dry.stdout
    assert await _live(db_path) == []  # a clean stop forgets the server
    done = await cleanup()
    assert done.returncode == 0, done.stderr


async def test_a_server_that_died_is_forgotten_after_three_missed_beats(db_path: Path) -> None:
    db = await trio.to_thread.run_sync(data.open_database, db_path)
    try:
        now = 1_000_000_000_000
        beat = dict(pid=1, hostname="h", url="ws://x:1/ws", started_at_ms=now - 60_000)
        await db.write(lambda c: running.beat(c, "dead", now_ms=now - 15_001, **beat))
        await db.write(lambda c: running.beat(c, "alive", now_ms=now - 15_000, **beat))
        live = await db.read(lambda c: running.live_servers(c, now_ms=now))
        assert [s["server_id"] for s in live] == ["alive"]
        await db.write(lambda c: running.beat(c, "dead", now_ms=now, **beat))
        live = await db.read(lambda c: running.live_servers(c, now_ms=now))
        assert [s["server_id"] for s in live] == ["dead", "alive"]
        assert live[0]["started_at_ms"] == now - 60_000
        await db.write(running.forget, "dead")
        assert len(await db.read(lambda c: running.live_servers(c, now_ms=now))) == 1
    finally:
        db.close()


async def test_every_sync_server_is_known_to_its_database_until_its_rooms_are_written(
    db_path: Path,
) -> None:
    async with run_server(db_path) as handle:
        await handle.server.create_room("kept", "Kept", media=None)
        (server,) = await handle.db.read(
            lambda c: running.live_servers(c, now_ms=int(time.time() * 1000))
        )
        assert (server["pid"], server["url"]) == (os.getpid(), handle.url)
    db = await trio.to_thread.run_sync(data.open_database, db_path)
    try:
        now_ms = int(time.time() * 1000)
        assert await db.read(lambda c: running.live_servers(c, now_ms=now_ms)) == []
        assert await db.read(lambda c: room_store.room_exists(c, "kept"))
    finally:
        db.close()


# --- the start-up log ---------------------------------------------------------------------
async def test_start_up_ends_with_the_urls_and_says_once_that_ffprobe_is_missing(
    tmp_path: Path,
) -> None:
    log, web_port = tmp_path / "serve.log", free_port()
    async with watchparty(
        "serve",
        "--db",
        str(tmp_path / "wp.db"),
        "--port",
        "0",
        "--web-port",
        str(web_port),
        "--ffprobe-path",
        str(tmp_path / "no-ffprobe"),
        log=log,
    ):
        base = f"http://127.0.0.1:{web_port}"
        async with httpx.AsyncClient(base_url=base, timeout=10) as http:
            await wait_ready("/api/health/", http)
            with trio.fail_after(WAIT_S):
                while "API docs:" not in await trio.Path(log).read_text():
                    await trio.sleep(0.05)  # the line follows the listening socket
            for path in ("/", "/watch/demo", "/api/docs/"):
                assert (await http.get(path)).status_code == 200, path
    lines = log.read_text().splitlines()
    started = [
        line.split(": ", 1)[1] for line in lines[: lines.index(_line(lines, "API docs:")) + 1]
    ]
    assert started[-3:] == [
        f"start page: {base}/",
        f"demo room:  {base}/watch/demo",
        f"API docs:   {base}/api/docs/",
    ]
    warnings = [line for line in lines if "ffprobe" in line]
    assert len(warnings) == 1, warnings
    assert "WARNING" in warnings[0]
    assert "is not installed: uploaded videos get no duration, and no type check" in warnings[0]
    assert "apt-get install ffmpeg" in warnings[0]


def _line(lines: list[str], text: str) -> str:
    return next(line for line in lines if text in line)
