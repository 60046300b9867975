"""The web app factory: :func:`create_app`.

The machinery every domain uses is set up first (``core/``: state, error body, hooks,
OpenAPI); then every domain of :data:`DOMAINS` registers its blueprints: ``auth``
(accounts and tokens), ``rooms``, ``health``, ``docs`` (the API reference page),
``videos`` (the video library, its comments, and accounts' premium flag), ``groups``
(social groups, ``/api/social/``), ``interactive`` (polls, reactions, queue and
moderation in a room), ``notifications`` (in-app, email and Web Push, with
its delivery worker), ``support`` (tickets, FAQ and feedback), ``events`` (scheduled
watch parties, their reminders and calendars) and ``pages`` (the browser pages). The
OpenAPI document of every ``/api/`` route is at ``/api/openapi.json`` (quart-schema).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from types import ModuleType
from typing import Any

from argon2 import PasswordHasher
from quart_schema import Info, QuartSchema, Tag
from quart_trio import QuartTrio

from data import Database
from protocol.control import RoomControl

from . import (
    auth,
    docs,
    events,
    groups,
    health,
    interactive,
    notifications,
    pages,
    rooms,
    support,
    videos,
)
from .core.asgi import KeepAliveHTTPConnection
from .core.caller import register_auth_check
from .core.errors import register_error_handlers
from .core.hooks import register_hooks
from .core.openapi import OPENAPI_PATH, ApiOnlyProvider, version
from .core.passwords import Passwords
from .core.requests import ApiRequest
from .core.settings import WebSettings
from .core.state import WebState

#: Every domain of the web app, in registration order; each package's ``blueprints``
#: are registered. A new domain is one package and one entry here.
DOMAINS: tuple[ModuleType, ...] = (
    auth,
    rooms,
    health,
    docs,
    videos,
    groups,
    interactive,
    notifications,
    support,
    events,
    pages,
)

#: The sections (tags) of the API reference, in the order a newcomer needs them:
#: Swagger UI shows them in the order of the document's ``tags`` list.
TAG_ORDER: tuple[tuple[str, str], ...] = (
    ("auth", "Accounts and tokens. Start here: `POST /api/auth/guest/` gives a token."),
    ("rooms", "Create and join rooms, control their playback, read their chat."),
    ("videos", "The video library: upload, list, stream, download, like."),
    ("comments", "Comments on videos, with replies and likes."),
    ("interactive", "In a room: polls, reactions on the timeline, the shared queue, moderation."),
    ("groups", "Social groups: members and roles, invitations, join requests, posts."),
    ("events", "Watch parties planned ahead: answers, invitations, reminders, calendars."),
    ("notifications", "In-app notifications, preferences, Web Push subscriptions."),
    ("support", "Help: support tickets with their threads, the FAQ, feedback with votes."),
    ("health", "Whether the server and its sync server answer."),
    ("admin", "Administration (admins only)."),
)


def create_app(
    config: Any,
    *,
    db: Database,
    rooms: RoomControl,
    secret: str,
    clock: Callable[[], float] | None = None,
    password_hasher: PasswordHasher | None = None,
) -> QuartTrio:
    """Build the web app.

    Args:
        config: The ``sync_server.config.Config`` (web settings are read from it, see
            :class:`~admin_app.core.settings.WebSettings`).
        db: The open database (shared with the sync server).
        rooms: Live rooms (the sync server's :class:`~protocol.control.RoomControl`).
        secret: HS256 key for every token (the sync server's, so that the sync
            socket accepts the access tokens issued here).
        clock: Wall clock in Unix seconds for token times; ``time.time`` when None.
        password_hasher: argon2 hasher; argon2-cffi's defaults when None.

    Returns:
        The app, to be served by :func:`admin_app.serve.serve_web` (hypercorn on trio).
    """
    settings = WebSettings.from_config(config)
    app = QuartTrio(__name__, static_folder="static", static_url_path="/static")
    app.request_class = ApiRequest
    app.asgi_http_class = KeepAliveHTTPConnection  # type: ignore[assignment]
    app.config.update(
        MAX_CONTENT_LENGTH=settings.max_request_bytes,
        QUART_SCHEMA_SWAGGER_JS_URL="/static/swagger/swagger-ui-bundle.js",
        QUART_SCHEMA_SWAGGER_CSS_URL="/static/swagger/swagger-ui.css",
    )
    app.extensions["watchparty"] = WebState(
        config=config,
        settings=settings,
        db=db,
        rooms=rooms,
        secret=secret,
        passwords=Passwords(password_hasher),
        clock=clock or time.time,
    )
    QuartSchema(
        app,
        openapi_path=OPENAPI_PATH,
        swagger_ui_path=None,
        redoc_ui_path=None,
        scalar_ui_path=None,
        info=Info(
            title="watchparty",
            version=version(),
            description=(
                "Accounts, rooms and playback control, videos and the support desk of a "
                "watchparty server."
            ),
        ),
        security_schemes={
            "bearerAuth": {"type": "http", "scheme": "bearer", "bearer_format": "JWT"}
        },
        tags=[Tag(name=name, description=text) for name, text in TAG_ORDER],
        openapi_provider_class=ApiOnlyProvider,
    )
    register_hooks(app)
    register_error_handlers(app)
    register_auth_check(app)
    if settings.cors_origins:
        _enable_cors(app, settings.cors_origins)
    for domain in DOMAINS:
        for blueprint in domain.blueprints:
            app.register_blueprint(blueprint)
    return app


def _enable_cors(app: QuartTrio, origins: tuple[str, ...]) -> None:
    from quart_cors import cors

    cors(
        app,
        allow_origin="*" if "*" in origins else list(origins),
        allow_headers=[
            "Authorization",
            "Content-Type",
            "X-Request-ID",
            # Players and download managers (videos): ranges and revalidation.
            "Range",
            "If-Range",
            "If-None-Match",
            "If-Modified-Since",
        ],
        allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
        expose_headers=[
            "X-Request-ID",
            "Retry-After",
            "Accept-Ranges",
            "Content-Range",
            "Content-Length",
            "Content-Disposition",
            "ETag",
        ],
        max_age=600,
    )
