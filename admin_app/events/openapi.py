"""OpenAPI documentation of the event views that quart-schema cannot describe from
pydantic models: calendar files, images, and the raw image body of a banner upload."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from admin_app.core.openapi import FILE_RESPONSES_ATTRIBUTE, documents_request_body

T = TypeVar("T", bound=Callable[..., Any])


def documents_calendar(func: T) -> T:
    """Document a view's ``text/calendar`` 200 response in the OpenAPI document."""
    content = {"text/calendar": {"schema": {"type": "string"}}}
    headers = {
        "Content-Disposition": {
            "description": "`attachment` with a file name ending in `.ics`.",
            "schema": {"type": "string"},
        }
    }
    setattr(
        func,
        FILE_RESPONSES_ATTRIBUTE,
        {200: {"description": "An iCalendar file.", "headers": headers, "content": content}},
    )
    return func


def documents_image(func: T) -> T:
    """Document a view's image 200 response in the OpenAPI document."""
    content = {
        kind: {"schema": {"type": "string", "format": "binary"}}
        for kind in ("image/png", "image/jpeg", "image/gif", "image/webp")
    }
    setattr(
        func, FILE_RESPONSES_ATTRIBUTE, {200: {"description": "The image.", "content": content}}
    )
    return func


def documents_banner_upload(func: T) -> T:
    """Document a raw image request body (quart-schema documents JSON bodies only)."""
    return documents_request_body(
        {
            kind: {"schema": {"type": "string", "format": "binary"}}
            for kind in ("image/png", "image/jpeg", "image/gif", "image/webp")
        }
    )(func)
