"""The FAQ over REST (``/api/support/faq/``): categories in order, entries with
Markdown answers rendered safely, search, view counts and "was this helpful" votes.

Anyone may read published entries; staff write them and see drafts. Reading one
entry (``GET /api/support/faq/{id}/``) counts a view.
"""

from __future__ import annotations

from typing import Any

import trio
from quart_schema import (
    document_response,
    security_scheme,
    validate_querystring,
    validate_request,
)

from admin_app.core.caller import authenticate, require_caller
from admin_app.core.errors import ApiError, documents_errors, documents_no_content
from admin_app.core.openapi import BEARER, OPTIONAL_BEARER
from admin_app.core.pagination import Page, page_of
from admin_app.core.state import state
from data import NotFoundError
from data import support as store

from . import bp, service
from .markdown import render_markdown
from .schemas import (
    CategoryIn,
    CategoryOut,
    CategoryUpdateIn,
    EntryIn,
    EntryOut,
    EntryUpdateIn,
    FaqQuery,
    HelpfulIn,
)

MAX_ID = service.MAX_ID


def _category_not_found(category_id: int) -> ApiError:
    return ApiError(404, "category_not_found", f"no FAQ category has id {category_id}")


async def _list(query: FaqQuery) -> dict[str, Any]:
    st = state()
    caller = await authenticate(st)
    if query.include_drafts and not service.is_staff(caller):
        raise ApiError(403, "staff_only", "only staff list FAQ drafts")
    count, entries = await st.db.read(
        lambda conn: store.list_entries(
            conn,
            published_only=not query.include_drafts,
            category_id=query.category,
            search=query.search,
            offset=query.offset,
            limit=query.page_size,
        )
    )
    return page_of(count, await service.entries_json(st, entries, caller), query)


@bp.get("/faq/")
@validate_querystring(FaqQuery)
@security_scheme(OPTIONAL_BEARER)
@document_response(Page[EntryOut], 200)
@documents_errors(401, 403, 404, 422)
async def list_faq(query_args: FaqQuery) -> dict[str, Any]:
    """Published FAQ entries in display order (category order, then entry order),
    paginated; `category` and `search` (question and answer) filter them."""
    return await _list(query_args)


@bp.get("/faq/search/")
@validate_querystring(FaqQuery)
@security_scheme(OPTIONAL_BEARER)
@document_response(Page[EntryOut], 200)
@documents_errors(401, 403, 404, 422)
async def search_faq(query_args: FaqQuery) -> dict[str, Any]:
    """The same list as `GET /api/support/faq/`: give `search`."""
    return await _list(query_args)


@bp.post("/faq/")
@validate_request(EntryIn)
@security_scheme(BEARER)
@document_response(EntryOut, 201)
@documents_errors(400, 401, 403, 404, 413, 415, 422)
async def create_faq(data: EntryIn) -> tuple[dict[str, Any], int]:
    """Staff: add an entry (its answer in Markdown)."""
    st = state()
    service.require_staff(await require_caller(st))
    html = await trio.to_thread.run_sync(render_markdown, data.answer)
    try:
        entry = await st.db.write(
            lambda conn: store.create_entry(
                conn,
                category_id=data.category_id,
                question=data.question,
                answer_md=data.answer,
                answer_html=html,
                is_published=data.is_published,
                position=data.position,
                now_ms=st.now_ms(),
            )
        )
    except NotFoundError:
        raise _category_not_found(data.category_id) from None
    return service.entry_json(entry, None), 201


@bp.get("/faq/<int:entry_id>/")
@security_scheme(OPTIONAL_BEARER)
@document_response(EntryOut, 200)
@documents_errors(401, 404)
async def get_faq(entry_id: int) -> dict[str, Any]:
    """One entry (drafts: staff only); counts a view."""
    st = state()
    caller = await authenticate(st)
    entry = await service.load_entry(st, entry_id, caller)
    await st.db.write(store.count_view, entry_id)
    entry["view_count"] += 1
    return (await service.entries_json(st, [entry], caller))[0]


@bp.patch("/faq/<int:entry_id>/")
@validate_request(EntryUpdateIn)
@security_scheme(BEARER)
@document_response(EntryOut, 200)
@documents_errors(400, 401, 403, 404, 413, 415, 422)
async def update_faq(entry_id: int, data: EntryUpdateIn) -> dict[str, Any]:
    """Staff: change an entry (publish or unpublish it with `is_published`)."""
    st = state()
    service.require_staff(await require_caller(st))
    changes: dict[str, Any] = data.model_dump(exclude_none=True)
    if "answer" in changes:
        changes["answer_md"] = answer = changes.pop("answer")
        changes["answer_html"] = await trio.to_thread.run_sync(render_markdown, answer)
    changes["updated_at_ms"] = st.now_ms()
    if entry_id > MAX_ID:
        raise service.entry_not_found(entry_id)
    try:
        entry = await st.db.write(store.update_entry, entry_id, changes)
    except NotFoundError:
        if await st.db.read(store.find_entry, entry_id) is None:
            raise service.entry_not_found(entry_id) from None
        raise _category_not_found(data.category_id or 0) from None
    return service.entry_json(entry, None)


@bp.delete("/faq/<int:entry_id>/")
@security_scheme(BEARER)
@documents_errors(401, 403, 404)
@documents_no_content
async def delete_faq(entry_id: int) -> tuple[str, int]:
    """Staff: delete an entry and its votes."""
    st = state()
    service.require_staff(await require_caller(st))
    if entry_id > MAX_ID or not await st.db.write(store.delete_entry, entry_id):
        raise service.entry_not_found(entry_id)
    return "", 204


@bp.post("/faq/<int:entry_id>/helpful/")
@validate_request(HelpfulIn)
@security_scheme(BEARER)
@document_response(EntryOut, 200)
@documents_errors(400, 401, 404, 413, 415, 422)
async def vote_helpful(entry_id: int, data: HelpfulIn) -> dict[str, Any]:
    """Say whether an entry helped (`true`/`false`), or take it back (`null`): one
    vote per account, a new one replaces the old."""
    st = state()
    caller = await require_caller(st)
    await service.load_entry(st, entry_id, caller)
    try:
        entry = await st.db.write(
            store.vote_entry, entry_id, caller.user_id, data.helpful, st.now_ms()
        )
    except NotFoundError:
        raise service.entry_not_found(entry_id) from None
    return service.entry_json(entry, data.helpful)


# --- categories ------------------------------------------------------------------------------


@bp.get("/faq/categories/")
@security_scheme(OPTIONAL_BEARER)
@document_response(list[CategoryOut], 200)
@documents_errors(401)
async def list_categories() -> list[dict[str, Any]]:
    """Every FAQ category in display order, with its count of published entries."""
    st = state()
    await authenticate(st)
    categories = await st.db.read(store.list_categories)
    return [service.category_json(c) for c in categories]


@bp.post("/faq/categories/")
@validate_request(CategoryIn)
@security_scheme(BEARER)
@document_response(CategoryOut, 201)
@documents_errors(400, 401, 403, 409, 413, 415, 422)
async def create_category(data: CategoryIn) -> tuple[dict[str, Any], int]:
    """Staff: add a category (`position` orders them, smallest first)."""
    st = state()
    service.require_staff(await require_caller(st))
    try:
        category = await st.db.write(
            lambda conn: store.create_category(
                conn,
                name=data.name,
                description=data.description,
                position=data.position,
                now_ms=st.now_ms(),
            )
        )
    except store.NameTakenError as exc:
        raise ApiError(409, "category_exists", str(exc), details=[("name", "taken")]) from None
    return service.category_json(category), 201


@bp.patch("/faq/categories/<int:category_id>/")
@validate_request(CategoryUpdateIn)
@security_scheme(BEARER)
@document_response(CategoryOut, 200)
@documents_errors(400, 401, 403, 404, 409, 413, 415, 422)
async def update_category(category_id: int, data: CategoryUpdateIn) -> dict[str, Any]:
    """Staff: rename, describe or reorder a category."""
    st = state()
    service.require_staff(await require_caller(st))
    if category_id > MAX_ID:
        raise _category_not_found(category_id)
    try:
        category = await st.db.write(
            store.update_category, category_id, data.model_dump(exclude_none=True)
        )
    except store.NameTakenError as exc:
        raise ApiError(409, "category_exists", str(exc), details=[("name", "taken")]) from None
    except NotFoundError:
        raise _category_not_found(category_id) from None
    return service.category_json(category)


@bp.delete("/faq/categories/<int:category_id>/")
@security_scheme(BEARER)
@documents_errors(401, 403, 404, 409)
@documents_no_content
async def delete_category(category_id: int) -> tuple[str, int]:
    """Staff: delete an empty category (409 `category_not_empty` while it holds
    entries)."""
    st = state()
    service.require_staff(await require_caller(st))
    try:
        deleted = category_id <= MAX_ID and await st.db.write(store.delete_category, category_id)
    except store.InUseError as exc:
        raise ApiError(409, "category_not_empty", str(exc)) from None
    if not deleted:
        raise _category_not_found(category_id)
    return "", 204
