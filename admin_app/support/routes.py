"""Support tickets over REST (``/api/support/tickets/``): HTTP only, the rules are in
:mod:`admin_app.support.service`.

Every ticket endpoint needs an access token (guest accounts too, with an email to
answer to). Requesters see their own tickets; staff see all, with filters.
"""

from __future__ import annotations

import io
from typing import Any

from quart import Response, current_app, request, send_file
from quart.blueprints import BlueprintSetupState
from quart_schema import (
    DataSource,
    document_request,
    document_response,
    security_scheme,
    validate_querystring,
    validate_request,
)

from admin_app.core.caller import require_caller
from admin_app.core.errors import ApiError, documents_errors
from admin_app.core.openapi import BEARER, FILE_RESPONSES_ATTRIBUTE
from admin_app.core.pagination import Page, page_of
from admin_app.core.state import state
from data import support as store

from . import bp, service
from .attachments import receive_attachment
from .schemas import (
    AssignIn,
    AttachmentForm,
    AttachmentOut,
    PriorityIn,
    ReplyIn,
    ReplyOut,
    StatusIn,
    TicketDetailOut,
    TicketIn,
    TicketOut,
    TicketsQuery,
)
from .service import SupportSettings

EXTENSION_KEY = "watchparty_support"


@bp.record_once
def _setup(setup: BlueprintSetupState) -> None:
    setup.app.extensions[EXTENSION_KEY] = SupportSettings.from_config(
        setup.app.extensions["watchparty"].config
    )


def support_settings() -> SupportSettings:
    return current_app.extensions[EXTENSION_KEY]  # type: ignore[no-any-return]


@bp.get("/tickets/")
@validate_querystring(TicketsQuery)
@security_scheme(BEARER)
@document_response(Page[TicketOut], 200)
@documents_errors(401, 403, 404, 422)
async def list_tickets(query_args: TicketsQuery) -> dict[str, Any]:
    """Tickets, newest first, paginated: the caller's own, or (staff) everyone's.

    Filters: `status`, `priority`, `category`, `search` (subject and description) and,
    for staff, `assignee` (an account id, `me`, or `none` for unassigned).
    """
    st = state()
    caller = await require_caller(st)
    staff = caller.is_staff
    assignee_id: str | None = None
    unassigned = False
    if query_args.assignee is not None:
        if not staff:
            raise ApiError(403, "staff_only", "only staff filter tickets by assignee")
        if query_args.assignee == "none":
            unassigned = True
        else:
            assignee_id = caller.user_id if query_args.assignee == "me" else query_args.assignee
    count, tickets = await st.db.read(
        lambda conn: store.list_tickets(
            conn,
            requester_id=None if staff else caller.user_id,
            status=query_args.status,
            priority=query_args.priority,
            category=query_args.category,
            assignee_id=assignee_id,
            unassigned=unassigned,
            search=query_args.search,
            offset=query_args.offset,
            limit=query_args.page_size,
        )
    )
    return page_of(count, [service.ticket_json(t, staff=staff) for t in tickets], query_args)


@bp.post("/tickets/")
@validate_request(TicketIn)
@security_scheme(BEARER)
@document_response(TicketDetailOut, 201)
@documents_errors(400, 401, 413, 415, 422)
async def create_ticket(data: TicketIn) -> tuple[dict[str, Any], int]:
    """Open a ticket. Guest accounts must give an `email` to be answered at.

    Staff are told (in-app, and by email when configured).
    """
    st = state()
    caller = await require_caller(st)
    ticket = await service.create_ticket(
        st,
        caller,
        subject=data.subject,
        description=data.description,
        category=data.category,
        priority=data.priority,
        email=data.email,
    )
    return await service.ticket_detail(st, ticket, caller), 201


@bp.get("/tickets/<int:ticket_id>/")
@security_scheme(BEARER)
@document_response(TicketDetailOut, 200)
@documents_errors(401, 404)
async def get_ticket(ticket_id: int) -> dict[str, Any]:
    """A ticket with its thread and attachments (internal notes: staff only)."""
    st = state()
    caller = await require_caller(st)
    ticket = await service.load_ticket(st, ticket_id, caller)
    return await service.ticket_detail(st, ticket, caller)


@bp.post("/tickets/<int:ticket_id>/reply/")
@validate_request(ReplyIn)
@security_scheme(BEARER)
@document_response(ReplyOut, 201)
@documents_errors(400, 401, 403, 404, 409, 413, 415, 422)
async def reply(ticket_id: int, data: ReplyIn) -> tuple[dict[str, Any], int]:
    """Reply to a ticket; staff may add an `internal` note instead.

    A requester's reply reopens a resolved ticket and moves one waiting on them back
    to open. A closed ticket takes no replies (409 `ticket_closed`), only staff
    notes. The requester is told of each staff reply.
    """
    st = state()
    caller = await require_caller(st)
    message, ticket = await service.reply(
        st, ticket_id, caller, body=data.body, internal=data.internal
    )
    return {
        "message": service.message_json(message),
        "ticket": service.ticket_json(ticket, staff=caller.is_staff),
    }, 201


@bp.post("/tickets/<int:ticket_id>/status/")
@validate_request(StatusIn)
@security_scheme(BEARER)
@document_response(TicketOut, 200)
@documents_errors(400, 401, 404, 409, 413, 415, 422)
async def set_status(ticket_id: int, data: StatusIn) -> dict[str, Any]:
    """Move a ticket to another status, if the transition is allowed for the caller
    (see `allowed_statuses` on the ticket; 409 `invalid_transition` otherwise)."""
    st = state()
    caller = await require_caller(st)
    ticket = await service.change_status(st, ticket_id, caller, data.status)
    return service.ticket_json(ticket, staff=caller.is_staff)


@bp.post("/tickets/<int:ticket_id>/priority/")
@validate_request(PriorityIn)
@security_scheme(BEARER)
@document_response(TicketOut, 200)
@documents_errors(400, 401, 403, 404, 413, 415, 422)
async def set_priority(ticket_id: int, data: PriorityIn) -> dict[str, Any]:
    """Staff: set a ticket's priority."""
    st = state()
    caller = await require_caller(st)
    ticket = await service.set_priority(st, ticket_id, caller, data.priority)
    return service.ticket_json(ticket, staff=True)


@bp.post("/tickets/<int:ticket_id>/assign/")
@validate_request(AssignIn)
@security_scheme(BEARER)
@document_response(TicketOut, 200)
@documents_errors(400, 401, 403, 404, 413, 415, 422)
async def assign(ticket_id: int, data: AssignIn) -> dict[str, Any]:
    """Staff: assign a ticket to a staff account (`assignee_id`), or unassign (null)."""
    st = state()
    caller = await require_caller(st)
    ticket = await service.assign(st, ticket_id, caller, data.assignee_id)
    return service.ticket_json(ticket, staff=True)


@bp.post("/tickets/<int:ticket_id>/attachments/")
@security_scheme(BEARER)
@document_request(AttachmentForm, source=DataSource.FORM_MULTIPART)
@document_response(AttachmentOut, 201)
@documents_errors(400, 401, 403, 404, 409, 413, 415, 422)
async def upload_attachment(ticket_id: int) -> tuple[dict[str, Any], int]:
    """Attach a file to a ticket: `multipart/form-data` with a `file` (an image or
    UTF-8 text, told apart by content, at most `support_max_attachment_bytes`) and,
    for staff, `internal=true` to hide it from the requester."""
    st = state()
    caller = await require_caller(st)
    ticket = await service.load_ticket(st, ticket_id, caller)
    settings = support_settings()
    received = await receive_attachment(request, max_bytes=settings.max_attachment_bytes)
    if received.internal and not caller.is_staff:
        raise ApiError(403, "forbidden", "only staff add internal attachments")
    if ticket["status"] == "closed" and not received.internal:
        raise ApiError(409, "ticket_closed", f"ticket {ticket_id} is closed: open a new ticket")

    def write(conn: Any) -> dict[str, Any]:
        if store.count_attachments(conn, ticket_id) >= settings.max_attachments:
            raise ApiError(
                409,
                "too_many_attachments",
                f"ticket {ticket_id} has {settings.max_attachments} attachments, the limit "
                "(support_max_attachments)",
            )
        return store.add_attachment(
            conn,
            ticket_id=ticket_id,
            uploader_id=caller.user_id,
            is_internal=received.internal,
            file_name=received.file_name,
            content_type=received.kind.mime,
            content=received.content,
            now_ms=st.now_ms(),
        )

    attachment = await st.db.write(write)
    return service.attachment_json(attachment), 201


#: OpenAPI responses of an attachment download (quart-schema documents JSON only).
_DOWNLOAD_RESPONSES = {
    200: {
        "description": "The file, as a download.",
        "headers": {
            "Content-Disposition": {
                "description": "`attachment` with the file name (RFC 6266).",
                "schema": {"type": "string"},
            }
        },
        "content": {
            mime: {"schema": {"type": "string", "format": "binary"}}
            for mime in ("image/png", "image/jpeg", "image/gif", "image/webp", "text/plain")
        },
    }
}


@bp.get("/tickets/<int:ticket_id>/attachments/<int:attachment_id>/")
@security_scheme(BEARER)
@documents_errors(401, 404)
async def download_attachment(ticket_id: int, attachment_id: int) -> Response:
    """Download an attachment (as a file, never shown inline)."""
    st = state()
    caller = await require_caller(st)
    await service.load_ticket(st, ticket_id, caller)
    found = None
    if attachment_id <= service.MAX_ID:
        found = await st.db.read(store.find_attachment, attachment_id)
    if (
        found is None
        or found["ticket_id"] != ticket_id
        or (found["is_internal"] and not caller.is_staff)
    ):
        raise ApiError(
            404, "attachment_not_found", f"ticket {ticket_id} has no attachment {attachment_id}"
        )
    response = await send_file(
        io.BytesIO(found["content"]),
        mimetype=found["content_type"],
        as_attachment=True,
        attachment_filename=found["file_name"],
    )
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


setattr(download_attachment, FILE_RESPONSES_ATTRIBUTE, _DOWNLOAD_RESPONSES)
