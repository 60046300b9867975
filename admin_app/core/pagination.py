"""The one pagination format of every list endpoint (page numbers, as Django REST
framework's ``PageNumberPagination``).

Request: ``?page=1&page_size=20`` (``page`` from 1; ``page_size`` 1 to
:data:`MAX_PAGE_SIZE`). Response::

    {"count": 42, "next": "http://host/api/rooms/?page=3&page_size=20",
     "previous": "http://host/api/rooms/?page=1&page_size=20", "results": [...]}

``next`` and ``previous`` are full URLs (the request's own, with ``page`` replaced and
every other parameter kept) or null. A page past the last one is a 404
``invalid_page``; page 1 of an empty list is an empty page.
"""

from __future__ import annotations

from collections.abc import Sequence
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
