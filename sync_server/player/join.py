"""From a room URL to a sync socket to join: the URL forms ``watchparty play`` accepts,
and the way into password and approval rooms through the web app's REST API.

Two forms of ROOM_URL:

* the watch page, ``http(s)://HOST[:PORT]/watch/CODE`` (the link people share): the
  room's detail (``GET /api/rooms/CODE/``) gives the sync socket URL and the entry mode;
  a password or approval room is entered with ``POST /api/rooms/join/`` and an account
  token (the one given, else a guest sign-in, ``POST /api/auth/guest/``), as the watch
  page does;
* the sync socket itself with the room in the query, ``ws(s)://HOST:PORT/ws?room=CODE``:
  joined directly (open rooms, or with a token of an admitted account).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit, urlunsplit

import httpx
import trio

from protocol.messages import ROOM_CODE_PATTERN

from .ipc import PlayerError

_ROOM_CODE = re.compile(ROOM_CODE_PATTERN)
#: Between two asks while an approval room's host decides, seconds.
APPROVAL_POLL_S = 5.0
HTTP_TIMEOUT_S = 15.0
#: Times the password is asked for before giving up.
MAX_PASSWORD_ATTEMPTS = 3


class RoomUrlError(PlayerError):
    """ROOM_URL is neither a watch page URL nor a sync socket URL with a room."""


class RoomRefusedError(PlayerError):
    """The server will not let us in: no such room, a password needed or wrong, the
    host said no, guests not admitted, a bad token."""


class ServerUnreachableError(PlayerError):
    """The web app or the sync server could not be reached or answered nonsense."""


@dataclass(frozen=True)
class RoomTarget:
    """Where a room is.

    Attributes:
        room: The room code.
        sync_url: The sync socket URL, when ROOM_URL gave it (else the REST API tells).
        web_base: The web app's origin (``http(s)://HOST[:PORT]``), when known.
    """

    room: str
    sync_url: str | None
    web_base: str | None


def parse_room_url(url: str) -> RoomTarget:
    """Read ROOM_URL (see the module docstring).

    Raises:
        RoomUrlError: any other form, or a room code that cannot be one.
    """
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme in ("http", "https") and parts.netloc:
        match = re.fullmatch(r"/watch/([^/]+)/?", parts.path)
        if not match:
            raise RoomUrlError(
                f"expected a watch page URL such as http://HOST/watch/CODE, got {url!r}"
            )
        code = match.group(1)
        web_base = urlunsplit((scheme, parts.netloc, "", "", ""))
        sync_url = None
    elif scheme in ("ws", "wss") and parts.netloc:
        codes = parse_qs(parts.query).get("room", [])
        if len(codes) != 1:
            raise RoomUrlError(
                f"a sync socket URL needs the room in its query, ws://HOST:PORT/ws?room=CODE; "
                f"got {url!r}"
            )
        code = codes[0]
        web_base = None
        sync_url = urlunsplit((scheme, parts.netloc, parts.path or "/ws", "", ""))
    else:
        raise RoomUrlError(
            f"expected http(s)://HOST/watch/CODE or ws(s)://HOST:PORT/ws?room=CODE, got {url!r}"
        )
    if not _ROOM_CODE.fullmatch(code):
        raise RoomUrlError(f"{code!r} is not a room code (3 to 32 letters, digits, '_' or '-')")
    return RoomTarget(room=code, sync_url=sync_url, web_base=web_base)


@dataclass(frozen=True)
class Entry:
    """How to join: the sync socket URL and the access token to send (``None``: join
    as a guest by display name)."""

    sync_url: str
    token: str | None


def _error_of(response: httpx.Response) -> tuple[str, str]:
    """The API's error code and message (the one error body), or the status."""
    try:
        error = response.json().get("error") or {}
        return str(error.get("code") or response.status_code), str(error.get("message") or "")
    except (ValueError, AttributeError):
        return str(response.status_code), response.reason_phrase


async def enter_room(
    target: RoomTarget,
    *,
    display_name: str,
    token: str | None,
    ask_password: Callable[[str], str | None],
    notify: Callable[[str], None],
    client: httpx.AsyncClient | None = None,
) -> Entry:
    """Find the room's sync socket through the web app and get admitted to it.

    Args:
        target: From :func:`parse_room_url`, with ``web_base``.
        display_name: The name for a guest sign-in.
        token: An access token to use, else ``None``.
        ask_password: Called with a prompt when the room needs a password; returns it,
            or ``None`` when there is no way to ask (no terminal, nothing on stdin).
        notify: Where progress messages go (waiting for the host).
        client: An HTTP client to use (tests); one is opened otherwise.

    Returns:
        The :class:`Entry`.

    Raises:
        RoomRefusedError: the room does not exist (or is private and *token* is no
            member's), needs a password that was not given or is wrong, the host
            denied the request, guests are not admitted.
        ServerUnreachableError: the web app cannot be reached or answers an error.
    """
    assert target.web_base is not None
    if client is None:
        async with httpx.AsyncClient(base_url=target.web_base, timeout=HTTP_TIMEOUT_S) as own:
            return await enter_room(
                target,
                display_name=display_name,
                token=token,
                ask_password=ask_password,
                notify=notify,
                client=own,
            )
    code = target.room
    try:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = await client.get(f"/api/rooms/{quote(code)}/", headers=headers)
        if response.status_code == 404:
            raise RoomRefusedError(
                f"no room {code} on {target.web_base} (or it is private: give --token of a member)"
            )
        if response.status_code == 401:
            raise RoomRefusedError(f"the server refused the token: {_error_of(response)[1]}")
        if response.status_code != 200:
            raise ServerUnreachableError(
                f"{target.web_base} answered {response.status_code} for room {code}: "
                f"{_error_of(response)[1]}"
            )
        detail: dict[str, Any] = response.json()
        sync_url = str(detail["sync_url"])
        if detail.get("entry_mode") not in ("password", "approval"):
            return Entry(sync_url=sync_url, token=token)
        if token is None:
            token = await _guest_token(client, display_name)
        await _join(client, code, token, detail["entry_mode"], ask_password, notify)
        return Entry(sync_url=sync_url, token=token)
    except httpx.HTTPError as exc:
        raise ServerUnreachableError(f"cannot reach {target.web_base}: {exc}") from exc
    except (ValueError, KeyError) as exc:
        raise ServerUnreachableError(
            f"{target.web_base} did not answer as a watchparty web app: {exc}"
        ) from exc


async def _guest_token(client: httpx.AsyncClient, display_name: str) -> str:
    response = await client.post("/api/auth/guest/", json={"display_name": display_name})
    if response.status_code == 403:
        raise RoomRefusedError("this server does not admit guests: sign in and give --token")
    if response.status_code != 201:
        code, message = _error_of(response)
        raise ServerUnreachableError(f"guest sign-in failed: {code}: {message}")
    return str(response.json()["access"])


async def _join(
    client: httpx.AsyncClient,
    code: str,
    token: str,
    mode: str,
    ask_password: Callable[[str], str | None],
    notify: Callable[[str], None],
) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    password: str | None = None
    told_waiting = False
    attempts = 0
    while True:
        body: dict[str, Any] = {"room_code": code}
        if password is not None:
            body["password"] = password
        response = await client.post("/api/rooms/join/", json=body, headers=headers)
        if response.status_code == 200:
            return
        error, message = _error_of(response)
        if response.status_code == 202 or error == "join_pending":
            if not told_waiting:
                notify(f"room {code} admits by approval: waiting for the host's approval")
                told_waiting = True
            retry = response.headers.get("Retry-After")
            await trio.sleep(float(retry) if retry and retry.isdigit() else APPROVAL_POLL_S)
            continue
        if error in ("password_required", "wrong_password"):
            prompt = (
                f"Password for room {code}: "
                if error == "password_required"
                else f"Wrong password. Password for room {code}: "
            )
            attempts += 1
            password = ask_password(prompt) if attempts <= MAX_PASSWORD_ATTEMPTS else None
            if password is None:
                raise RoomRefusedError(
                    f"room {code} needs a password: run in a terminal to be asked, "
                    "or give it with --password-stdin"
                    if error == "password_required"
                    else f"the password for room {code} is wrong"
                )
            continue
        if error == "join_denied":
            raise RoomRefusedError(f"the host of room {code} declined your request to join")
        if error == "guests_not_allowed":
            raise RoomRefusedError(f"room {code} does not admit guests: sign in and give --token")
        if response.status_code in (401, 403, 404):
            raise RoomRefusedError(f"cannot join room {code}: {message or error}")
        raise ServerUnreachableError(f"joining room {code} failed: {response.status_code} {error}")


__all__ = [
    "Entry",
    "RoomRefusedError",
    "RoomTarget",
    "RoomUrlError",
    "ServerUnreachableError",
    "enter_room",
    "parse_room_url",
]
