"""The API reference page, ``/api/docs/``: Swagger UI over ``/api/openapi.json``.

Swagger UI is served from ``static/swagger/`` (npm ``swagger-ui-dist``, see
``static/swagger/VERSION``), never from a CDN, so the page works with no internet
access; its start-up script is a static file too, so the page runs under a
Content-Security-Policy without inline scripts.
"""

from __future__ import annotations

from quart import render_template
from quart_schema import hide

from . import bp


@bp.get("/docs/")
@hide
async def swagger_ui() -> str:
    """Swagger UI for this server's OpenAPI document."""
    return await render_template("docs/swagger.html")
