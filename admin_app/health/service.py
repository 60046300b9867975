"""The health checks: does the database answer, can the live rooms be listed."""

from __future__ import annotations

import inspect
import logging
from typing import Any

from admin_app.core.state import WebState

logger = logging.getLogger(__name__)


async def check(st: WebState) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """Check the database and the sync server.

    Returns:
        ``(sync, problems)``: the sync server's room and participant counts with its
        statistics, and one ``(part, message)`` per failing part (empty when healthy).
        The causes of failures are logged, not returned.
    """
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
    return sync, problems
