"""The web app factory: :func:`create_app`.

One blueprint per domain: ``auth`` (accounts and tokens), ``rooms``, ``health``,
``docs`` (the API reference page), ``videos`` (the video library, with ``premium``
for accounts' premium flag), ``video_comments``, ``notifications`` (in-app, email and
Web Push, with its delivery worker) and ``pages`` (the browser pages). The OpenAPI
document of every ``/api/`` route is at ``/api/openapi.json`` (quart-schema).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from argon2 import PasswordHasher
from quart_schema import Info, OpenAPIProvider, QuartSchema
from quart_trio import QuartTrio
from werkzeug.routing import Rule

from data import Database

from . import auth, docs, health, notifications, pages, video_comments, videos
from . import rooms as room_routes
from .control import RoomControl, WebState
from .errors import NO_CONTENT_ATTRIBUTE, register_error_handlers
from .health import version
from .hooks import register_hooks
from .media import FILE_RESPONSES_ATTRIBUTE
from .passwords import Passwords
from .requests import ApiRequest
from .settings import WebSettings

OPENAPI_PATH = "/api/openapi.json"


class _ApiOnlyProvider(OpenAPIProvider):
    """Documents the ``/api/`` routes only (not the browser pages or static files), the
    bodiless responses of :func:`~admin_app.errors.documents_no_content` views, and the
    file responses of :func:`~admin_app.media.documents_file` views."""

    def generate_rules(self) -> Iterable[Rule]:
        return (rule for rule in super().generate_rules() if rule.rule.startswith("/api/"))

    def build_paths(self, rule: Rule) -> tuple[dict[str, Any], dict[str, Any]]:
        paths, components = super().build_paths(rule)
        status = getattr(self._app.view_functions[rule.endpoint], NO_CONTENT_ATTRIBUTE, None)
        if status is not None:
            for operations in paths.values():
                for operation in operations.values():
                    operation["responses"] = {
                        status: {"description": "Done; no body."},
                        **operation["responses"],
                    }
        files = getattr(self._app.view_functions[rule.endpoint], FILE_RESPONSES_ATTRIBUTE, None)
        if files is not None:
            for operations in paths.values():
                for operation in operations.values():
                    operation["responses"] = {**files, **operation["responses"]}
        return paths, components


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
            :class:`~admin_app.settings.WebSettings`).
        db: The open database (shared with the sync server).
        rooms: Live rooms (the sync server's ``RoomControl``).
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
            description="Accounts, rooms and playback control of a watchparty server.",
        ),
        security_schemes={
            "bearerAuth": {"type": "http", "scheme": "bearer", "bearer_format": "JWT"}
        },
        openapi_provider_class=_ApiOnlyProvider,
    )
    register_hooks(app)
    register_error_handlers(app)
    if settings.cors_origins:
        _enable_cors(app, settings.cors_origins)
    for blueprint in (
        auth.bp,
        room_routes.bp,
        health.bp,
        docs.bp,
        videos.bp,
        videos.premium_bp,
        video_comments.bp,
        notifications.bp,
    ):
        app.register_blueprint(blueprint)
    app.register_blueprint(pages.bp, sync_config=config)
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
