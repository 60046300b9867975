"""The ``watchparty`` command line.

Subcommands:
    serve            Run the sync server and the web app in one process.
    serve-sync       Run only the sync server.
    serve-web        Run only the web app, reaching a separate sync server.
    createsuperuser  Create an admin account.
    settings         List every setting: its effective value and where it came from.
    rooms            List the rooms stored in the database.
    cleanup-rooms    Delete rooms idle for some hours (refused while a server runs).

Every setting can come from a flag, a ``WATCHPARTY_*`` environment variable or a
TOML file (``--config``); see ``watchparty settings``. Every failure is one line on
standard error saying what failed and what to do, with exit status 1 (could not start
or could not do it) or 2 (bad configuration or usage); never a traceback.
"""

from __future__ import annotations

import argparse
import errno
import gc
import json
import logging
import os
import shutil
import signal
import socket
import sys
import time
from collections.abc import Sequence
from contextlib import AsyncExitStack
from functools import partial
from typing import Any

import trio

import data
from data import rooms as room_store
from data import running
from protocol.errors import WatchpartyError
from sync_server.config import (
    ENV_PREFIX,
    SETTINGS,
    Config,
    ConfigError,
    load_config,
    load_config_with_sources,
)
from sync_server.logs import setup_logging
from sync_server.server import serve_sync

logger = logging.getLogger("watchparty")

EPILOG_SERVE = """\
examples:
  watchparty serve        # sync ws://127.0.0.1:8765/ws + web http://127.0.0.1:8000/api/docs/
  watchparty serve --host 0.0.0.0 --web-host 0.0.0.0 --db /var/lib/watchparty/wp.db
  WATCHPARTY_LOG_FORMAT=json watchparty serve --config /etc/watchparty.toml

Players connect to ws://HOST:PORT/ws and send a hello (see protocol/PROTOCOL.md); the
REST API and its docs page are on the web port. Settings come from --config (TOML),
then WATCHPARTY_* variables, then flags.
"""

EPILOG_SERVE_SYNC = """\
example:
  watchparty serve-sync --port 8765 --db /var/lib/watchparty/wp.db

Run the web app apart with serve-web on the same database.
"""

EPILOG_SERVE_WEB = """\
example:
  watchparty serve-web --web-port 8000 --sync-url ws://127.0.0.1:8765/control \\
      --db /var/lib/watchparty/wp.db

The web app changes live rooms only through the sync server's control socket;
--sync-url defaults to ws://127.0.0.1:PORT/control with PORT the --port setting.
Browsers and REST clients are sent to the sync socket on the port of --sync-url
(ws://<the host they asked>:PORT/ws) unless --public-sync-url says otherwise.
"""

#: Which settings each server command offers as flags (see Setting.applies_to).
COMMAND_SCOPES = {
    "serve": ("sync", "web", "both"),
    "serve-sync": ("sync", "both"),
    "serve-web": ("web", "both"),
}


class StartupError(WatchpartyError):
    """A server could not start; the message names what failed, where, and what to do."""


def package_version() -> str:
    """The installed version of the ``watchparty`` distribution, or ``"unknown"``."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("watchparty")
    except PackageNotFoundError:
        return "unknown"


def _add_setting_flags(parser: argparse.ArgumentParser, command: str) -> None:
    group = parser.add_argument_group(
        "settings of this command (also WATCHPARTY_<NAME> or the TOML file)"
    )
    for s in SETTINGS:
        if s.applies_to not in COMMAND_SCOPES[command]:
            continue
        flag = "--" + s.name.replace("_", "-")
        unit = f" [{s.unit}]" if s.unit else ""
        helptext = f"{s.help}{unit} (default: {s.default!r})"
        if isinstance(s.default, bool):
            group.add_argument(
                flag,
                dest=s.name,
                action=argparse.BooleanOptionalAction,
                default=None,
                help=helptext,
            )
        else:
            group.add_argument(
                flag, dest=s.name, type=str, default=None, metavar=s.name.upper(), help=helptext
            )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="watchparty",
        description="Self-hosted watch-together server: rooms, frame-level playback sync, chat.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"watchparty {package_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    serve = sub.add_parser(
        "serve",
        help="run the sync server and the web app in one process",
        description="Run the sync server and the web app in one process on one database. "
        "Rooms live in memory and are snapshotted to SQLite; SIGINT or SIGTERM closes every "
        "connection (1001) and writes every room before exit.",
        epilog=EPILOG_SERVE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    serve.add_argument("--config", metavar="FILE", help="TOML settings file")
    _add_setting_flags(serve, "serve")

    for name, helptext, epilog in (
        ("serve-sync", "run only the sync server", EPILOG_SERVE_SYNC),
        ("serve-web", "run only the web app (REST API, pages)", EPILOG_SERVE_WEB),
    ):
        one = sub.add_parser(
            name,
            help=helptext,
            description=helptext.capitalize() + "; stops cleanly on SIGINT/SIGTERM.",
            epilog=epilog,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        one.add_argument("--config", metavar="FILE", help="TOML settings file")
        _add_setting_flags(one, name)

    su = sub.add_parser(
        "createsuperuser",
        help="create an admin account",
        description="Create an account with the admin role: an e-mail address like "
        "name@example.org, a display name of 1 to 40 characters and a password of 8 to "
        "1024 characters. In a terminal it asks for what the options do not give, and "
        "asks again until an answer is valid.",
        epilog="example:\n  watchparty createsuperuser --email admin@example.org "
        "--display-name Admin --password-stdin < pw.txt",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    su.add_argument("--email", help="e-mail address to sign in with")
    su.add_argument("--display-name", help="name shown to others")
    su.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    su.add_argument("--db", default=None, help="SQLite database file (default: watchparty.db)")
    su.add_argument("--config", metavar="FILE", help="TOML settings file")

    settings = sub.add_parser(
        "settings",
        help="list every setting: its effective value and where it came from",
        description="List every setting with the value a server started here would use "
        "(from --config or WATCHPARTY_CONFIG, WATCHPARTY_* variables, else the default), "
        "where that value came from, its default, unit and environment variable.",
        epilog="examples:\n  watchparty settings --config /etc/watchparty.toml\n"
        "  watchparty settings --json",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    settings.add_argument("--json", action="store_true", help="print JSON instead of a table")
    settings.add_argument("--config", metavar="FILE", help="TOML settings file")

    rooms = sub.add_parser(
        "rooms",
        help="list the rooms stored in the database",
        epilog="example:\n  watchparty rooms --db /var/lib/watchparty/wp.db",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    rooms.add_argument("--db", default=None, help="SQLite database file (default: watchparty.db)")
    rooms.add_argument("--config", metavar="FILE", help="TOML settings file")

    cleanup = sub.add_parser(
        "cleanup-rooms",
        help="delete rooms idle for some hours (refused while a server runs)",
        description="Delete stored rooms, with their chat, whose last change is older than "
        "--hours. Refused while a sync server runs on the database (it holds the rooms in "
        "memory and deletes idle ones by itself after room_idle_ttl_s); --dry-run is "
        "always allowed. The demo room is kept.",
        epilog="examples:\n  watchparty cleanup-rooms --dry-run\n"
        "  watchparty cleanup-rooms --hours 6 --db /var/lib/watchparty/wp.db",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    cleanup.add_argument("--hours", type=float, default=24.0, help="idle time, hours (default 24)")
    cleanup.add_argument(
        "--dry-run", action="store_true", help="list what would go; delete nothing"
    )
    cleanup.add_argument("--db", default=None, help="SQLite database file (default: watchparty.db)")
    cleanup.add_argument("--config", metavar="FILE", help="TOML settings file")
    return parser


def _config_from(args: argparse.Namespace) -> Config:
    overrides = {s.name: getattr(args, s.name, None) for s in SETTINGS}
    toml_path = getattr(args, "config", None)
    config, sources = load_config_with_sources(toml_path=toml_path, overrides=overrides)
    if args.command == "serve-web":
        config = web_config_for_remote_sync(config, sources)
    return config


def web_config_for_remote_sync(config: Config, sources: dict[str, str]) -> Config:
    """The configuration of ``serve-web``, made consistent with its ``sync_url``.

    Browsers and REST clients are sent to ``public_sync_url`` when it is set, else to
    ``ws(s)://<the host they asked>:<port>/ws``. A web app told where the sync server
    is (``sync_url``) uses that URL's port as ``port``, so both point at one server.

    Args:
        config: The loaded configuration.
        sources: Where each setting came from (:func:`load_config_with_sources`).

    Returns:
        *config*, with ``port`` taken from ``sync_url`` when that was given and
        ``port`` was not.

    Raises:
        ConfigError: when ``sync_url`` and an explicitly set ``port`` name two
            different ports and no ``public_sync_url`` says which one clients use.
    """
    from urllib.parse import urlsplit

    if not config.sync_url:
        return config
    parts = urlsplit(config.sync_url)
    sync_port = parts.port or (443 if parts.scheme == "wss" else 80)
    if sync_port == config.port or config.public_sync_url:
        return config
    if sources["port"] != "default":
        raise ConfigError(
            f"setting 'sync_url' ({sources['sync_url']}) names port {sync_port}, but "
            f"setting 'port' ({sources['port']}) is {config.port}: clients would be sent to "
            f"the sync socket on port {config.port}. Drop 'port', make the two agree, or set "
            f"'public_sync_url' to the URL clients should use (ws://HOST:{sync_port}/ws)"
        )
    return config.with_changes(port=sync_port)


def _leaves(exc: BaseException) -> list[BaseException]:
    """The exceptions inside *exc*, exception groups flattened."""
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for inner in exc.exceptions for leaf in _leaves(inner)]
    return [exc]


def startup_error(exc: BaseException, what: str, host: str, port: int, flag: str) -> StartupError:
    """A :class:`StartupError` for *exc*, a failure to listen on *host*:*port*.

    Args:
        exc: What starting raised: an ``OSError``, maybe inside exception groups.
        what: ``"the sync server"`` or ``"the web app"``.
        host, port: Where it was to listen.
        flag: The flag that sets the port (``--port``, ``--web-port``).

    Returns:
        The error to raise. Its message names the address, the cause and what to do.

    Raises:
        BaseException: *exc* itself when it holds no ``OSError`` (a bug or a
            cancellation, which must propagate as it is).
    """
    oserrors = [e for e in _leaves(exc) if isinstance(e, OSError)]
    if not oserrors:
        raise exc
    error = oserrors[0]
    where = f"{host}:{port}"
    host_flag = "--web-host" if flag == "--web-port" else "--host"
    if isinstance(error, socket.gaierror):
        hint = f"cannot resolve the address {host!r} ({error.strerror}): fix {host_flag}"
    elif error.errno == errno.EADDRINUSE:
        hint = (
            f"{where} is already in use: another program (another watchparty?) listens "
            f"there. Stop it, or choose another port with {flag} (0 picks a free one)"
        )
    elif error.errno in (errno.EACCES, errno.EPERM):
        hint = (
            f"permission denied for {where}: ports below 1024 need privileges. Use a "
            f"port of 1024 or more with {flag}, behind a reverse proxy (docs/deploy.md)"
        )
    elif error.errno == errno.EADDRNOTAVAIL:
        hint = f"{host} is not an address of this machine: fix {host_flag}"
    else:
        hint = f"cannot listen on {where}: {error.strerror or error}"
    return StartupError(f"cannot start {what}: {hint}")


async def _serve(config: Config, *, sync: bool = True, web: bool = True) -> None:
    """Run the chosen servers on one database until SIGINT or SIGTERM.

    Raises:
        StartupError: when a server cannot listen (port in use, no permission...).
    """
    from sync_server.control import LocalRoomControl, open_remote_room_control
    from sync_server.server import open_server_secret

    db = await trio.to_thread.run_sync(
        lambda: data.open_database(config.db, read_connections=config.db_read_connections)
    )
    try:
        async with trio.open_nursery() as nursery, AsyncExitStack() as stack:
            with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:

                async def stop_on_signal() -> None:
                    async for signum in signals:
                        logger.info("received %s; shutting down", signal.Signals(signum).name)
                        nursery.cancel_scope.cancel()
                        return

                nursery.start_soon(stop_on_signal)
                rooms: Any
                if sync:
                    try:
                        sync_server = await nursery.start(partial(serve_sync, config, db=db))
                    except Exception as exc:
                        raise startup_error(
                            exc, "the sync server", config.host, config.port, "--port"
                        ) from exc
                    rooms, secret = LocalRoomControl(sync_server), sync_server.secret
                    host = "127.0.0.1" if config.host in ("0.0.0.0", "::") else config.host
                    sync_url = f"ws://{host}:{sync_server.port}/ws"
                else:
                    secret = await open_server_secret(config, db, time.time() * 1000.0)
                    url = config.sync_url or f"ws://127.0.0.1:{config.port}/control"
                    rooms = await stack.enter_async_context(open_remote_room_control(url, secret))
                if web:
                    from admin_app import serve_web

                    if sync and config.port == 0 and not config.public_sync_url:
                        # The sync port is known only now; pages and room details need it.
                        config = config.with_changes(public_sync_url=sync_url)
                    warn_if_no_ffprobe(config.ffprobe_path)
                    try:
                        web_server = await nursery.start(
                            partial(serve_web, config, db=db, rooms=rooms, secret=secret)
                        )
                    except Exception as exc:
                        raise startup_error(
                            exc, "the web app", config.web_host, config.web_port, "--web-port"
                        ) from exc
                    if sync and sync_server.web_url is None:
                        sync_server.web_url = local_web_url(config.web_host, web_server.port)
                    demo = config.demo if sync else await _has_demo_room(db)
                    _log_urls(config, web_server.port, demo=demo)
                # What start-up built (modules, restored rooms, the web app) lives as
                # long as the process: keep it out of every later collection's scan.
                gc.freeze()
                await trio.sleep_forever()
    finally:
        db.close()


async def _has_demo_room(db: data.Database) -> bool:
    from sync_server.server import DEMO_ROOM_CODE

    snaps: list[Any] = await db.read(room_store.load_room_snapshots)
    return any(s["code"] == DEMO_ROOM_CODE for s in snaps)


def warn_if_no_ffprobe(ffprobe_path: str) -> bool:
    """Log once, at start, that ffprobe is missing and what that costs.

    Returns:
        Whether a warning was logged.
    """
    if ffprobe_path and shutil.which(ffprobe_path) is not None:
        return False
    which = f"ffprobe ({ffprobe_path!r}) is not installed" if ffprobe_path else "ffprobe is off"
    logger.warning(
        "%s: uploaded videos get no duration, and no type check beyond sniffing their "
        "first bytes. Install FFmpeg (Debian: apt-get install ffmpeg) or set ffprobe_path",
        which,
    )
    return True


def _log_urls(config: Config, web_port: int, *, demo: bool) -> None:
    """End the start-up log with the pages a person opens."""
    from sync_server.server import DEMO_ROOM_CODE

    base = config.public_web_url.rstrip("/") or local_web_url(config.web_host, web_port)
    if base is None:  # listening on every address: this machine reaches it on loopback
        base = f"http://127.0.0.1:{web_port}"
    logger.info("start page: %s/", base)
    if demo:
        logger.info("demo room:  %s/watch/%s", base, DEMO_ROOM_CODE)
    logger.info("API docs:   %s/api/docs/", base)


def local_web_url(web_host: str, port: int) -> str | None:
    """``http://web_host:port`` for the web app of this process, or ``None`` when it
    listens on every address (``0.0.0.0``, ``::``): then only ``public_web_url`` knows
    which address clients reach."""
    if web_host in ("0.0.0.0", "::", ""):
        return None
    host = f"[{web_host}]" if ":" in web_host else web_host
    return f"http://{host}:{port}"


def _cmd_settings(toml_path: str | None, as_json: bool) -> int:
    config, sources = load_config_with_sources(toml_path=toml_path)
    rows = [
        {
            "name": s.name,
            "value": getattr(config, s.name),
            "source": sources[s.name],
            "default": s.default,
            "unit": s.unit,
            "applies_to": s.applies_to,
            "env": ENV_PREFIX + s.name.upper(),
            "help": s.help,
        }
        for s in SETTINGS
    ]
    if as_json:
        print(json.dumps(rows, indent=2))
        return 0
    scope = {"sync": "serve-sync and serve", "web": "serve-web and serve", "both": "every server"}
    for r in rows:
        unit = f" [{r['unit']}]" if r["unit"] else ""
        print(f"{r['name']:<28} {r['value']!r:<22} ({r['source']})")
        print(f"    {r['help']}{unit}")
        print(f"    default {r['default']!r}; {r['env']}; read by {scope[r['applies_to']]}")
    return 0


def _cmd_rooms(config: Config) -> int:
    from pathlib import Path

    if not Path(config.db).exists():
        print(f"watchparty: error: no database at {config.db}", file=sys.stderr)
        return 2
    db = data.open_database(config.db)
    try:
        snaps: list[Any] = db.read_sync(room_store.load_room_snapshots)
    finally:
        db.close()
    if not snaps:
        print(f"no rooms in {config.db}")
        return 0
    for snap in snaps:
        playback = snap["state"].get("playback", {})
        media = (playback.get("media") or {}).get("title") or "-"
        state = "paused" if playback.get("paused", True) else "playing"
        name = snap["name"][:30]
        print(f"{snap['code']:<34} {name:<32} {state:<8} seq={snap['last_seq']:<6} {media}")
    return 0


def _cmd_cleanup_rooms(config: Config, hours: float, dry_run: bool) -> int:
    from pathlib import Path

    from sync_server.server import DEMO_ROOM_CODE

    if hours < 0:
        print("watchparty: error: --hours must be >= 0", file=sys.stderr)
        return 2
    if not Path(config.db).exists():
        print(f"watchparty: error: no database at {config.db}", file=sys.stderr)
        return 2
    now_ms = time.time() * 1000.0
    cutoff_ms = now_ms - hours * 3_600_000.0
    db = data.open_database(config.db)
    try:
        live = db.read_sync(partial(running.live_servers, now_ms=int(now_ms)))
        if live and not dry_run:
            server = live[0]
            seen_s = max(0.0, (now_ms - server["beat_at_ms"]) / 1000.0)
            print(
                f"watchparty: error: a sync server is running on {config.db} (pid "
                f"{server['pid']} on {server['hostname']}, {server['url']}, seen "
                f"{seen_s:.0f} s ago); it holds the rooms in memory and would keep serving "
                f"deleted ones. It deletes idle rooms by itself (room_idle_ttl_s); to clean "
                f"up now, stop it first (a server that died is forgotten after "
                f"{running.STALE_AFTER_S:g} s)",
                file=sys.stderr,
            )
            return 1
        snaps: list[Any] = db.read_sync(room_store.load_room_snapshots)
        idle = [s for s in snaps if s["updated_at_ms"] < cutoff_ms and s["code"] != DEMO_ROOM_CODE]
        for snap in idle:
            age_h = (now_ms - snap["updated_at_ms"]) / 3_600_000.0
            verb = "would delete" if dry_run else "deleted"
            if not dry_run:
                db.write_sync(room_store.delete_room, snap["code"])
            print(f"{verb} {snap['code']} ({snap['name']}), idle {age_h:.1f} h")
    finally:
        db.close()
    print(f"{len(idle)} of {len(snaps)} rooms idle for more than {hours:g} h")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``watchparty`` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return _run(args)
    except BrokenPipeError:
        # The reader went away (`watchparty settings | head`): nothing is wrong here.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def _run(args: argparse.Namespace) -> int:
    from sync_server.cli_accounts import cmd_createsuperuser

    try:
        if args.command == "settings":
            return _cmd_settings(args.config, args.json)
        if args.command == "rooms":
            config = load_config(toml_path=args.config, overrides={"db": args.db})
            return _cmd_rooms(config)
        if args.command == "cleanup-rooms":
            config = load_config(toml_path=args.config, overrides={"db": args.db})
            return _cmd_cleanup_rooms(config, args.hours, args.dry_run)
        if args.command == "createsuperuser":
            config = load_config(toml_path=args.config, overrides={"db": args.db})
            return cmd_createsuperuser(config, args)
        config = _config_from(args)
    except ConfigError as exc:
        print(f"watchparty: error: {exc}", file=sys.stderr)
        return 2
    setup_logging(config.log_level, config.log_format)
    which = {"serve": (True, True), "serve-sync": (True, False), "serve-web": (False, True)}
    sync, web = which[args.command]
    try:
        trio.run(partial(_serve, config, sync=sync, web=web))
    except KeyboardInterrupt:  # a second Ctrl-C before the handler was installed
        return 130
    except Exception as exc:
        failures = [e for e in _leaves(exc) if isinstance(e, StartupError)]
        if not failures:
            raise
        for failure in failures:
            print(f"watchparty: error: {failure}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
