"""The ``watchparty`` command line.

Subcommands:
    serve     Run the sync server until SIGINT or SIGTERM.
    settings  List every setting with its default, unit and environment variable.
    rooms     List the rooms stored in the database.

Every setting can come from a flag, a ``WATCHPARTY_*`` environment variable or a
TOML file (``--config``); see ``watchparty settings``.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
from collections.abc import Sequence
from typing import Any

import trio

import data
from data import rooms as room_store
from sync_server.config import ENV_PREFIX, SETTINGS, Config, ConfigError, load_config
from sync_server.logs import setup_logging
from sync_server.server import serve_sync

logger = logging.getLogger("watchparty")

EPILOG_SERVE = """\
examples:
  watchparty serve                         # ws://127.0.0.1:8765/ws, ./watchparty.db, demo room
  watchparty serve --host 0.0.0.0 --port 9000 --db /var/lib/watchparty/wp.db
  WATCHPARTY_LOG_FORMAT=json watchparty serve --config /etc/watchparty.toml

Players connect to ws://HOST:PORT/ws and send a hello (see protocol/PROTOCOL.md).
Settings come from --config (TOML), then WATCHPARTY_* variables, then flags.
"""


def _add_setting_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("settings (also WATCHPARTY_<NAME> or the TOML file)")
    for s in SETTINGS:
        flag = "--" + s.name.replace("_", "-")
        unit = f" [{s.unit}]" if s.unit else ""
        helptext = f"{s.help}{unit} (default: {s.default!r})"
        if isinstance(s.default, bool):
            group.add_argument(
                flag, dest=s.name, action=argparse.BooleanOptionalAction, default=None, help=helptext
            )
        else:
            group.add_argument(flag, dest=s.name, type=str, default=None, metavar=s.name.upper(), help=helptext)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="watchparty",
        description="Self-hosted watch-together server: rooms, frame-level playback sync, chat.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    serve = sub.add_parser(
        "serve",
        help="run the sync server until SIGINT/SIGTERM",
        description="Run the sync server. Rooms live in memory and are snapshotted to SQLite; "
        "SIGINT or SIGTERM closes every connection (1001) and writes every room before exit.",
        epilog=EPILOG_SERVE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    serve.add_argument("--config", metavar="FILE", help="TOML settings file")
    _add_setting_flags(serve)

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
    return parser


def _config_from(args: argparse.Namespace) -> Config:
    overrides = {s.name: getattr(args, s.name, None) for s in SETTINGS}
    toml_path = getattr(args, "config", None)
    return load_config(toml_path=toml_path, overrides=overrides)


async def _serve(config: Config) -> None:
    async with trio.open_nursery() as nursery:
        with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            await nursery.start(serve_sync, config)

            async def stop_on_signal() -> None:
                async for signum in signals:
                    logger.info("received %s; shutting down", signal.Signals(signum).name)
                    nursery.cancel_scope.cancel()
                    return

            nursery.start_soon(stop_on_signal)
            await trio.sleep_forever()


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
        print(f"{snap['code']:<34} {snap['name'][:30]:<32} {state:<8} seq={snap['last_seq']:<6} {media}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``watchparty`` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "settings":
            return _cmd_settings(args.json)
        if args.command == "rooms":
            config = load_config(toml_path=args.config, overrides={"db": args.db})
            return _cmd_rooms(config)
        config = _config_from(args)
    except ConfigError as exc:
        print(f"watchparty: error: {exc}", file=sys.stderr)
        return 2
    setup_logging(config.log_level, config.log_format)
    try:
        trio.run(_serve, config)
    except KeyboardInterrupt:  # a second Ctrl-C before the handler was installed
        return 130
    except OSError as exc:
        logger.error("cannot start: %s", exc)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
