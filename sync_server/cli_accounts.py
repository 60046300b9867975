"""``watchparty createsuperuser``: create an admin account from the command line.

The rules are those of the REST API (``admin_app.check_email`` and its siblings): an
e-mail address like ``name@example.org`` (at most 254 characters), a display name of 1
to 40 characters without control characters, a password of 8 to 1024 characters. In a
terminal the command states them, asks for what the options do not give, and asks
again after an invalid answer; without one, an invalid or missing value is one line on
standard error naming the option (exit status 2).
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Callable
from typing import Any

import trio

import data
from data import users as user_store
from protocol.errors import WatchpartyError
from sync_server.config import Config

RULES = (
    "An admin account needs an e-mail address like name@example.org, a display name of "
    "1 to 40 characters and a password of 8 to 1024 characters."
)

#: Invalid answers in a row before an interactive prompt gives up.
MAX_ATTEMPTS = 3


class _Abort(Exception):
    """The interactive prompt ends (end of input, or too many invalid answers)."""


def _ask(prompt: str, check: Callable[[str], str], *, secret: bool = False) -> str:
    """Ask until *check* accepts the answer; raises _Abort after MAX_ATTEMPTS."""
    for _ in range(MAX_ATTEMPTS):
        try:
            answer = getpass.getpass(prompt) if secret else input(prompt)
        except EOFError:
            raise _Abort("no answer (end of input)") from None
        try:
            return check(answer)
        except ValueError as exc:
            print(f"  {exc}; try again", file=sys.stderr)
    raise _Abort(f"{MAX_ATTEMPTS} invalid answers")


def _ask_password() -> str:
    from admin_app import check_password

    for _ in range(MAX_ATTEMPTS):
        password = _ask("Password (8 to 1024 characters): ", check_password, secret=True)
        try:
            again = getpass.getpass("Password (again): ")
        except EOFError:
            raise _Abort("no answer (end of input)") from None
        if again == password:
            return password
        print("  the two passwords differ; try again", file=sys.stderr)
    raise _Abort(f"the passwords differed {MAX_ATTEMPTS} times")


def _error(message: str, status: int = 2) -> int:
    print(f"watchparty: error: {message}", file=sys.stderr)
    return status


def cmd_createsuperuser(config: Config, args: argparse.Namespace) -> int:
    """Run ``watchparty createsuperuser``; returns the exit status.

    Returns:
        0 when the account was created; 2 for a missing or invalid value (or an
        interactive prompt that ended); 1 when the account cannot be created (the
        e-mail address is taken).
    """
    from admin_app import check_display_name, check_email, check_password, create_superuser

    given: dict[str, Any] = {}
    for option, key, value, check in (
        ("--email", "email", args.email, check_email),
        ("--display-name", "display_name", args.display_name, check_display_name),
    ):
        if value is not None:
            try:
                given[key] = check(value)
            except ValueError as exc:
                return _error(f"{option}: {exc}")
    if args.password_stdin:
        line = sys.stdin.readline()
        if not line:
            return _error("--password-stdin: standard input is empty; give the password on it")
        try:
            given["password"] = check_password(line.rstrip("\r\n"))
        except ValueError as exc:
            return _error(f"--password-stdin: the password {exc}")

    interactive = sys.stdin.isatty() and not args.password_stdin
    missing = [k for k in ("email", "display_name", "password") if k not in given]
    if missing and not interactive:
        flags = {"email": "--email", "display_name": "--display-name"}
        names = [flags.get(k, "--password-stdin") for k in missing]
        how = (
            "run it in a terminal to be asked"
            if not args.password_stdin
            else "the password comes from stdin, so give the others as options"
        )
        return _error(f"missing {', '.join(names)} ({how}). {RULES}")
    if missing:
        print(RULES)
        try:
            if "email" not in given:
                given["email"] = _ask("E-mail: ", check_email)
            if "display_name" not in given:
                given["display_name"] = _ask(
                    "Display name (1 to 40 characters): ", check_display_name
                )
            if "password" not in given:
                given["password"] = _ask_password()
        except _Abort as exc:
            return _error(f"no account created: {exc}")
        except KeyboardInterrupt:
            print(file=sys.stderr)
            return 130

    async def run() -> dict[str, Any]:
        db = await trio.to_thread.run_sync(data.open_database, config.db)
        try:
            user: dict[str, Any] = await create_superuser(db, **given)
            return user
        finally:
            db.close()

    try:
        user = trio.run(run)
    except user_store.EmailTakenError:
        return _error(f"no account created: an account with {given['email']} exists already", 1)
    except WatchpartyError as exc:
        return _error(f"no account created: {exc}", 1)
    print(f"created admin {user['email']} (id {user['id']}) in {config.db}")
    return 0
