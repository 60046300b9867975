"""The one JSON error body of the web app, and the handlers that produce it.

Every 4xx and 5xx response has this body (as datasette's ``test_error_shape``
enforces for datasette)::

    {"error": {"code": "<snake_case>", "message": "...",
               "details": [{"field": "...", "message": "..."}]}}

``details`` is a list, possibly empty; for validation errors it holds one entry per
field in error, ``field`` being a dotted path (``media.url``, ``body`` for the body as
a whole, ``query.page`` for a query parameter).

Sources of errors, and their handlers:

* :class:`ApiError` raised by views: its own status and code.
* Failed request validation (quart-schema): 422 ``validation_error`` with details.
* Routing and protocol errors from Werkzeug (404, 405 with ``Allow``, 413 over
  ``max_request_bytes``, ...): their status, a code derived from it.
* Room control errors (``ControlError`` and the sync protocol's ``ProtocolError``,
  anything with a ``code``): the status of :data:`CONTROL_ERROR_STATUS`.
* Anything else: 500 ``internal_error``, logged with ``exc_info``; the body names only
  the request id, never the exception.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, Field, ValidationError
from quart import (
    Quart,
    Response,
    current_app,
    g,
    has_websocket_context,
    request,
    websocket,
)
from quart_schema import RequestSchemaValidationError, document_response
from quart_schema.validation import QuerystringValidationError
from werkzeug.exceptions import HTTPException

from protocol.control import CONTROL_ERROR_STATUS as _CONTROL_STATUS
from protocol.errors import WatchpartyError

logger = logging.getLogger(__name__)

T = TypeVar("T", bound=Callable[..., Any])

#: Status of each room control error code (``ControlError.code``, statuses from
#: :data:`protocol.control.CONTROL_ERROR_STATUS`, or a sync protocol
#: ``ProtocolError.code``). Unknown codes answer 400.
CONTROL_ERROR_STATUS: dict[str, int] = {
    **_CONTROL_STATUS,
    "room_full": 409,
    "not_found": 404,
    "guests_not_allowed": 403,
    "rate_limited": 429,
    "chat_disabled": 409,
    "auth_failed": 401,
}

_HTTP_CODES: dict[int, str] = {
    400: "bad_request",
    401: "authentication_required",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    408: "request_timeout",
    409: "conflict",
    411: "length_required",
    413: "request_too_large",
    414: "uri_too_long",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
    431: "headers_too_large",
    500: "internal_error",
    503: "service_unavailable",
}


class ErrorDetail(BaseModel):
    """One problem with one field."""

    field: str
    message: str


class ErrorInfo(BaseModel):
    """What went wrong."""

    code: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    message: str
    details: list[ErrorDetail]


class ErrorResponse(BaseModel):
    """The body of every 4xx and 5xx response."""

    error: ErrorInfo


class ApiError(WatchpartyError):
    """An error answered with a status and the one error body.

    Raised by views and helpers; the handler turns it into the response.

    Args:
        status: HTTP status (4xx or 5xx).
        code: Snake-case error code.
        message: What was expected and what came, for people.
        details: Per-field problems as ``(field, message)`` pairs.
        headers: Extra response headers (``Retry-After``, ``WWW-Authenticate``).
    """

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        details: Iterable[tuple[str, str]] = (),
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = list(details)
        self.headers = dict(headers or {})

    def __repr__(self) -> str:
        return f"ApiError({self.status}, {self.code!r}, {self.message!r})"


def error_body(code: str, message: str, details: Iterable[tuple[str, str]] = ()) -> dict[str, Any]:
    """The error body as a dict."""
    return {
        "error": {
            "code": code,
            "message": message,
            "details": [{"field": field, "message": text} for field, text in details],
        }
    }


def error_response(
    status: int,
    code: str,
    message: str,
    details: Iterable[tuple[str, str]] = (),
    headers: Mapping[str, str] | None = None,
) -> Response:
    """A JSON response with the error body."""
    response: Response = current_app.json.response(error_body(code, message, details))  # type: ignore[assignment]
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def documents_errors(*statuses: int) -> Callable[[T], T]:
    """Document the error body for each of *statuses* in the OpenAPI document."""

    def decorator(func: T) -> T:
        for status in statuses:
            func = document_response(ErrorResponse, status)(func)
        return func

    return decorator


NO_CONTENT_ATTRIBUTE = "_watchparty_no_content"


def documents_no_content(func: T) -> T:
    """Document a 204 response without a body in the OpenAPI document."""
    setattr(func, NO_CONTENT_ATTRIBUTE, 204)
    return func


def validation_details(exc: Exception, location: str | None = None) -> list[tuple[str, str]]:
    """Per-field ``(field, message)`` pairs of a pydantic error (or another one).

    Args:
        exc: A ``pydantic.ValidationError``, or the ``TypeError``/``ValueError`` that
            quart-schema reports for input it could not convert.
        location: Prefix of field paths (``query``), or None for the body.
    """
    if not isinstance(exc, ValidationError):
        return [(location or "body", str(exc) or type(exc).__name__)]
    details = []
    for err in exc.errors(include_url=False, include_input=False):
        path = ".".join(str(part) for part in err["loc"])
        if location:
            path = f"{location}.{path}" if path else location
        details.append((path or "body", err["msg"]))
    return details


def register_error_handlers(app: Quart) -> None:
    """Install the handlers that give every error the one body."""

    @app.errorhandler(ApiError)
    async def _api_error(exc: ApiError) -> Response:
        return error_response(exc.status, exc.code, exc.message, exc.details, exc.headers)

    @app.errorhandler(RequestSchemaValidationError)
    async def _validation_error(exc: RequestSchemaValidationError) -> Response:
        location = "query" if isinstance(exc, QuerystringValidationError) else None
        details = validation_details(exc.validation_error, location)
        where = "query string" if location else "request body"
        return error_response(422, "validation_error", f"the {where} is not valid", details)

    @app.errorhandler(HTTPException)
    async def _http_error(exc: HTTPException) -> Response:
        status = exc.code or 500
        code = _HTTP_CODES.get(status, _snake(exc.name))
        headers = {k: v for k, v in exc.get_headers() if k.lower() != "content-type"}
        return error_response(status, code, _http_message(status, exc), (), headers)

    @app.errorhandler(WatchpartyError)
    async def _watchparty_error(exc: WatchpartyError) -> Response:
        code = getattr(exc, "code", None)
        if not isinstance(code, str):
            return _internal_error(exc)
        message = str(getattr(exc, "message", None) or exc)
        return error_response(CONTROL_ERROR_STATUS.get(code, 400), code, message)

    @app.errorhandler(Exception)
    async def _unexpected(exc: Exception) -> Response:
        return _internal_error(exc)


def _internal_error(exc: BaseException) -> Response:
    request_id = getattr(g, "request_id", None)
    method, path = _method_and_path()
    logger.error(
        "unhandled error in %s %s (request %s)",
        method,
        path,
        request_id,
        exc_info=(type(exc), exc, exc.__traceback__),
    )
    return error_response(
        500,
        "internal_error",
        f"the server failed to handle the request; it was logged as request {request_id}",
    )


def _method_and_path() -> tuple[str, str]:
    """The method and path of the request being answered.

    A WebSocket handshake (a route miss on it, say) is answered in a websocket context,
    where ``websocket`` is bound instead of ``request``.
    """
    if has_websocket_context():
        return websocket.method, websocket.path
    return request.method, request.path


def _http_message(status: int, exc: HTTPException) -> str:
    method, path = _method_and_path()
    if status == 404:
        return f"nothing at {path}"
    if status == 405:
        allowed = ", ".join(sorted(getattr(exc, "valid_methods", None) or []))
        return f"method {method} is not allowed on {path}; allowed: {allowed}"
    if status == 413:
        limit = current_app.config.get("MAX_CONTENT_LENGTH")
        return f"the request body is over the limit of {limit} bytes (max_request_bytes)"
    return exc.description or exc.name


def _snake(name: str) -> str:
    return "_".join(name.lower().replace("-", " ").replace("'", "").split()) or "error"
