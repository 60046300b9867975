"""``watchparty play``: the subcommand's options, the session loop and its exit statuses.

The session: resolve ROOM_URL (:mod:`.join`), start mpv or attach to one
(:mod:`.ipc`), then join the room and keep mpv in it (:class:`.bridge.MpvBridge`). A
lost connection is resumed (``hello.resume``) with a randomised exponential back-off
(0.5 s doubling to 30 s, PROTOCOL.md section 9); the session ends when mpv quits
(status 0), when the server will not have us any more, or when it stays unreachable
for :data:`GIVE_UP_S`.
"""

from __future__ import annotations

import argparse
import getpass
import logging
import os
import random
import sys
from collections.abc import Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any

import trio
from trio_websocket import ConnectionClosed, HandshakeError

from protocol import errors as E
from sync_server.client import ClientClosed, ServerError, anchored_clock, open_sync_client

from .bridge import LoadFailedError, MpvBridge
from .ipc import (
    MpvClosedError,
    MpvIpc,
    MpvNotFoundError,
    NotMpvError,
    PlayerError,
    collapse_single_groups,
    launch_mpv,
    open_mpv_ipc,
)
from .join import (
    RoomRefusedError,
    RoomUrlError,
    ServerUnreachableError,
    enter_room,
    parse_room_url,
)

logger = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_PLAYER = 3
EXIT_REFUSED = 4
EXIT_UNREACHABLE = 5
EXIT_INTERRUPTED = 130

#: A connection that cannot be restored for this long ends the session, seconds.
GIVE_UP_S = 300.0
BACKOFF_FIRST_S = 0.5
BACKOFF_MAX_S = 30.0
#: Time sync bursts while joined, seconds apart.
SYNC_INTERVAL_S = 15.0

#: Close codes after which reconnecting is pointless, and what to tell the user.
FINAL_CLOSES = {
    E.CLOSE_AUTH_FAILED: "the server refused the token",
    E.CLOSE_FORBIDDEN: "the room does not admit you (guests may not join it: give --token)",
    E.CLOSE_ROOM_NOT_FOUND: "no room has this code",
    E.CLOSE_UNSUPPORTED_VERSION: "the server speaks another protocol version",
    E.CLOSE_ROOM_FULL: "the room is full",
    E.CLOSE_REPLACED: "the same participant joined from elsewhere",
    E.CLOSE_KICKED: "you were removed from the room",
    E.CLOSE_ROOM_CLOSED: "the room was closed",
    E.CLOSE_NORMAL: "the server ended the session",
}

EPILOG = """\
examples:
  watchparty play http://127.0.0.1:8000/watch/demo
  watchparty play https://watch.example.org/watch/movie-night ~/films/film.mkv
  watchparty play 'ws://127.0.0.1:8765/ws?room=demo' --name Alice --no-chat
  mpv --input-ipc-server=/tmp/mpv.sock film.mkv &
  watchparty play http://127.0.0.1:8000/watch/demo --attach /tmp/mpv.sock

exit status: 0 mpv quit, 2 bad usage or FILE, 3 mpv missing or not mpv,
4 refused by the room, 5 server unreachable, 1 any other failure, 130 Ctrl-C.
"""


def add_play_parser(sub: Any) -> None:
    """Add the ``play`` subcommand to the subparsers *sub* of ``watchparty``."""
    play = sub.add_parser(
        "play",
        help="play a room in mpv, kept in the room's sync",
        description="Start mpv (or attach to a running one) and keep it in a room's sync: "
        "the room's play, pause, seek, rate and media reach mpv at the room's instants, and "
        "what you do in mpv reaches the room when you may control playback. FILE plays your "
        "own copy of the room's media (matched by duration).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    play.add_argument(
        "room_url",
        metavar="ROOM_URL",
        help="the room's watch page (http://HOST/watch/CODE) or ws://HOST:PORT/ws?room=CODE",
    )
    play.add_argument("file", metavar="FILE", nargs="?", help="a local copy of the media to play")
    play.add_argument("--name", help="display name (default: your user name)")
    play.add_argument(
        "--token",
        default=os.environ.get("WATCHPARTY_TOKEN"),
        help="an access token of your account (default: $WATCHPARTY_TOKEN; else a guest)",
    )
    play.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the room's password from the first line of stdin",
    )
    play.add_argument("--attach", metavar="SOCKET", help="use the mpv listening on this IPC socket")
    play.add_argument("--mpv", default="mpv", metavar="PATH", help="the mpv executable")
    play.add_argument(
        "--mpv-arg",
        action="append",
        default=[],
        metavar="ARG",
        help="an option for the mpv started (repeatable), e.g. --mpv-arg=--fs",
    )
    play.add_argument("--no-chat", action="store_true", help="do not show chat and arrivals in mpv")
    play.add_argument(
        "--duration-tolerance",
        type=float,
        default=2.0,
        metavar="SECONDS",
        help="how far FILE's duration may be from the room media's (default 2)",
    )
    play.add_argument("--verbose", "-v", action="store_true", help="log what the bridge does")


@dataclass
class PlayOptions:
    """What ``watchparty play`` was asked to do (the parsed options)."""

    room_url: str
    file: str | None = None
    name: str | None = None
    token: str | None = None
    password_stdin: bool = False
    attach: str | None = None
    mpv: str = "mpv"
    mpv_args: list[str] = field(default_factory=list)
    show_chat: bool = True
    duration_tolerance_s: float = 2.0


def _default_name() -> str:
    try:
        name = getpass.getuser()
    except (KeyError, OSError):
        name = ""
    return (name or "mpv")[:40]


def run_play(args: argparse.Namespace) -> int:
    """Entry of ``watchparty play``: run the session; return the exit status."""
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    options = PlayOptions(
        room_url=args.room_url,
        file=args.file,
        name=args.name,
        token=args.token or None,
        password_stdin=args.password_stdin,
        attach=args.attach,
        mpv=args.mpv,
        mpv_args=list(args.mpv_arg),
        show_chat=not args.no_chat,
        duration_tolerance_s=args.duration_tolerance,
    )
    try:
        return trio.run(play, options)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED


def _say(text: str) -> None:
    print(f"watchparty play: {text}", file=sys.stderr, flush=True)


def _password_asker(from_stdin: bool) -> Callable[[str], str | None]:
    used = False

    def ask(prompt: str) -> str | None:
        nonlocal used
        if from_stdin:
            if used:
                return None
            used = True
            line = sys.stdin.readline().rstrip("\n")
            return line or None
        if not sys.stdin.isatty():
            return None
        return getpass.getpass(prompt) or None

    return ask


async def play(
    options: PlayOptions,
    *,
    notify: Callable[[str], None] = _say,
    ask_password: Callable[[str], str | None] | None = None,
    task_status: trio.TaskStatus[MpvBridge] = trio.TASK_STATUS_IGNORED,
) -> int:
    """Run one ``watchparty play`` session; return its exit status (module constants).

    Args:
        options: The options.
        notify: Where messages for the user go (default: standard error).
        ask_password: Asks for a room's password with a prompt, returning it or
            ``None`` (default: the terminal, or stdin with ``password_stdin``).
        task_status: Started (``nursery.start``) with the bridge once the room is joined
            and mpv follows it (for tests and benchmarks).

    Error handling: every failure the user can cause or meet is one line through
    *notify* and a documented status; nothing is raised but ``trio.Cancelled`` and
    ``KeyboardInterrupt``.
    """
    if options.duration_tolerance_s < 0:
        notify("error: --duration-tolerance must be >= 0")
        return EXIT_USAGE
    local_file: str | None = None
    if options.file is not None:
        path = trio.Path(options.file)
        if not await path.is_file():
            notify(f"error: no file {options.file}")
            return EXIT_USAGE
        local_file = str(await path.absolute())
    try:
        target = parse_room_url(options.room_url)
    except RoomUrlError as exc:
        notify(f"error: {exc}")
        return EXIT_USAGE
    name = options.name or _default_name()
    try:
        if target.sync_url is not None:
            sync_url, token = target.sync_url, options.token
        else:
            entry = await enter_room(
                target,
                display_name=name,
                token=options.token,
                ask_password=ask_password or _password_asker(options.password_stdin),
                notify=notify,
            )
            sync_url, token = entry.sync_url, entry.token
        async with AsyncExitStack() as stack:
            ipc = await _open_player(options, stack)
            clock = anchored_clock()
            bridge = MpvBridge(
                ipc,
                clock=clock,
                web_base=target.web_base,
                local_file=local_file,
                duration_tolerance_s=options.duration_tolerance_s,
                show_chat=options.show_chat,
                notify=notify,
            )
            try:
                await bridge.prepare()
            except LoadFailedError as exc:
                notify(f"error: {exc}")
                return EXIT_USAGE
            return await _session(
                bridge,
                sync_url=sync_url,
                room=target.room,
                name=name,
                token=token,
                clock=clock,
                notify=notify,
                task_status=task_status,
            )
    except RoomRefusedError as exc:
        notify(f"error: {exc}")
        return EXIT_REFUSED
    except ServerUnreachableError as exc:
        notify(f"error: {exc}")
        return EXIT_UNREACHABLE
    except (MpvNotFoundError, NotMpvError) as exc:
        notify(f"error: {exc}")
        return EXIT_PLAYER
    except MpvClosedError as exc:
        if options.attach is not None and "cannot connect" in str(exc):
            notify(f"error: {exc}")
            return EXIT_PLAYER
        return EXIT_OK  # mpv quit while we were setting up
    except PlayerError as exc:
        notify(f"error: {exc}")
        return EXIT_PLAYER if "mpv" in str(exc) else EXIT_FAILED


async def _open_player(options: PlayOptions, stack: AsyncExitStack) -> MpvIpc:
    if options.attach is not None:
        return await stack.enter_async_context(open_mpv_ipc(options.attach))
    ipc, _process = await stack.enter_async_context(
        launch_mpv(executable=options.mpv, args=options.mpv_args)
    )
    return ipc


async def _session(
    bridge: MpvBridge,
    *,
    sync_url: str,
    room: str,
    name: str,
    token: str | None,
    clock: Callable[[], float],
    notify: Callable[[str], None],
    task_status: trio.TaskStatus[MpvBridge],
) -> int:
    """Join, follow, and resume after losses until mpv quits or the room refuses us."""
    resume: dict[str, Any] | None = None
    joined = False
    lost_since: float | None = None
    failures = 0
    while True:
        reason = ""
        try:
            with collapse_single_groups():
                async with open_sync_client(
                    sync_url,
                    room=room,
                    display_name=name if token is None else None,
                    token=token,
                    resume=resume,
                    clock=clock,
                    sync_interval_s=SYNC_INTERVAL_S,
                ) as client:
                    resume = {"session": client.session, "last_seq": client.seq}
                    await client.sync_time()
                    me = client.participants.get(client.participant_id, {})
                    if not joined:
                        notify(
                            f"joined room {room} as {me.get('name', name)} "
                            f"({me.get('role', 'viewer')}); quit mpv to leave"
                        )
                        task_status.started(bridge)
                    else:
                        notify("reconnected")
                    joined, lost_since, failures = True, None, 0
                    try:
                        await bridge.follow(client)
                    finally:
                        resume = {"session": client.session, "last_seq": client.seq}
                    # mpv quit: leave the room for good.
                    with trio.move_on_after(2.0):
                        try:
                            await client.leave()
                        except (ClientClosed, ServerError, ConnectionClosed):
                            pass
                    return EXIT_OK
        except ClientClosed as exc:
            if exc.code == E.CLOSE_AUTH_FAILED and resume is not None:
                resume = None  # the session token expired: join afresh
                reason = "session expired"
            elif exc.code in FINAL_CLOSES:
                notify(f"error: {FINAL_CLOSES[exc.code]} ({exc.code})")
                return EXIT_REFUSED if exc.code != E.CLOSE_NORMAL else EXIT_OK
            else:
                reason = f"closed {exc.code}"
        except ServerError as exc:
            notify(f"error: the server refused to join: {exc}")
            return EXIT_REFUSED
        except (OSError, HandshakeError, ConnectionClosed, trio.TooSlowError) as exc:
            if not joined:
                notify(f"error: cannot reach the sync server at {sync_url}: {exc}")
                return EXIT_UNREACHABLE
            reason = type(exc).__name__
        if bridge.mpv.closed.is_set():
            return EXIT_OK
        now = trio.current_time()
        lost_since = now if lost_since is None else lost_since
        if now - lost_since > GIVE_UP_S:
            notify(f"error: the sync server stayed unreachable for {GIVE_UP_S:g} s")
            return EXIT_UNREACHABLE
        delay = min(BACKOFF_MAX_S, BACKOFF_FIRST_S * 2**failures) * random.uniform(0.5, 1.0)
        failures += 1
        notify(f"connection lost ({reason}); reconnecting in {delay:.1f} s")
        await bridge.mpv.show_text("watchparty: connection lost, reconnecting…", 3000)
        with trio.move_on_after(delay):
            await bridge.mpv.closed.wait()
        if bridge.mpv.closed.is_set():
            return EXIT_OK


__all__ = [
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_PLAYER",
    "EXIT_REFUSED",
    "EXIT_UNREACHABLE",
    "EXIT_USAGE",
    "PlayOptions",
    "add_play_parser",
    "play",
    "run_play",
]
