"""What every domain's request models share: the strict JSON body base model and the
check for fields that are aliases of one another."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class Body(BaseModel):
    """A JSON request body: strict types (a string is no number, a number no boolean),
    no NaN or infinity, unknown fields ignored."""

    model_config = ConfigDict(strict=True, extra="ignore", allow_inf_nan=False)


def one_of(values: dict[str, Any], names: tuple[str, ...]) -> Any:
    """The value given under any of *names*; ValueError when two differ."""
    given = {name: values[name] for name in names if values.get(name) is not None}
    if len(set(map(repr, given.values()))) > 1:
        raise ValueError(f"give only one of {', '.join(names)} (they differ)")
    return next(iter(given.values()), None)
