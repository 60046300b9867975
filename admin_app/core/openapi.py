"""OpenAPI helpers: which routes are documented, the security schemes a view names,
file responses, and the version the document carries (quart-schema generates the
rest from the views' pydantic models)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from importlib import metadata
from typing import Any, TypeVar

from quart_schema import OpenAPIProvider
from werkzeug.routing import Rule

from .errors import NO_CONTENT_ATTRIBUTE

T = TypeVar("T", bound=Callable[..., Any])

#: Where the OpenAPI document of every ``/api/`` route is served.
OPENAPI_PATH = "/api/openapi.json"

#: ``security_scheme`` of a view that needs an access token.
BEARER: list[dict[str, list[str]]] = [{"bearerAuth": []}]
#: ``security_scheme`` of a view that takes an access token but also answers without.
OPTIONAL_BEARER: list[dict[str, list[str]]] = [{"bearerAuth": []}, {}]


def version() -> str:
    """The installed watchparty version."""
    try:
        return metadata.version("watchparty")
    except metadata.PackageNotFoundError:
        return "0+unknown"


#: Attribute of a view function holding the OpenAPI responses :func:`documents_file`
#: adds (quart-schema documents JSON bodies only); read by the app's OpenAPI provider.
FILE_RESPONSES_ATTRIBUTE = "_watchparty_file_responses"

_FILE_HEADERS = {
    "Accept-Ranges": "Always `bytes`.",
    "Content-Range": "The bytes sent, on 206: `bytes <first>-<last>/<size>`.",
    "ETag": "A strong entity tag of the file.",
    "Last-Modified": "When the file was written.",
}


def documents_file(media_type: str = "video/*", *, attachment: bool = False) -> Callable[[T], T]:
    """Document a view's file responses: 200 (all of it), 206 (one byte range) and
    304 (not modified, no body), with their headers.

    Args:
        media_type: The documented ``Content-Type`` (a wildcard is fine).
        attachment: Whether responses carry ``Content-Disposition: attachment``.
    """
    headers = dict(_FILE_HEADERS)
    if attachment:
        headers["Content-Disposition"] = "`attachment` with the file name (RFC 6266)."
    documented = {
        name: {"description": text, "schema": {"type": "string"}} for name, text in headers.items()
    }
    content = {media_type: {"schema": {"type": "string", "format": "binary"}}}
    responses = {
        200: {"description": "The whole file.", "headers": documented, "content": content},
        206: {"description": "One byte range of it.", "headers": documented, "content": content},
        304: {"description": "Not modified since the copy named; no body."},
    }

    def decorator(func: T) -> T:
        setattr(func, FILE_RESPONSES_ATTRIBUTE, responses)
        return func

    return decorator


#: Attribute of a view holding the OpenAPI ``requestBody`` that
#: :func:`documents_request_body` sets (a body that is not JSON or a form).
REQUEST_BODY_ATTRIBUTE = "_watchparty_request_body"


def documents_request_body(content: dict[str, Any], *, required: bool = True) -> Callable[[T], T]:
    """Document a view's request body by media type (``{"image/png": {"schema": ...}}``),
    for bodies quart-schema does not model (raw files)."""

    def decorator(func: T) -> T:
        setattr(func, REQUEST_BODY_ATTRIBUTE, {"required": required, "content": content})
        return func

    return decorator


class ApiOnlyProvider(OpenAPIProvider):
    """Documents the ``/api/`` routes only (not the browser pages or static files), the
    bodiless responses of :func:`~admin_app.core.errors.documents_no_content` views, the
    file responses of :func:`documents_file` views and the request bodies of
    :func:`documents_request_body` views."""

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
        body = getattr(self._app.view_functions[rule.endpoint], REQUEST_BODY_ATTRIBUTE, None)
        if body is not None:
            for operations in paths.values():
                for operation in operations.values():
                    operation["requestBody"] = body
        files = getattr(self._app.view_functions[rule.endpoint], FILE_RESPONSES_ATTRIBUTE, None)
        if files is not None:
            for operations in paths.values():
                for operation in operations.values():
                    operation["responses"] = {**files, **operation["responses"]}
        return paths, components
