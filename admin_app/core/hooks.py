"""Request ids, JSON access logs and security headers, for every response.

Request id: an incoming ``X-Request-ID`` of 1 to 128 characters from
``[A-Za-z0-9._:-]`` is kept, anything else replaced by a new uuid4 hex. It is echoed
in the ``X-Request-ID`` response header, named in error bodies of 500s, and set as
``request_id`` on every log record made while the request is handled (including in
worker threads, which inherit the context), through :func:`install_log_record_factory`.

Access log: one line per request on the ``admin_app.access`` logger at INFO, the
message a JSON object (``request_id``, ``method``, ``path``, ``status``,
``duration_ms``, ``client``, ``user_id``). The query string is left out: it may
carry secrets.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import uuid
from typing import Any

import trio
from quart import Quart, Response, g, request

logger = logging.getLogger(__name__)
access_logger = logging.getLogger("admin_app.access")

REQUEST_ID_HEADER = "X-Request-ID"
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

#: The id of the request being handled in this context, or None.
request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "watchparty_request_id", default=None
)

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
}
#: JSON responses load nothing and may be framed by no one.
API_CSP = "default-src 'none'; frame-ancestors 'none'"
#: The docs page: its own scripts and styles only (Swagger UI sets inline styles and
#: uses data: images), and fetches of the OpenAPI document from this origin.
DOCS_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'none'"
)


def install_log_record_factory() -> None:
    """Give every log record a ``request_id`` attribute (None outside requests).

    Idempotent. Formatters can then show ``%(request_id)s``.
    """
    current = logging.getLogRecordFactory()
    if getattr(current, "_watchparty_request_id", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = current(*args, **kwargs)
        record.request_id = request_id_var.get()
        return record

    factory._watchparty_request_id = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)


def register_hooks(app: Quart) -> None:
    """Install the request id, access log and security header hooks on *app*."""
    install_log_record_factory()

    @app.before_request
    async def _start() -> None:
        incoming = request.headers.get(REQUEST_ID_HEADER, "")
        request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        g.request_id = request_id
        g.started_at = trio.current_time()
        request_id_var.set(request_id)

    @app.after_request
    async def _finish(response: Response) -> Response:
        request_id = g.get("request_id") or uuid.uuid4().hex
        response.headers[REQUEST_ID_HEADER] = request_id
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        is_docs = request.path.startswith("/api/docs")
        response.headers.setdefault("Content-Security-Policy", DOCS_CSP if is_docs else API_CSP)
        if request.path.startswith("/api/"):
            # Bodies carry tokens and per-user data: no shared or stored copies.
            response.headers.setdefault("Cache-Control", "no-store")
        started = g.get("started_at")
        duration_ms = None if started is None else round((trio.current_time() - started) * 1000, 2)
        access_logger.info(
            "%s",
            json.dumps(
                {
                    "event": "http_request",
                    "request_id": request_id,
                    "method": request.method,
                    "path": request.path,
                    "status": response.status_code,
                    "duration_ms": duration_ms,
                    "client": request.remote_addr,
                    "user_id": g.get("user_id"),
                },
                separators=(",", ":"),
            ),
        )
        return response
