"""The browser pages of the watch party: the landing page, the watch page, and the
social group pages (``/groups/``, ``/groups/<id>``).

Plain Jinja templates (``templates/pages/``, autoescaped) and plain JavaScript modules
(``static/watch/``), no build step. The pages talk to the REST API of the web app
(guest sign-in, room creation with its entry mode, room detail, joining) and to the
sync socket of the sync server, whose URL they are given in a ``data-`` attribute
(never in an inline script, so the pages run under a strict Content-Security-Policy).

A room whose entry mode is ``password`` or ``approval`` admits on the sync socket only
accounts with an approved membership. The watch page learns the mode from
``GET /api/rooms/{code}/`` (or from the socket refusing its hello: ``forbidden``, close
4003), makes sure it has an account token (the stored sign-in, else a guest sign-in),
and enters through ``POST /api/rooms/join/``: with the password the visitor types, or
as a request it repeats every 5 s until the host approves it. Then it connects.

The sync socket URL given to the browser is the one the REST API gives
(:func:`admin_app.rooms.service.sync_url`), in order of preference:

1. ``app.config["WATCHPARTY_SYNC_URL"]`` when set (tests, or a server started on port 0
   that learns its port later);
2. the ``public_sync_url`` setting when not empty (behind a proxy: ``wss://host/ws``);
3. derived from the request: ``ws://<request host>:<port>/ws`` (``wss`` when the page
   came over https), with the ``port`` setting of the sync server.
"""

from __future__ import annotations

import re

from quart import Response, abort, current_app, render_template

from admin_app.core.state import state
from admin_app.rooms import service as rooms
from protocol.messages import ROOM_CODE_PATTERN

from . import bp

_ROOM_CODE = re.compile(ROOM_CODE_PATTERN)

#: Scripts, styles and media come from this origin only (media also from any http(s)
#: URL a host loads); the sync socket is on another port, hence ws:/wss: in connect-src.
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "media-src 'self' http: https: blob:",
        "connect-src 'self' ws: wss:",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    )
)


def sync_socket_url() -> str:
    """The sync socket URL for the page being rendered (see the module docstring)."""
    return rooms.sync_url(state())


@bp.after_request
async def _security_headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response


@bp.get("/")
async def landing() -> str:
    """Create a room, or join one by its code, as a guest or signed in."""
    return await render_template("pages/landing.html")


@bp.get("/favicon.ico")
async def favicon() -> Response:
    """The site icon, which browsers ask for at this path on every page."""
    return await current_app.send_static_file("favicon.ico")


@bp.get("/watch/<code>")
async def watch(code: str) -> str:
    """The watch page of room *code*: player, participants, chat and host controls.

    Raises:
        NotFound: (404) when *code* is not a valid room code. Whether the room exists
            is for the sync socket to say (close 4004); the page shows it.
    """
    if not _ROOM_CODE.fullmatch(code):
        abort(404)
    return await render_template("pages/watch.html", room_code=code, sync_url=sync_socket_url())


@bp.get("/groups/")
async def groups() -> str:
    """Social groups: find one (by name, by category), create one, answer invitations."""
    return await render_template("groups/list.html")


@bp.get("/groups/<int:group_id>")
async def group(group_id: int) -> str:
    """One group: join it or ask to, its members, its posts and their reactions.

    Whether the group exists, and whether the visitor may see it, is for the REST API
    to say (a private group is a 404 to strangers there); the page shows it.
    """
    return await render_template("groups/detail.html", group_id=group_id)


__all__ = ["CONTENT_SECURITY_POLICY", "sync_socket_url"]
