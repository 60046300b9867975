"""The request class: JSON bodies read strictly, with errors in the one error body.

* ``Content-Type`` not JSON with a non-empty body: 415 ``unsupported_media_type``.
  No body at all reads as ``null`` (then a 422 names the missing fields).
* Not UTF-8, not JSON (RFC 8259: ``NaN`` and ``Infinity`` are not JSON), or nested
  too deeply to parse: 400 ``malformed_json``.
"""

from __future__ import annotations

import json
from typing import Any

from quart_trio.wrappers import TrioRequest

from .errors import ApiError


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON (RFC 8259 section 6)")


class ApiRequest(TrioRequest):
    """A trio request whose :meth:`get_json` raises :class:`ApiError`."""

    async def get_json(self, force: bool = False, silent: bool = False, cache: bool = True) -> Any:
        if cache and self._cached_json[silent] is not Ellipsis:
            return self._cached_json[silent]
        raw = await self.get_data(cache, False, False)
        if not (force or self.is_json):
            if raw.strip() and not silent:
                raise ApiError(
                    415,
                    "unsupported_media_type",
                    f"expected a JSON body (Content-Type: application/json), got "
                    f"{self.mimetype or 'no content type'}",
                )
            result = None
        else:
            try:
                result = json.loads(raw.decode("utf-8"), parse_constant=_no_constants)
            except (ValueError, RecursionError) as exc:
                if not silent:
                    raise ApiError(
                        400, "malformed_json", f"the request body is not valid JSON: {exc}"
                    ) from None
                result = None
        if cache:
            self._cached_json[silent] = result
        return result
