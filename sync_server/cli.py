"""The ``watchparty`` command line.

Subcommands:
    serve            Run the sync server and the web app in one process.
    serve-sync       Run only the sync server.
    serve-web        Run only the web app, reaching a separate sync server.
    createsuperuser  Create an admin account.
    settings         List every setting with its default, unit and environment variable.
    rooms            List the rooms stored in the database.
    cleanup-rooms    Delete rooms idle for some hours (for a stopped server).
    play             Play a room in mpv, kept in the room's sync (sync_server/player/).

Every setting can come from a flag, a ``WATCHPARTY_*`` environment variable or a
TOML file (``--config``); see ``watchparty settings``.
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import signal
import sys
import time
from collections.abc import Sequence
from contextlib import AsyncExitStack
from functools import partial
from typing import Any

import trio

import data
from data import rooms as room_store
from protocol.errors import WatchpartyError
from sync_server.config import ENV_PREFIX, SETTINGS, Config, ConfigError, load_config
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
"""


def _add_setting_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("settings (also WATCHPARTY_<NAME> or the TOML file)")
    for s in SETTINGS:
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
    _add_setting_flags(serve)

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
        _add_setting_flags(one)

    su = sub.add_parser(
        "createsuperuser",
        help="create an admin account",
        description="Create an account with the admin role. Asks for what is not given "
        "as an option when a terminal is attached.",
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
        help="list every setting, its default, unit and environment variable",
        epilog="example:\n  watchparty settings --json",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    settings.add_argument("--json", action="store_true", help="print JSON instead of a table")

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
        help="delete rooms idle for some hours (for a stopped server)",
        description="Delete stored rooms, with their chat, whose last change is older than "
        "--hours. For a stopped server: a running one deletes idle rooms by itself "
        "(room_idle_ttl_s). The demo room is kept.",
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

    from sync_server.player.cli import add_play_parser

    add_play_parser(sub)
    return parser


def _config_from(args: argparse.Namespace) -> Config:
    overrides = {s.name: getattr(args, s.name, None) for s in SETTINGS}
    toml_path = getattr(args, "config", None)
    return load_config(toml_path=toml_path, overrides=overrides)


async def _serve(config: Config, *, sync: bool = True, web: bool = True) -> None:
    """Run the chosen servers on one database until SIGINT or SIGTERM."""
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
                    sync_server = await nursery.start(partial(serve_sync, config, db=db))
                    rooms, secret = LocalRoomControl(sync_server), sync_server.secret
                else:
                    secret = await open_server_secret(config, db, time.time() * 1000.0)
                    url = config.sync_url or f"ws://127.0.0.1:{config.port}/control"
                    rooms = await stack.enter_async_context(open_remote_room_control(url, secret))
                if web:
                    from admin_app import serve_web

                    if sync and config.port == 0 and not config.public_sync_url:
                        # The sync port is known only now; pages and room details need it.
                        host = "127.0.0.1" if config.host in ("0.0.0.0", "::") else config.host
                        public = f"ws://{host}:{sync_server.port}/ws"
                        config = config.with_changes(public_sync_url=public)

                    web_server = await nursery.start(
                        partial(serve_web, config, db=db, rooms=rooms, secret=secret)
                    )
                    if sync and sync_server.web_url is None:
                        sync_server.web_url = local_web_url(config.web_host, web_server.port)
                # What start-up built (modules, restored rooms, the web app) lives as
                # long as the process: keep it out of every later collection's scan.
                gc.freeze()
                await trio.sleep_forever()
    finally:
        db.close()


def local_web_url(web_host: str, port: int) -> str | None:
    """``http://web_host:port`` for the web app of this process, or ``None`` when it
    listens on every address (``0.0.0.0``, ``::``): then only ``public_web_url`` knows
    which address clients reach."""
    if web_host in ("0.0.0.0", "::", ""):
        return None
    host = f"[{web_host}]" if ":" in web_host else web_host
    return f"http://{host}:{port}"


def _cmd_settings(as_json: bool) -> int:
    rows = [
        {
            "name": s.name,
            "default": s.default,
            "unit": s.unit,
            "env": ENV_PREFIX + s.name.upper(),
            "help": s.help,
        }
        for s in SETTINGS
    ]
    if as_json:
        print(json.dumps(rows, indent=2))
        return 0
    for r in rows:
        unit = f" [{r['unit']}]" if r["unit"] else ""
        print(f"{r['name']:<28} {r['default']!r:<18} {r['env']}\n    {r['help']}{unit}")
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
    cutoff_ms = time.time() * 1000.0 - hours * 3_600_000.0
    db = data.open_database(config.db)
    try:
        snaps: list[Any] = db.read_sync(room_store.load_room_snapshots)
        idle = [s for s in snaps if s["updated_at_ms"] < cutoff_ms and s["code"] != DEMO_ROOM_CODE]
        for snap in idle:
            age_h = (time.time() * 1000.0 - snap["updated_at_ms"]) / 3_600_000.0
            verb = "would delete" if dry_run else "deleted"
            if not dry_run:
                db.write_sync(room_store.delete_room, snap["code"])
            print(f"{verb} {snap['code']} ({snap['name']}), idle {age_h:.1f} h")
    finally:
        db.close()
    print(f"{len(idle)} of {len(snaps)} rooms idle for more than {hours:g} h")
    return 0


def _cmd_createsuperuser(config: Config, args: argparse.Namespace) -> int:
    import getpass

    from admin_app import create_superuser

    interactive = sys.stdin.isatty()
    email = args.email or (input("E-mail: ").strip() if interactive else "")
    name = args.display_name or (input("Display name: ").strip() if interactive else "")
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    elif interactive:
        password = getpass.getpass("Password: ")
        if password != getpass.getpass("Password (again): "):
            print("watchparty: error: the passwords differ", file=sys.stderr)
            return 2
    else:
        password = ""
    if not (email and name and password):
        print(
            "watchparty: error: give --email, --display-name and --password-stdin "
            "(or run it in a terminal to be asked)",
            file=sys.stderr,
        )
        return 2

    async def run() -> dict[str, Any]:
        db = await trio.to_thread.run_sync(data.open_database, config.db)
        try:
            user: dict[str, Any] = await create_superuser(
                db, email=email, password=password, display_name=name
            )
            return user
        finally:
            db.close()

    try:
        user = trio.run(run)
    except WatchpartyError as exc:
        print(f"watchparty: error: {exc}", file=sys.stderr)
        return 1
    print(f"created admin {user['email']} (id {user['id']})")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``watchparty`` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "play":
        from sync_server.player.cli import run_play

        return run_play(args)
    try:
        if args.command == "settings":
            return _cmd_settings(args.json)
        if args.command == "rooms":
            config = load_config(toml_path=args.config, overrides={"db": args.db})
            return _cmd_rooms(config)
        if args.command == "cleanup-rooms":
            config = load_config(toml_path=args.config, overrides={"db": args.db})
            return _cmd_cleanup_rooms(config, args.hours, args.dry_run)
        if args.command == "createsuperuser":
            config = load_config(toml_path=args.config, overrides={"db": args.db})
            return _cmd_createsuperuser(config, args)
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
        # trio delivers a failure to bind (port in use) inside an exception group.
        group = exc if isinstance(exc, ExceptionGroup) else ExceptionGroup("", [exc])
        oserrors = group.subgroup(OSError)
        if oserrors is None:
            raise
        for error in oserrors.exceptions:
            logger.error("cannot start: %s", error)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
