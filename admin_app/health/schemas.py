"""Response model of the health check."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel


class HealthOut(BaseModel):
    """The server's health."""

    status: Literal["ok"]
    database: Literal["ok"]
    sync: dict[str, Any]
    version: str
