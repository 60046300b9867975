"""Times as the API shows them."""

from __future__ import annotations

from datetime import UTC, datetime


def iso_ms(ms: float | None) -> str | None:
    """Milliseconds since the epoch as ISO 8601 UTC (``2024-05-01T12:00:00.000Z``)."""
    if ms is None:
        return None
    moment = datetime.fromtimestamp(ms / 1000.0, tz=UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
