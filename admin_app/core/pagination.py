"""The one pagination format of every list endpoint (page numbers, as Django REST
framework's ``PageNumberPagination``).

Request: ``?page=1&page_size=20`` (``page`` from 1; ``page_size`` 1 to
:data:`MAX_PAGE_SIZE`). Response::

    {"count": 42, "next": "http://host/api/rooms/?page=3&page_size=20",
     "previous": "http://host/api/rooms/?page=1&page_size=20", "results": [...]}

``next`` and ``previous`` are full URLs (the request's own, with ``page`` replaced and
every other parameter kept) or null. A page past the last one is a 404
``invalid_page``; page 1 of an empty list is an empty page.

Long lists (a group's members and posts) page by *keyset* instead, so that any page
costs the same as the first (an ``OFFSET`` reads and drops every row before it):
``?cursor=<opaque>&page_size=20`` with the same response shape, ``next`` and
``previous`` carrying a ``cursor`` instead of a ``page``. A cursor names the sort key
of the row a page starts after (or ends before); :class:`CursorQuery`,
:func:`keyset_of` and :func:`keyset_page`. A cursor that does not decode is a 400
``invalid_cursor``.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar
from urllib.parse import urlencode

from pydantic import BaseModel, ConfigDict, Field
from quart import request

from .errors import ApiError

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
#: No list is this long; the bound keeps ``offset`` arithmetic in SQLite's range.
MAX_PAGE = 1_000_000

ItemT = TypeVar("ItemT")


class PageQuery(BaseModel):
    """Query parameters of a paginated list."""

    model_config = ConfigDict(extra="ignore")

    page: int = Field(1, ge=1, le=MAX_PAGE, description="Page number, from 1.")
    page_size: int = Field(DEFAULT_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE, description="Items per page.")

    @property
    def offset(self) -> int:
        """Index of the page's first item."""
        return (self.page - 1) * self.page_size


class Page(BaseModel, Generic[ItemT]):
    """One page of a list."""

    count: int = Field(ge=0, description="Items in the whole list.")
    next: str | None = Field(description="URL of the next page, or null.")
    previous: str | None = Field(description="URL of the previous page, or null.")
    results: list[ItemT]


def page_of(count: int, results: Sequence[Any], query: PageQuery) -> dict[str, Any]:
    """Wrap one page of *results* (already cut) of a list of *count* items.

    Raises:
        ApiError: 404 ``invalid_page`` when ``query.page`` is past the last page.
    """
    if query.page > 1 and query.offset >= count:
        last = max(1, -(-count // query.page_size))
        raise ApiError(
            404,
            "invalid_page",
            f"expected a page from 1 to {last}, got {query.page}",
            details=[("query.page", f"the last page is {last}")],
        )
    has_next = query.offset + len(results) < count
    return {
        "count": count,
        "next": _page_url(query.page + 1) if has_next else None,
        "previous": _page_url(query.page - 1) if query.page > 1 else None,
        "results": list(results),
    }


def paginate(items: Sequence[Any], query: PageQuery) -> dict[str, Any]:
    """Cut one page out of a whole list held in memory, and wrap it."""
    return page_of(len(items), items[query.offset : query.offset + query.page_size], query)


def _page_url(page: int) -> str:
    params = [(k, v) for k, v in request.args.items(multi=True) if k != "page"]
    params.append(("page", str(page)))
    return f"{request.base_url}?{urlencode(params)}"


# --- keyset pagination ----------------------------------------------------------------------

#: The longest cursor accepted, in characters.
MAX_CURSOR_CHARS = 512
_SQLITE_INT = 2**63

KeyValue = int | str


class CursorQuery(BaseModel):
    """Query parameters of a keyset-paginated list."""

    model_config = ConfigDict(extra="ignore")

    cursor: str | None = Field(
        None,
        max_length=MAX_CURSOR_CHARS,
        description="Opaque position from a `next` or `previous` link; none for the first page.",
    )
    page_size: int = Field(DEFAULT_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE, description="Items per page.")


@dataclass(frozen=True, slots=True)
class Keyset:
    """Where a keyset page starts, for a query function.

    Attributes:
        after: Return the rows that sort after this key (None: from the first row).
        before: Return the rows just before this key instead (a ``previous`` link); the
            query function then reads in reverse order and returns them in list order.
        limit: Rows to return at most, plus one: the extra row tells whether there is
            more beyond the page. ``page_size + 1``.
    """

    after: tuple[KeyValue, ...] | None
    before: tuple[KeyValue, ...] | None
    limit: int


def encode_cursor(direction: str, key: Sequence[KeyValue]) -> str:
    """An opaque cursor: ``direction`` ``"n"`` (after *key*) or ``"p"`` (before it)."""
    raw = json.dumps([direction, list(key)], separators=(",", ":"), ensure_ascii=False)
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def keyset_of(query: CursorQuery, types: tuple[type, ...]) -> Keyset:
    """Decode the cursor of *query* for a sort key of *types* (``int`` or ``str`` each).

    Raises:
        ApiError: 400 ``invalid_cursor`` for a cursor that is not one this server
            made for a key of these types.
    """
    limit = query.page_size + 1
    if query.cursor is None:
        return Keyset(None, None, limit)
    try:
        text = query.cursor + "=" * (-len(query.cursor) % 4)
        direction, key = json.loads(base64.urlsafe_b64decode(text.encode("ascii")))
        if direction not in ("n", "p") or not isinstance(key, list) or len(key) != len(types):
            raise ValueError("wrong shape")
        for value, kind in zip(key, types, strict=True):
            if type(value) is not kind or (isinstance(value, int) and abs(value) >= _SQLITE_INT):
                raise ValueError("wrong type")
    except (ValueError, TypeError, UnicodeError, binascii.Error):
        raise ApiError(
            400,
            "invalid_cursor",
            "expected a cursor from a next or previous link of this list, got another value",
            details=[("query.cursor", "not a cursor of this list")],
        ) from None
    if direction == "n":
        return Keyset(tuple(key), None, limit)
    return Keyset(None, tuple(key), limit)


def keyset_page(
    count: int,
    rows: Sequence[Any],
    keyset: Keyset,
    key_of: Callable[[Any], Sequence[KeyValue]],
    shape: Callable[[Any], Any] = lambda row: row,
) -> dict[str, Any]:
    """Wrap one keyset page in the list body (``count``, ``next``, ``previous``, ``results``).

    Args:
        count: Items in the whole list.
        rows: What the query function returned for *keyset*: at most ``keyset.limit``
            rows in list order (for a ``before`` keyset, the extra row is the first).
        keyset: The keyset the rows were read with.
        key_of: The sort key of a row.
        shape: Turns a row into its JSON.
    """
    page_size = keyset.limit - 1
    if keyset.before is not None:
        more_before = len(rows) > page_size
        rows = rows[-page_size:] if more_before else rows
        more_after = True
    else:
        more_after = len(rows) > page_size
        rows = rows[:page_size]
        more_before = keyset.after is not None
    return {
        "count": count,
        "next": _cursor_url("n", key_of(rows[-1])) if rows and more_after else None,
        "previous": _cursor_url("p", key_of(rows[0])) if rows and more_before else None,
        "results": [shape(row) for row in rows],
    }


def _cursor_url(direction: str, key: Sequence[KeyValue]) -> str:
    params = [(k, v) for k, v in request.args.items(multi=True) if k not in ("cursor", "page")]
    params.append(("cursor", encode_cursor(direction, key)))
    return f"{request.base_url}?{urlencode(params)}"
