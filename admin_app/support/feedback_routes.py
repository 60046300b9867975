"""The feedback board over REST (``/api/support/feedback/``): bug reports, feature
requests and general feedback, most votes first; one vote per account, toggled.

Anyone may read the board; an account posts; a non-guest account votes; staff set
the status (``new``, ``planned``, ``in_progress``, ``done``, ``declined``) and a
response.
"""

from __future__ import annotations

from typing import Any

from quart_schema import (
    document_response,
    security_scheme,
    validate_querystring,
    validate_request,
)

from admin_app.core.caller import authenticate, require_caller
from admin_app.core.errors import documents_errors
from admin_app.core.openapi import BEARER, OPTIONAL_BEARER
from admin_app.core.pagination import Page, page_of
from admin_app.core.state import state
from data import NotFoundError
from data import support as store

from . import bp, service
from .schemas import FeedbackIn, FeedbackOut, FeedbackQuery, FeedbackUpdateIn, VoteOut


@bp.get("/feedback/")
@validate_querystring(FeedbackQuery)
@security_scheme(OPTIONAL_BEARER)
@document_response(Page[FeedbackOut], 200)
@documents_errors(401, 404, 422)
async def list_feedback(query_args: FeedbackQuery) -> dict[str, Any]:
    """The board, most votes first (`ordering`: `-votes`, `votes`, `-created`,
    `created`), filtered by `kind`, `status` and `search`, paginated."""
    st = state()
    caller = await authenticate(st)
    count, items = await st.db.read(
        lambda conn: store.list_feedback(
            conn,
            kind=query_args.kind,
            status=query_args.status,
            search=query_args.search,
            ordering=query_args.ordering,
            offset=query_args.offset,
            limit=query_args.page_size,
        )
    )
    return page_of(count, await service.feedback_list_json(st, items, caller), query_args)


@bp.post("/feedback/")
@validate_request(FeedbackIn)
@security_scheme(BEARER)
@document_response(FeedbackOut, 201)
@documents_errors(400, 401, 413, 415, 422)
async def create_feedback(data: FeedbackIn) -> tuple[dict[str, Any], int]:
    """Post feedback: a `bug`, a `feature` request or `general`."""
    st = state()
    caller = await require_caller(st)
    item = await st.db.write(
        lambda conn: store.create_feedback(
            conn,
            user_id=caller.user_id,
            kind=data.kind,
            title=data.title,
            description=data.description,
            now_ms=st.now_ms(),
        )
    )
    return service.feedback_json(item, False), 201


@bp.get("/feedback/<int:feedback_id>/")
@security_scheme(OPTIONAL_BEARER)
@document_response(FeedbackOut, 200)
@documents_errors(401, 404)
async def get_feedback(feedback_id: int) -> dict[str, Any]:
    """One piece of feedback."""
    st = state()
    caller = await authenticate(st)
    item = None
    if feedback_id <= service.MAX_ID:
        item = await st.db.read(store.find_feedback, feedback_id)
    if item is None:
        raise service.feedback_not_found(feedback_id)
    return (await service.feedback_list_json(st, [item], caller))[0]


@bp.patch("/feedback/<int:feedback_id>/")
@validate_request(FeedbackUpdateIn)
@security_scheme(BEARER)
@document_response(FeedbackOut, 200)
@documents_errors(400, 401, 403, 404, 413, 415, 422)
async def update_feedback(feedback_id: int, data: FeedbackUpdateIn) -> dict[str, Any]:
    """Staff: set the `status` and a `staff_response`."""
    st = state()
    caller = await require_caller(st)
    service.require_staff(caller)
    if feedback_id > service.MAX_ID:
        raise service.feedback_not_found(feedback_id)
    changes: dict[str, Any] = data.model_dump(exclude_none=True)
    changes["updated_at_ms"] = st.now_ms()
    try:
        item = await st.db.write(store.update_feedback, feedback_id, changes)
    except NotFoundError:
        raise service.feedback_not_found(feedback_id) from None
    return (await service.feedback_list_json(st, [item], caller))[0]


@bp.post("/feedback/<int:feedback_id>/vote/")
@security_scheme(BEARER)
@document_response(VoteOut, 200)
@documents_errors(401, 403, 404)
async def vote_feedback(feedback_id: int) -> dict[str, Any]:
    """Vote for feedback, or take the vote back (a toggle): one vote per account.
    Guest accounts cannot vote (403 `guest_not_allowed`)."""
    st = state()
    caller = await require_caller(st)
    voted, count = await service.toggle_vote(st, feedback_id, caller)
    return {"voted": voted, "vote_count": count}
