"""Events over REST (``/api/events/``): create, list, search, show, edit, cancel and
delete events; join, leave and RSVP; attendees and their approval; invitations;
reminders; the ``.ics`` of an event and the private calendar feed of a user.

The rules (who may see and manage an event, its JSON) are in ``service``; the
iCalendar output in ``calendar``; reminders are sent by ``scheduler``.
"""

from __future__ import annotations

import logging
from typing import Any

from pydantic import ValidationError
from quart import Response, current_app, request, url_for
from quart_schema import (
    document_response,
    security_scheme,
    validate_querystring,
    validate_request,
)

from admin_app.core.caller import Caller, authenticate, require_caller
from admin_app.core.errors import (
    ApiError,
    documents_errors,
    documents_no_content,
    validation_details,
)
from admin_app.core.openapi import BEARER, OPTIONAL_BEARER, documents_request_body
from admin_app.core.pagination import Page, PageQuery, page_of
from admin_app.core.state import WebState, state
from admin_app.rooms import service as rooms
from data import events as store
from data.events import DuplicateInvitationError, DuplicateReminderError, EventFullError
from protocol.errors import WatchpartyError

from . import bp
from .calendar import calendar_bytes
from .openapi import documents_banner_upload, documents_calendar, documents_image
from .schemas import (
    AttendeeOut,
    AttendeesQuery,
    EventIn,
    EventOut,
    EventPatchIn,
    FeedOut,
    InvitationOut,
    InviteIn,
    JoinIn,
    ReminderIn,
    ReminderOut,
    RemindersOut,
    RespondIn,
    RsvpIn,
    RsvpOut,
    SearchQuery,
    check_time,
    dump,
)
from .service import (
    DEFAULT_INVITATION_S,
    EventContext,
    attendee_json,
    check_times,
    display_time,
    email_available,
    event_json,
    event_status,
    events_json,
    invitation_json,
    load_event,
    notify,
    parse_time_ms,
    reminder_json,
    sniff_image,
)

logger = logging.getLogger(__name__)

#: Reminders one attendee may keep on one event.
MAX_REMINDERS = 5
#: Events in a calendar feed, at most; and how far back it reaches, milliseconds.
FEED_LIMIT = 500
FEED_HISTORY_MS = 30 * 24 * 3600 * 1000


def _json(st: WebState, ctx: EventContext, caller: Caller | None, event: Any = None) -> Any:
    my = ctx.attendance["status"] if ctx.attendance else None
    return event_json(event or ctx.event, now_ms=st.now_ms(), caller=caller, my_status=my)


def _require_manager(ctx: EventContext, caller: Caller, what: str) -> None:
    if not ctx.may_manage(caller):
        raise ApiError(403, "forbidden", f"only the organizer of event {ctx.id} may {what}")


def _require_open(st: WebState, ctx: EventContext, *, started_ok: bool = True) -> None:
    """Refuse changes to a cancelled or completed event (409)."""
    status = event_status(ctx.event, st.now_ms())
    if status == "cancelled":
        raise ApiError(409, "event_cancelled", f"event {ctx.id} was cancelled")
    if status == "completed" or (status == "ongoing" and not started_ok):
        raise ApiError(409, "event_ended", f"event {ctx.id} is {status}")


async def _room_for(st: WebState, caller: Caller, title: str, room: str, code: str | None) -> Any:
    """The watch room an event gets: a new one hosted by *caller*, an existing one
    *caller* owns (*code*), or None."""
    if code is not None:
        try:
            ctx = await rooms.load_room(st, code, caller)
        except WatchpartyError:
            ctx = None
        if ctx is None or not ctx.is_owner(caller):
            raise ApiError(
                422,
                "invalid_room",
                f"expected the code of a live room you own, got {code!r}",
                details=[("room_code", "not a live room of yours")],
            )
        return ctx.code
    if room == "new":
        created = await st.rooms.create_room(name=title, owner_user_id=caller.user_id)
        return str(created["code"])
    return None


# --- events -------------------------------------------------------------------------------
@bp.post("/")
@validate_request(EventIn)
@security_scheme(BEARER)
@document_response(EventOut, 201)
@documents_errors(400, 401, 403, 413, 415, 422, 503)
async def create(data: EventIn) -> tuple[dict[str, Any], int]:
    """Create an event; the caller organizes it and attends it.

    Times are RFC 3339 with an offset; the start must be in the future (422
    `invalid_time`). `room`: `new` creates a watch room the organizer hosts;
    `room_code` ties a live room the caller owns instead. Guests may not organize.
    """
    st = state()
    caller = await require_caller(st)
    if caller.user["is_guest"]:
        raise ApiError(403, "guests_cannot_organize", "guests may not organize events; register")
    starts, ends = parse_time_ms(data.start_time), parse_time_ms(data.end_time)
    check_times(starts, ends, st.now_ms(), new_start=True)
    room_code = await _room_for(st, caller, data.title, data.room, data.room_code)
    fields = {
        "id": store.new_event_id(),
        "organizer_id": caller.user_id,
        "title": data.title,
        "description": data.description,
        "starts_at_ms": starts,
        "ends_at_ms": ends,
        "timezone": data.timezone,
        "location": data.location,
        "is_virtual": int(data.is_virtual),
        "category": data.category,
        "tags": data.tags,
        "privacy": data.privacy,
        "max_attendees": data.max_attendees,
        "require_approval": int(data.require_approval),
        "room_code": room_code,
    }
    event = await st.db.write(lambda conn: store.create_event(conn, fields, now_ms=st.now_ms()))
    logger.info("event %s created by account %s", event["id"], caller.user_id)
    _wake_scheduler()
    return event_json(event, now_ms=st.now_ms(), caller=caller, my_status="attending"), 201


@bp.get("/")
@validate_querystring(SearchQuery)
@security_scheme(OPTIONAL_BEARER)
@document_response(Page[EventOut], 200)
@documents_errors(401, 404, 422)
async def list_events(query_args: SearchQuery) -> dict[str, Any]:
    """Events the caller may see, soonest first, with the filters of `search/`."""
    return await _search(query_args)


@bp.get("/search/")
@validate_querystring(SearchQuery)
@security_scheme(OPTIONAL_BEARER)
@document_response(Page[EventOut], 200)
@documents_errors(401, 404, 422)
async def search(query_args: SearchQuery) -> dict[str, Any]:
    """Search events the caller may see: words (`q`), `category`, `tags` (all of
    them, comma-separated), a start range (`starts_after`, `starts_before`, RFC 3339
    with an offset), `is_virtual`, `room` (events tied to that watch room, so a room
    can show its event); events not ended unless `include_past`. Soonest
    first; `count` is the total of matches."""
    return await _search(query_args)


def _range_ms(value: str | None, name: str) -> int | None:
    if value is None:
        return None
    try:
        check_time(value)
    except ValueError as exc:
        raise ApiError(
            422,
            "validation_error",
            "the query string is not valid",
            details=[(f"query.{name}", str(exc))],
        ) from None
    return parse_time_ms(value)


async def _search(query: SearchQuery) -> dict[str, Any]:
    st = state()
    caller = await authenticate(st)
    after = _range_ms(query.starts_after, "starts_after")
    before = _range_ms(query.starts_before, "starts_before")
    tags = [t.strip().lower() for t in (query.tags or "").split(",") if t.strip()]
    count, events = await st.db.read(
        lambda conn: store.search_events(
            conn,
            viewer_id=caller.user_id if caller else None,
            staff=bool(caller and caller.is_staff),
            text=query.q,
            category=query.category or None,
            tags=tags[:10],
            starts_after_ms=after,
            starts_before_ms=before,
            is_virtual=query.is_virtual,
            include_past=query.include_past,
            room_code=query.room,
            now_ms=st.now_ms(),
            offset=query.offset,
            limit=query.page_size,
        )
    )
    return page_of(count, await events_json(st, events, caller), query)


@bp.get("/upcoming/")
@validate_querystring(PageQuery)
@security_scheme(OPTIONAL_BEARER)
@document_response(Page[EventOut], 200)
@documents_errors(401, 404, 422)
async def upcoming(query_args: PageQuery) -> dict[str, Any]:
    """Events not ended nor cancelled that the caller may see (public ones, and
    those the caller organizes, attends or is invited to), soonest first."""
    st = state()
    caller = await authenticate(st)
    count, events = await st.db.read(
        lambda conn: store.list_upcoming(
            conn,
            viewer_id=caller.user_id if caller else None,
            staff=bool(caller and caller.is_staff),
            now_ms=st.now_ms(),
            offset=query_args.offset,
            limit=query_args.page_size,
        )
    )
    return page_of(count, await events_json(st, events, caller), query_args)


@bp.get("/my/")
@validate_querystring(PageQuery)
@security_scheme(BEARER)
@document_response(Page[EventOut], 200)
@documents_errors(401, 404, 422)
async def my_events(query_args: PageQuery) -> dict[str, Any]:
    """Events the caller organizes, latest start first (cancelled and past ones too)."""
    st = state()
    caller = await require_caller(st)
    count, events = await st.db.read(
        lambda conn: store.list_organised(
            conn, caller.user_id, offset=query_args.offset, limit=query_args.page_size
        )
    )
    return page_of(count, await events_json(st, events, caller), query_args)


@bp.get("/attending/")
@validate_querystring(PageQuery)
@security_scheme(BEARER)
@document_response(Page[EventOut], 200)
@documents_errors(401, 404, 422)
async def attending(query_args: PageQuery) -> dict[str, Any]:
    """Events not ended the caller answered `attending` or `maybe` to, or waits for
    approval of, soonest first."""
    st = state()
    caller = await require_caller(st)
    count, events = await st.db.read(
        lambda conn: store.list_attending(
            conn,
            caller.user_id,
            now_ms=st.now_ms(),
            offset=query_args.offset,
            limit=query_args.page_size,
        )
    )
    return page_of(count, await events_json(st, events, caller), query_args)


@bp.get("/<event_id>/")
@security_scheme(OPTIONAL_BEARER)
@document_response(EventOut, 200)
@documents_errors(401, 404)
async def detail(event_id: str) -> dict[str, Any]:
    """An event (404 `event_not_found` also for one the caller may not see)."""
    st = state()
    caller = await authenticate(st)
    ctx = await load_event(st, event_id, caller)
    return _json(st, ctx, caller)  # type: ignore[no-any-return]


async def _update(event_id: str, changes: dict[str, Any]) -> dict[str, Any]:
    st = state()
    caller = await require_caller(st)
    ctx = await load_event(st, event_id, caller)
    _require_manager(ctx, caller, "change it")
    _require_open(st, ctx)
    event = ctx.event
    columns: dict[str, Any] = {}
    current: dict[str, Any] = dict(event)
    for name in ("title", "description", "timezone", "location", "category", "tags", "privacy"):
        if name in changes and changes[name] is not None and changes[name] != current[name]:
            columns[name] = changes[name]
    for name in ("is_virtual", "require_approval"):
        if name in changes and changes[name] is not None and changes[name] != current[name]:
            columns[name] = int(changes[name])
    if "max_attendees" in changes and changes["max_attendees"] != event["max_attendees"]:
        capacity = changes["max_attendees"]
        if capacity is not None and capacity < event["attending_count"]:
            raise ApiError(
                409,
                "capacity_below_attendance",
                f"{event['attending_count']} people attend already; expected max_attendees "
                f"of at least that, got {capacity}",
                details=[("max_attendees", f"at least {event['attending_count']}")],
            )
        columns["max_attendees"] = capacity
    starts = parse_time_ms(changes["start_time"]) if changes.get("start_time") else None
    ends = parse_time_ms(changes["end_time"]) if changes.get("end_time") else None
    new_starts = starts if starts is not None else event["starts_at_ms"]
    new_ends = ends if ends is not None else event["ends_at_ms"]
    moved = new_starts != event["starts_at_ms"] or new_ends != event["ends_at_ms"]
    if moved:
        check_times(
            new_starts, new_ends, st.now_ms(), new_start=new_starts != event["starts_at_ms"]
        )
        columns["starts_at_ms"] = new_starts
        columns["ends_at_ms"] = new_ends
    code = changes.get("room_code")
    if code is not None and code != event["room_code"]:
        columns["room_code"] = await _room_for(st, caller, event["title"], "none", code)
    elif changes.get("room") == "new" and event["room_code"] is None:
        columns["room_code"] = await _room_for(st, caller, event["title"], "new", None)
    if not columns:
        return _json(st, ctx, caller)  # type: ignore[no-any-return]
    updated = await st.db.write(
        lambda conn: store.update_event(conn, event_id, columns, now_ms=st.now_ms())
    )
    if moved or "location" in columns:
        what = []
        if moved:
            what.append("it now starts at " + _display(updated))
        if "location" in columns:
            what.append(f"the location is now {updated['location'] or 'online'}")
        others = await st.db.read(store.attendee_ids, event_id, ("attending", "maybe", "pending"))
        others = [uid for uid in others if uid != caller.user_id]
        await notify(st, others, "event_changed", updated, change="; ".join(what))
    if moved or "room_code" in columns:
        _wake_scheduler()
    logger.info("event %s changed by account %s: %s", event_id, caller.user_id, sorted(columns))
    return _json(st, ctx, caller, updated)  # type: ignore[no-any-return]


def _display(event: Any) -> str:
    return display_time(event["starts_at_ms"], event["timezone"])


@bp.put("/<event_id>/")
@validate_request(EventIn)
@security_scheme(BEARER)
@document_response(EventOut, 200)
@documents_errors(400, 401, 403, 404, 409, 413, 415, 422, 503)
async def replace(event_id: str, data: EventIn) -> dict[str, Any]:
    """Replace an event's fields (organizer or staff). Moving it notifies attendees
    and raises its iCalendar SEQUENCE; so does any change."""
    changes = data.model_dump()
    if changes.get("room_code") is None:
        changes.pop("room_code", None)
    return await _update(event_id, changes)


@bp.patch("/<event_id>/")
@validate_request(EventPatchIn)
@security_scheme(BEARER)
@document_response(EventOut, 200)
@documents_errors(400, 401, 403, 404, 409, 413, 415, 422, 503)
async def patch(event_id: str, data: EventPatchIn) -> dict[str, Any]:
    """Change some of an event's fields (organizer or staff); as PUT otherwise."""
    return await _update(event_id, dump(data))


@bp.post("/<event_id>/cancel/")
@security_scheme(BEARER)
@document_response(EventOut, 200)
@documents_errors(401, 403, 404, 409)
async def cancel(event_id: str) -> dict[str, Any]:
    """Cancel an event (organizer or staff): its status becomes `cancelled`, its
    scheduled reminders are skipped, its attendees are told, and calendars see
    STATUS:CANCELLED. 409 `event_cancelled` when it was already."""
    st = state()
    caller = await require_caller(st)
    ctx = await load_event(st, event_id, caller)
    _require_manager(ctx, caller, "cancel it")
    _require_open(st, ctx)
    event = await _cancel(st, ctx, caller)
    return _json(st, ctx, caller, event)  # type: ignore[no-any-return]


async def _cancel(st: WebState, ctx: EventContext, caller: Caller) -> Any:
    def write(conn: Any) -> tuple[Any, list[str]]:
        ids = store.attendee_ids(conn, ctx.id, ("attending", "maybe", "pending"))
        return store.cancel_event(conn, ctx.id, now_ms=st.now_ms()), ids

    event, ids = await st.db.write(write)
    await notify(st, [u for u in ids if u != caller.user_id], "event_cancelled", event)
    logger.info("event %s cancelled by account %s", ctx.id, caller.user_id)
    return event


@bp.delete("/<event_id>/")
@security_scheme(BEARER)
@documents_errors(401, 403, 404)
@documents_no_content
async def delete(event_id: str) -> tuple[str, int]:
    """Delete an event with its attendees, invitations and reminders (organizer or
    staff). Attendees of an event not yet over are told it was cancelled."""
    st = state()
    caller = await require_caller(st)
    ctx = await load_event(st, event_id, caller)
    _require_manager(ctx, caller, "delete it")
    if event_status(ctx.event, st.now_ms()) in ("upcoming", "ongoing"):
        await _cancel(st, ctx, caller)
    await st.db.write(store.delete_event, event_id)
    logger.info("event %s deleted by account %s", event_id, caller.user_id)
    return "", 204


# --- banner -------------------------------------------------------------------------------
def _banner_limit(st: WebState) -> int:
    return int(getattr(st.config, "event_banner_max_bytes", 1_048_576))


def _banner_too_large(limit: int) -> ApiError:
    return ApiError(
        413,
        "banner_too_large",
        f"expected a banner of at most {limit} bytes (event_banner_max_bytes)",
    )


@bp.put("/<event_id>/banner/")
@security_scheme(BEARER)
@documents_banner_upload
@document_response(EventOut, 200)
@documents_errors(401, 403, 404, 409, 413, 415)
async def set_banner(event_id: str) -> dict[str, Any]:
    """Upload the event's banner image (organizer or staff): the raw image as the
    body, PNG, JPEG, GIF or WebP, recognised by its content (415
    `unsupported_image` otherwise), at most `event_banner_max_bytes` (413
    `banner_too_large`). Replaces any banner it had."""
    st = state()
    caller = await require_caller(st)
    ctx = await load_event(st, event_id, caller)
    _require_manager(ctx, caller, "change its banner")
    _require_open(st, ctx)
    limit = _banner_limit(st)
    if request.content_length is not None and request.content_length > limit:
        raise _banner_too_large(limit)
    request.max_content_length = limit
    data = await request.get_data(as_text=False)
    assert isinstance(data, bytes)
    if len(data) > limit:
        raise _banner_too_large(limit)
    kind = sniff_image(data[:16])
    if kind is None:
        raise ApiError(
            415,
            "unsupported_image",
            "expected a PNG, JPEG, GIF or WebP image as the request body",
        )
    now = st.now_ms()
    await st.db.write(lambda conn: store.set_banner(conn, ctx.id, kind, data, now_ms=now))
    event = await st.db.read(store.get_event, ctx.id)
    return _json(st, ctx, caller, event)  # type: ignore[no-any-return]


@bp.delete("/<event_id>/banner/")
@security_scheme(BEARER)
@documents_errors(401, 403, 404)
@documents_no_content
async def delete_banner(event_id: str) -> tuple[str, int]:
    """Remove the event's banner (organizer or staff; idempotent)."""
    st = state()
    caller = await require_caller(st)
    ctx = await load_event(st, event_id, caller)
    _require_manager(ctx, caller, "change its banner")
    await st.db.write(lambda conn: store.delete_banner(conn, ctx.id, now_ms=st.now_ms()))
    return "", 204


@bp.get("/<event_id>/banner/")
@security_scheme(OPTIONAL_BEARER)
@documents_image
@documents_errors(401, 404)
async def banner(event_id: str) -> Response:
    """The event's banner image (404 `banner_not_found` when it has none)."""
    st = state()
    caller = await authenticate(st)
    ctx = await load_event(st, event_id, caller)
    found = await st.db.read(store.get_banner, ctx.id)
    if found is None:
        raise ApiError(404, "banner_not_found", f"event {ctx.id} has no banner")
    kind, data, _updated = found
    response = Response(data, status=200, content_type=kind)
    response.headers["Cache-Control"] = (
        "public, max-age=300" if ctx.event["privacy"] == "public" else "private, max-age=300"
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'"
    return response


# --- answers ------------------------------------------------------------------------------
async def _answer(event_id: str, status: str) -> tuple[dict[str, Any], int]:
    st = state()
    caller = await require_caller(st)
    ctx = await load_event(st, event_id, caller)
    if not ctx.may_answer(caller):
        raise ApiError(404, "event_not_found", f"no event with id {event_id!r} that you may see")
    _require_open(st, ctx, started_ok=True)
    before = ctx.attendance
    if before is not None and before["status"] == "denied":
        raise ApiError(403, "rsvp_denied", f"the organizer of event {ctx.id} declined your request")
    stored = status
    wanted = None
    invited = ctx.invitation is not None and ctx.invitation["status"] != "declined"
    needs_approval = (
        status in ("attending", "maybe")
        and ctx.event["require_approval"]
        and not ctx.may_manage(caller)
        and not invited
        and (before is None or before["status"] not in ("attending", "maybe"))
    )
    if needs_approval:
        stored, wanted = "pending", status
    invitation = ctx.invitation

    def write(conn: Any) -> Any:
        event = store.set_attendance(
            conn, ctx.id, caller.user_id, stored, wanted=wanted, now_ms=st.now_ms()
        )
        if invitation is not None and invitation["status"] == "pending" and not needs_approval:
            answer = "declined" if status == "not_attending" else "accepted"
            store.set_invitation_status(conn, invitation["id"], answer, now_ms=st.now_ms())
        return event

    try:
        event = await st.db.write(write)
    except EventFullError:
        raise _full(ctx) from None
    if stored == "pending":
        message = "waiting for the organizer's approval"
        code = 202
    else:
        message = {
            "attending": "you attend",
            "maybe": "you may attend",
            "not_attending": "you do not attend",
        }[stored]
        code = 200
    body = event_json(event, now_ms=st.now_ms(), caller=caller, my_status=stored)
    return {
        "event_id": ctx.id,
        "user_id": caller.user_id,
        "status": stored,
        "message": message,
        "event": body,
    }, code


def _full(ctx: EventContext) -> ApiError:
    capacity = ctx.event["max_attendees"]
    return ApiError(409, "event_full", f"all {capacity} places of event {ctx.id} are taken")


@bp.post("/<event_id>/join/")
@security_scheme(BEARER)
@documents_request_body(
    {"application/json": {"schema": JoinIn.model_json_schema()}}, required=False
)
@document_response(RsvpOut, 200)
@document_response(RsvpOut, 202)
@documents_errors(400, 401, 403, 404, 409, 413, 415, 422)
async def join(event_id: str) -> tuple[dict[str, Any], int]:
    """Join an event: as `rsvp/` with `attending`. The body is optional:
    `{"status": "maybe"}` joins as maybe."""
    body = await request.get_json()
    try:
        data = JoinIn.model_validate({} if body is None else body)
    except ValidationError as exc:
        raise ApiError(
            422,
            "validation_error",
            "the request body is not valid",
            details=validation_details(exc),
        ) from None
    return await _answer(event_id, data.status)


@bp.post("/<event_id>/rsvp/")
@validate_request(RsvpIn)
@security_scheme(BEARER)
@document_response(RsvpOut, 200)
@document_response(RsvpOut, 202)
@documents_errors(400, 401, 403, 404, 409, 413, 415, 422)
async def rsvp(event_id: str, data: RsvpIn) -> tuple[dict[str, Any], int]:
    """Answer `attending`, `maybe` or `not_attending`.

    200 with the answer, or 202 `pending` when the event requires approval and the
    caller is not invited (the organizer approves or denies). 409 `event_full` for
    `attending` when every place is taken (`maybe` takes no place), 409
    `event_cancelled` / `event_ended`, 403 `rsvp_denied` after a denial. A private
    event answers only its organizer, invitees and attendees (404 otherwise).
    """
    return await _answer(event_id, data.status)


@bp.post("/<event_id>/leave/")
@security_scheme(BEARER)
@documents_errors(401, 403, 404)
@documents_no_content
async def leave(event_id: str) -> tuple[str, int]:
    """Stop attending: remove the caller's answer and scheduled reminders
    (idempotent). The organizer cannot leave (403): cancel the event instead."""
    st = state()
    caller = await require_caller(st)
    ctx = await load_event(st, event_id, caller)
    if ctx.is_organizer(caller):
        raise ApiError(403, "organizer_cannot_leave", "the organizer cannot leave; cancel instead")
    await st.db.write(store.remove_attendance, ctx.id, caller.user_id)
    return "", 204


@bp.get("/<event_id>/attendees/")
@validate_querystring(AttendeesQuery)
@security_scheme(OPTIONAL_BEARER)
@document_response(Page[AttendeeOut], 200)
@documents_errors(401, 403, 404, 422)
async def attendees(event_id: str, query_args: AttendeesQuery) -> dict[str, Any]:
    """Who answered, in answer order: `attending` and `maybe` by default; `status`
    `pending`, `denied` or `not_attending` for the organizer and staff only."""
    st = state()
    caller = await authenticate(st)
    ctx = await load_event(st, event_id, caller)
    statuses: tuple[str, ...] = ("attending", "maybe")
    if query_args.status is not None:
        statuses = (query_args.status,)
        if query_args.status not in ("attending", "maybe") and not ctx.may_manage(caller):
            raise ApiError(403, "forbidden", f"only the organizer sees {query_args.status} answers")
    count, rows = await st.db.read(
        lambda conn: store.list_attendees(
            conn, ctx.id, statuses, offset=query_args.offset, limit=query_args.page_size
        )
    )
    organizer = ctx.event["organizer_id"]
    return page_of(count, [attendee_json(r, organizer) for r in rows], query_args)


async def _decide(event_id: str, user_id: str, approve: bool) -> dict[str, Any]:
    st = state()
    caller = await require_caller(st)
    ctx = await load_event(st, event_id, caller)
    _require_manager(ctx, caller, "decide")
    _require_open(st, ctx)

    def write(conn: Any) -> dict[str, Any] | None:
        row = store.get_attendance(conn, ctx.id, user_id)
        if row is None or row["status"] != "pending":
            return None
        status = row["wanted"] if approve else "denied"
        store.set_attendance(
            conn, ctx.id, user_id, status, wanted=row["wanted"], now_ms=st.now_ms()
        )
        return store.get_attendee(conn, ctx.id, user_id)

    try:
        row = await st.db.write(write)
    except EventFullError:
        raise _full(ctx) from None
    if row is None:
        raise ApiError(
            404,
            "no_pending_request",
            f"account {user_id} has no request waiting for event {ctx.id}",
        )
    return attendee_json(row, ctx.event["organizer_id"])


@bp.post("/<event_id>/attendees/<user_id>/approve/")
@security_scheme(BEARER)
@document_response(AttendeeOut, 200)
@documents_errors(401, 403, 404, 409)
async def approve(event_id: str, user_id: str) -> dict[str, Any]:
    """Approve a pending answer (organizer or staff): it becomes the answer asked
    for. 409 `event_full` when no place is left."""
    return await _decide(event_id, user_id, True)


@bp.post("/<event_id>/attendees/<user_id>/deny/")
@security_scheme(BEARER)
@document_response(AttendeeOut, 200)
@documents_errors(401, 403, 404, 409)
async def deny(event_id: str, user_id: str) -> dict[str, Any]:
    """Deny a pending answer (organizer or staff)."""
    return await _decide(event_id, user_id, False)


# --- invitations --------------------------------------------------------------------------
@bp.get("/<event_id>/invitations/")
@validate_querystring(PageQuery)
@security_scheme(BEARER)
@document_response(Page[InvitationOut], 200)
@documents_errors(401, 404, 422)
async def invitations(event_id: str, query_args: PageQuery) -> dict[str, Any]:
    """The event's invitations (organizer and staff); anyone else sees their own."""
    st = state()
    caller = await require_caller(st)
    ctx = await load_event(st, event_id, caller)
    invitee = None if ctx.may_manage(caller) else caller.user_id
    count, rows = await st.db.read(
        lambda conn: store.list_invitations(
            conn, ctx.id, invitee_id=invitee, offset=query_args.offset, limit=query_args.page_size
        )
    )
    now = st.now_ms()
    return page_of(count, [invitation_json(r, now) for r in rows], query_args)


@bp.post("/<event_id>/invitations/")
@validate_request(InviteIn)
@security_scheme(BEARER)
@document_response(Page[InvitationOut], 201)
@documents_errors(400, 401, 403, 404, 409, 413, 415, 422)
async def invite(event_id: str, data: InviteIn) -> tuple[dict[str, Any], int]:
    """Invite registered accounts (organizer or staff), all or none: 409
    `already_invited` naming those invited before, 422 `unknown_user` for ids that
    are not active registered accounts. Invitees are told; an invitation expires
    after `expires_in_s`, or when the event ends."""
    st = state()
    caller = await require_caller(st)
    ctx = await load_event(st, event_id, caller)
    _require_manager(ctx, caller, "invite")
    _require_open(st, ctx)
    ids = list(dict.fromkeys(data.user_ids))
    if ctx.event["organizer_id"] in ids:
        raise ApiError(
            422,
            "cannot_invite_organizer",
            "the organizer attends already",
            details=[("user_ids", "the organizer cannot be invited")],
        )
    now = st.now_ms()
    ttl_s = data.expires_in_s or DEFAULT_INVITATION_S
    expires = min(now + ttl_s * 1000, ctx.event["ends_at_ms"])

    def write(conn: Any) -> list[dict[str, Any]] | set[str]:
        known = store.existing_user_ids(conn, ids)
        if len(known) != len(ids):
            return set(ids) - known
        return store.create_invitations(
            conn, ctx.id, ids, inviter_id=caller.user_id, expires_at_ms=expires, now_ms=now
        )

    try:
        created = await st.db.write(write)
    except DuplicateInvitationError as exc:
        raise ApiError(
            409,
            "already_invited",
            f"already invited to event {ctx.id}: {', '.join(exc.user_ids)}",
            details=[("user_ids", f"{uid} is invited already") for uid in exc.user_ids],
        ) from None
    if isinstance(created, set):
        raise ApiError(
            422,
            "unknown_user",
            "expected ids of active registered accounts (not guests)",
            details=[
                ("user_ids", f"no active registered account {uid}") for uid in sorted(created)
            ],
        )
    await notify(
        st, ids, "event_invitation", ctx.event, inviter_name=str(caller.user["display_name"])
    )
    return {
        "count": len(created),
        "next": None,
        "previous": None,
        "results": [invitation_json(r, now) for r in created],
    }, 201


@bp.post("/<string:event_id>/invitations/<int:invitation_id>/respond/")
@validate_request(RespondIn)
@security_scheme(BEARER)
@document_response(InvitationOut, 200)
@documents_errors(400, 401, 404, 409, 410, 413, 415, 422)
async def respond(event_id: str, invitation_id: int, data: RespondIn) -> dict[str, Any]:
    """Accept or decline an invitation of one's own (404 `invitation_not_found` for
    anyone else's). Accepting attends the event (409 `event_full` when no place is
    left; nothing changes then); 410 `invitation_expired` after its expiry."""
    st = state()
    caller = await require_caller(st)
    ctx = await load_event(st, event_id, caller)
    invitation = ctx.invitation
    if invitation is None or invitation["id"] != invitation_id:
        raise ApiError(
            404,
            "invitation_not_found",
            f"you have no invitation {invitation_id} to event {ctx.id}",
        )
    _require_open(st, ctx)
    now = st.now_ms()
    if invitation["status"] == "pending" and invitation["expires_at_ms"] <= now:
        raise ApiError(410, "invitation_expired", f"invitation {invitation_id} has expired")
    accept = data.response == "accept"

    def write(conn: Any) -> dict[str, Any]:
        if accept:
            before = store.get_attendance(conn, ctx.id, caller.user_id)
            if before is None or before["status"] not in ("attending", "maybe"):
                store.set_attendance(conn, ctx.id, caller.user_id, "attending", now_ms=now)
        elif store.get_attendance(conn, ctx.id, caller.user_id) is not None:
            store.set_attendance(conn, ctx.id, caller.user_id, "not_attending", now_ms=now)
        store.set_invitation_status(
            conn, invitation_id, "accepted" if accept else "declined", now_ms=now
        )
        found = store.get_invitation(conn, ctx.id, invitation_id)
        assert found is not None
        return found

    try:
        updated = await st.db.write(write)
    except EventFullError:
        raise _full(ctx) from None
    return invitation_json(updated, now)


# --- reminders ----------------------------------------------------------------------------
@bp.get("/<event_id>/reminders/")
@security_scheme(BEARER)
@document_response(RemindersOut, 200)
@documents_errors(401, 404)
async def reminders(event_id: str) -> dict[str, Any]:
    """The caller's reminders of the event, with what became of each (`sent`,
    `failed` with the error, `skipped` with the reason), and whether email reminders
    can be sent on this server."""
    st = state()
    caller = await require_caller(st)
    ctx = await load_event(st, event_id, caller)
    rows = await st.db.read(store.list_reminders, ctx.id, caller.user_id)
    return {"email_available": email_available(), "results": [reminder_json(r) for r in rows]}


@bp.post("/<event_id>/reminders/")
@validate_request(ReminderIn)
@security_scheme(BEARER)
@document_response(ReminderOut, 201)
@documents_errors(400, 401, 404, 409, 413, 415, 422)
async def add_reminder(event_id: str, data: ReminderIn) -> tuple[dict[str, Any], int]:
    """Be reminded `minutes_before` the start (0 to 40,320) in the app (`in_app`) or
    by `email`. Only attendees (409 `not_attending`); 409 `email_unavailable` when
    this server sends no email; 422 `reminder_in_past` when that moment has passed;
    409 `duplicate_reminder`, `too_many_reminders` (5 an event)."""
    st = state()
    caller = await require_caller(st)
    ctx = await load_event(st, event_id, caller)
    _require_open(st, ctx, started_ok=False)
    if ctx.attendance is None or ctx.attendance["status"] not in ("attending", "maybe", "pending"):
        raise ApiError(409, "not_attending", f"answer attending or maybe to event {ctx.id} first")
    if data.channel == "email" and not email_available():
        raise ApiError(
            409,
            "email_unavailable",
            "this server sends no email (no SMTP host is set); use in_app",
            details=[("channel", "email is off on this server")],
        )
    now = st.now_ms()
    starts = ctx.event["starts_at_ms"]
    if starts - data.minutes_before * 60_000 <= now:
        raise ApiError(
            422,
            "reminder_in_past",
            f"a reminder {data.minutes_before} minutes before the start would be due already",
            details=[("minutes_before", "the reminder would be due in the past")],
        )

    def write(conn: Any) -> dict[str, Any] | None:
        if len(store.list_reminders(conn, ctx.id, caller.user_id)) >= MAX_REMINDERS:
            return None
        return store.add_reminder(
            conn,
            ctx.id,
            caller.user_id,
            minutes_before=data.minutes_before,
            channel=data.channel,
            starts_at_ms=starts,
            now_ms=now,
        )

    try:
        row = await st.db.write(write)
    except DuplicateReminderError as exc:
        raise ApiError(409, "duplicate_reminder", str(exc)) from None
    if row is None:
        raise ApiError(409, "too_many_reminders", f"at most {MAX_REMINDERS} reminders an event")
    _wake_scheduler()
    return reminder_json(row), 201


def _wake_scheduler() -> None:
    """Let the reminder scheduler see a new due time now rather than after its nap."""
    scheduler = current_app.extensions.get("event_scheduler")
    if scheduler is not None:
        scheduler.wake()


@bp.delete("/<string:event_id>/reminders/<int:reminder_id>/")
@security_scheme(BEARER)
@documents_errors(401, 404)
@documents_no_content
async def delete_reminder(event_id: str, reminder_id: int) -> tuple[str, int]:
    """Delete one of the caller's reminders (404 `reminder_not_found` otherwise)."""
    st = state()
    caller = await require_caller(st)
    ctx = await load_event(st, event_id, caller)
    if not await st.db.write(store.delete_reminder, ctx.id, caller.user_id, reminder_id):
        raise ApiError(404, "reminder_not_found", f"you have no reminder {reminder_id} here")
    return "", 204


# --- calendars ----------------------------------------------------------------------------
@bp.get("/<event_id>/ics/")
@security_scheme(OPTIONAL_BEARER)
@documents_calendar
@documents_errors(401, 404)
async def ics(event_id: str) -> Response:
    """The event as an RFC 5545 iCalendar file (`text/calendar`), to add it to a
    calendar. Its UID stays the same; SEQUENCE grows with every change; a cancelled
    event has STATUS:CANCELLED."""
    st = state()
    caller = await authenticate(st)
    ctx = await load_event(st, event_id, caller)
    body = calendar_bytes([ctx.event], now_ms=st.now_ms(), name=ctx.event["title"])
    return _calendar_response(body, f"event-{ctx.id}.ics")


def _calendar_response(body: bytes, filename: str) -> Response:
    response = Response(body, status=200, content_type="text/calendar; charset=utf-8")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response


def _feed_url(token: str) -> str:
    return url_for("events.feed", token=token, _external=True)


@bp.get("/calendar/")
@security_scheme(BEARER)
@document_response(FeedOut, 200)
@documents_errors(401)
async def calendar_url() -> dict[str, Any]:
    """The caller's private calendar feed URL (made on first use): an iCalendar
    subscription of the events the caller organizes or attends. Whoever has the URL
    can read it: keep it secret, reset it if it leaked."""
    st = state()
    caller = await require_caller(st)
    token = await st.db.write(
        lambda conn: store.feed_token(conn, caller.user_id, now_ms=st.now_ms(), reset=False)
    )
    return {"url": _feed_url(token)}


@bp.post("/calendar/reset/")
@security_scheme(BEARER)
@document_response(FeedOut, 200)
@documents_errors(401)
async def calendar_reset() -> dict[str, Any]:
    """Replace the caller's calendar feed URL; the old one stops working at once."""
    st = state()
    caller = await require_caller(st)
    token = await st.db.write(
        lambda conn: store.feed_token(conn, caller.user_id, now_ms=st.now_ms(), reset=True)
    )
    return {"url": _feed_url(token)}


@bp.get("/calendar/<token>.ics")
@documents_calendar
@documents_errors(404)
async def feed(token: str) -> Response:
    """A private calendar feed (no token needed: the URL is the secret): events
    organized or attended, from 30 days ago on, cancelled ones with
    STATUS:CANCELLED. 404 for an unknown or reset token."""
    st = state()
    if len(token) > 100:
        raise ApiError(404, "feed_not_found", "no calendar feed at this URL")
    owner = await st.db.read(store.feed_owner, token)
    if owner is None:
        raise ApiError(404, "feed_not_found", "no calendar feed at this URL")
    events = await st.db.read(
        lambda conn: store.feed_events(
            conn, owner, since_ms=st.now_ms() - FEED_HISTORY_MS, limit=FEED_LIMIT
        )
    )
    body = calendar_bytes(events, now_ms=st.now_ms(), name="watchparty events")
    return _calendar_response(body, "watchparty-events.ics")
