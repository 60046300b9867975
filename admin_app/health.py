"""Health check (as in SyncPlay Backend): ``GET /api/health/``.

200 ``{"status": "ok", "database": "ok", "sync": {...}, "version"}`` when the
database answers and the live rooms can be listed; otherwise 503 ``unhealthy`` with
one detail per failing part (the causes are logged, not shown).
"""

from __future__ import annotations

import inspect
import logging
from importlib import metadata
from typing import Any

from quart import Blueprint
from quart_schema import document_response, tag_blueprint

from .control import state
from .errors import ApiError, documents_errors
from .schemas import HealthOut

logger = logging.getLogger(__name__)

bp = Blueprint("health", __name__, url_prefix="/api")
tag_blueprint(bp, ["health"])


def version() -> str:
    """The installed watchparty version."""
    try:
        return metadata.version("watchparty")
    except metadata.PackageNotFoundError:
        return "0+unknown"


@bp.get("/health/")
@document_response(HealthOut, 200)
@documents_errors(503)
async def health() -> dict[str, Any]:
    """Whether the database and the sync server answer, with room counts."""
    st = state()
    problems: list[tuple[str, str]] = []
    try:
        await st.db.read(lambda conn: conn.execute("SELECT 1").fetchone())
    except Exception:
        logger.exception("health check: the database did not answer")
        problems.append(("database", "the database did not answer"))
    sync: dict[str, Any] = {}
    try:
        rooms = await st.rooms.list_rooms()
        sync["rooms"] = len(rooms)
        sync["participants"] = sum(int(r.get("participant_count", 0)) for r in rooms)
        statistics = getattr(st.rooms, "statistics", None)
        if callable(statistics):
            stats = statistics()
            sync.update(await stats if inspect.isawaitable(stats) else stats)
    except Exception:
        logger.exception("health check: the sync server did not answer")
        problems.append(("sync", "the live rooms could not be listed"))
    if problems:
        raise ApiError(503, "unhealthy", "the server is not healthy", details=problems)
    return {"status": "ok", "database": "ok", "sync": sync, "version": version()}
