"""Health check (as in SyncPlay Backend): ``GET /api/health/``.

200 ``{"status": "ok", "database": "ok", "sync": {...}, "version"}`` when the
database answers and the live rooms can be listed; otherwise 503 ``unhealthy`` with
one detail per failing part (the causes are logged, not shown).
"""

from __future__ import annotations

from typing import Any

from quart_schema import document_response

from admin_app.core.errors import ApiError, documents_errors
from admin_app.core.openapi import version
from admin_app.core.state import state

from . import bp
from .schemas import HealthOut
from .service import check


@bp.get("/health/")
@document_response(HealthOut, 200)
@documents_errors(503)
async def health() -> dict[str, Any]:
    """Whether the database and the sync server answer, with room counts."""
    sync, problems = await check(state())
    if problems:
        raise ApiError(503, "unhealthy", "the server is not healthy", details=problems)
    return {"status": "ok", "database": "ok", "sync": sync, "version": version()}
