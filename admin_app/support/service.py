"""The rules of the support desk, apart from HTTP.

Who sees what:

* A **ticket** is seen by its requester and by staff (``staff`` and ``admin`` roles);
  to anyone else it does not exist (404 ``ticket_not_found``). Its **internal notes**
  and internal attachments are staff-only: they are left out of everything a
  requester receives (detail, reply answers, counts, notifications), also when the
  requester is staff-free of role but the ticket is theirs.
* A **FAQ entry** is public when published; drafts exist for staff only.
* **Feedback** is public; posting needs an account, voting a non-guest account.

Ticket status (:data:`TRANSITIONS`)::

    open <-> in_progress <-> waiting_on_user      (staff, any order)
    open | in_progress | waiting_on_user -> resolved -> open (reopened) | closed
    anything but closed -> closed                 (closed is final)

Requesters may mark their ticket ``resolved`` or ``closed`` and reopen a resolved
one; the rest is staff's. A requester's reply moves ``waiting_on_user`` back to
``open`` and reopens a ``resolved`` ticket; a reply to a ``closed`` ticket is refused
(409 ``ticket_closed``: open a new one), for staff too, though staff may still add
internal notes. A staff member's first public reply sets ``first_response_at``;
``resolved_at`` is set when the ticket is resolved (cleared on reopening) and
``closed_at`` when it is closed.

Notifications: the requester is to be told of each staff reply (not of internal
notes); staff of new tickets and of reopened ones (the assignee only, when there is
one). :func:`notify_requester` and :func:`notify_staff` are the one place this
happens; they log the event until the notification service (kinds ``support_reply``
and ``support_ticket``) is part of the app.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from quart import url_for

from admin_app.core.caller import Caller
from admin_app.core.errors import ApiError
from admin_app.core.settings import setting_defaults
from admin_app.core.state import WebState
from admin_app.core.times import iso_ms
from data import NotFoundError
from data import support as store
from data import users as user_store

logger = logging.getLogger(__name__)

#: Status -> the statuses it may move to.
TRANSITIONS: dict[str, frozenset[str]] = {
    "open": frozenset({"in_progress", "waiting_on_user", "resolved", "closed"}),
    "in_progress": frozenset({"open", "waiting_on_user", "resolved", "closed"}),
    "waiting_on_user": frozenset({"open", "in_progress", "resolved", "closed"}),
    "resolved": frozenset({"open", "closed"}),
    "closed": frozenset(),
}
#: Statuses a requester may set (``open`` only from ``resolved``: reopening).
REQUESTER_TARGETS = frozenset({"resolved", "closed", "open"})
#: Largest id SQLite stores; larger ones name nothing.
MAX_ID = 2**63 - 1

DEFAULTS: dict[str, Any] = setting_defaults(
    "support_max_attachment_bytes", "support_max_attachments"
)


@dataclass(frozen=True, slots=True)
class SupportSettings:
    """The support settings of the settings table.

    Attributes:
        max_attachment_bytes: Largest attachment, bytes.
        max_attachments: Most attachments per ticket.
    """

    max_attachment_bytes: int
    max_attachments: int

    @classmethod
    def from_config(cls, config: Any) -> SupportSettings:
        def get(name: str) -> Any:
            return getattr(config, name, DEFAULTS[name])

        return cls(
            max_attachment_bytes=int(get("support_max_attachment_bytes")),
            max_attachments=int(get("support_max_attachments")),
        )


def is_staff(caller: Caller | None) -> bool:
    return caller is not None and caller.is_staff


# --- tickets ---------------------------------------------------------------------------------


def allowed_statuses(ticket: dict[str, Any], *, staff: bool) -> list[str]:
    """The statuses *ticket* may move to, for staff or for its requester (sorted as
    in the status list)."""
    current = ticket["status"]
    targets = set(TRANSITIONS[current])
    if not staff:
        targets &= REQUESTER_TARGETS
        if current != "resolved":
            targets.discard("open")
    return [s for s in store.TICKET_STATUSES if s in targets]


def check_transition(ticket: dict[str, Any], target: str, *, staff: bool) -> None:
    """Raise 409 ``invalid_transition`` unless *ticket* may move to *target* (a move to
    its own status is allowed: nothing changes)."""
    if target == ticket["status"]:
        return
    allowed = allowed_statuses(ticket, staff=staff)
    if target not in allowed:
        who = "staff" if staff else "the requester"
        raise ApiError(
            409,
            "invalid_transition",
            f"a ticket that is {ticket['status']} cannot be moved to {target} by {who}; "
            f"allowed: {', '.join(allowed) or 'none (closed is final)'}",
            details=[("status", f"allowed: {', '.join(allowed) or 'none'}")],
        )


def status_changes(ticket: dict[str, Any], target: str, now_ms: int) -> dict[str, Any]:
    """The column changes that moving *ticket* to *target* makes (timestamps, reopen
    count); empty when it is already there."""
    if target == ticket["status"]:
        return {}
    changes: dict[str, Any] = {"status": target, "updated_at_ms": now_ms}
    if target == "resolved":
        changes["resolved_at_ms"] = now_ms
    elif target == "closed":
        changes["closed_at_ms"] = now_ms
    elif ticket["status"] == "resolved" and target == "open":
        changes["reopen_count"] = ticket["reopen_count"] + 1
        changes["resolved_at_ms"] = None
    return changes


def ticket_not_found(ticket_id: int) -> ApiError:
    return ApiError(404, "ticket_not_found", f"no ticket has id {ticket_id}")


async def load_ticket(st: WebState, ticket_id: int, caller: Caller) -> dict[str, Any]:
    """The ticket *ticket_id* if *caller* may see it.

    Raises:
        ApiError: 404 ``ticket_not_found`` for an unknown ticket or someone else's
            (staff see every ticket).
    """
    ticket = await st.db.read(store.find_ticket, ticket_id) if ticket_id <= MAX_ID else None
    if ticket is None or not (caller.is_staff or ticket["requester_id"] == caller.user_id):
        raise ticket_not_found(ticket_id)
    return ticket


def readable_in(conn: Any, ticket_id: int, caller: Caller) -> dict[str, Any]:
    """As :func:`load_ticket`, inside a transaction (synchronous)."""
    ticket = store.find_ticket(conn, ticket_id) if ticket_id <= MAX_ID else None
    if ticket is None or not (caller.is_staff or ticket["requester_id"] == caller.user_id):
        raise ticket_not_found(ticket_id)
    return ticket


def person(user_id: str | None, name: str | None) -> dict[str, Any]:
    return {"id": user_id, "display_name": name}


def ticket_json(ticket: dict[str, Any], *, staff: bool) -> dict[str, Any]:
    """A ticket as the API shows it to staff or to its requester."""
    assignee = None
    if ticket["assignee_id"] is not None:
        assignee = person(ticket["assignee_id"], ticket["assignee_name"])
    return {
        "id": ticket["id"],
        "subject": ticket["subject"],
        "description": ticket["description"],
        "category": ticket["category"],
        "priority": ticket["priority"],
        "status": ticket["status"],
        "requester": person(ticket["requester_id"], ticket["requester_name"]),
        "contact_email": ticket["contact_email"] or ticket["requester_email"],
        "assignee": assignee,
        "reply_count": ticket["reply_count"],
        "reopen_count": ticket["reopen_count"],
        "allowed_statuses": allowed_statuses(ticket, staff=staff),
        "created_at": iso_ms(ticket["created_at_ms"]),
        "updated_at": iso_ms(ticket["updated_at_ms"]),
        "first_response_at": iso_ms(ticket["first_response_at_ms"]),
        "resolved_at": iso_ms(ticket["resolved_at_ms"]),
        "closed_at": iso_ms(ticket["closed_at_ms"]),
    }


def message_json(message: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": message["id"],
        "author": person(message["author_id"], message["author_name"]),
        "from_staff": message["from_staff"],
        "is_internal": message["is_internal"],
        "body": message["body"],
        "created_at": iso_ms(message["created_at_ms"]),
    }


def attachment_json(attachment: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": attachment["id"],
        "file_name": attachment["file_name"],
        "content_type": attachment["content_type"],
        "size_bytes": attachment["size_bytes"],
        "is_internal": attachment["is_internal"],
        "uploaded_by": attachment["uploader_id"],
        "url": url_for(
            "support.download_attachment",
            ticket_id=attachment["ticket_id"],
            attachment_id=attachment["id"],
        ),
        "created_at": iso_ms(attachment["created_at_ms"]),
    }


async def ticket_detail(st: WebState, ticket: dict[str, Any], caller: Caller) -> dict[str, Any]:
    """The ticket with its thread and attachments; internal ones for staff only."""
    staff = caller.is_staff

    def read(conn: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        return (
            store.list_messages(conn, ticket["id"], include_internal=staff),
            store.list_attachments(conn, ticket["id"], include_internal=staff),
        )

    messages, attachments = await st.db.read(read)
    return {
        **ticket_json(ticket, staff=staff),
        "messages": [message_json(m) for m in messages],
        "attachments": [attachment_json(a) for a in attachments],
    }


async def create_ticket(
    st: WebState,
    caller: Caller,
    *,
    subject: str,
    description: str,
    category: str,
    priority: str,
    email: str | None,
) -> dict[str, Any]:
    """Open a ticket for *caller* and tell staff.

    Raises:
        ApiError: 422 ``validation_error`` (field ``email``) for a guest account
            without an email to answer to.
    """
    if caller.user["is_guest"] and not email:
        raise ApiError(
            422,
            "validation_error",
            "a guest account has no email: give one to be answered at",
            details=[("email", "required for guest accounts")],
        )
    ticket = await st.db.write(
        lambda conn: store.create_ticket(
            conn,
            requester_id=caller.user_id,
            contact_email=email,
            subject=subject,
            description=description,
            category=category,
            priority=priority,
            now_ms=st.now_ms(),
        )
    )
    logger.info("account %s opened support ticket %d", caller.user_id, ticket["id"])
    await notify_staff(st, ticket, kind="support_ticket_new")
    return ticket


async def reply(
    st: WebState, ticket_id: int, caller: Caller, *, body: str, internal: bool
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Add a reply (or, for staff, an internal note) to a ticket; returns
    ``(message, ticket after)``. See the module for the status changes.

    Raises:
        ApiError: 404 ``ticket_not_found``; 403 ``forbidden`` for an internal note
            by a requester; 409 ``ticket_closed`` for a reply to a closed ticket.
    """
    if internal and not caller.is_staff:
        # A requester must not learn the notes exist: but the ticket is theirs, so
        # the refusal reveals nothing about any other ticket.
        await load_ticket(st, ticket_id, caller)
        raise ApiError(403, "forbidden", "only staff write internal notes")
    now_ms = st.now_ms()
    staff = caller.is_staff

    def write(conn: Any) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
        before = readable_in(conn, ticket_id, caller)
        if before["status"] == "closed" and not internal:
            raise ApiError(
                409,
                "ticket_closed",
                f"ticket {ticket_id} is closed: it takes no more replies; open a new ticket",
            )
        changes: dict[str, Any] = {"updated_at_ms": now_ms}
        from_requester = before["requester_id"] == caller.user_id and not staff
        if from_requester and before["status"] in ("waiting_on_user", "resolved"):
            changes.update(status_changes(before, "open", now_ms))
        if staff and not internal and before["first_response_at_ms"] is None:
            if before["requester_id"] != caller.user_id:
                changes["first_response_at_ms"] = now_ms
        message = store.add_message(
            conn,
            ticket_id=ticket_id,
            author_id=caller.user_id,
            author_name=caller.user["display_name"],
            from_staff=staff,
            is_internal=internal,
            body=body,
            now_ms=now_ms,
        )
        after = store.update_ticket(conn, ticket_id, changes)
        return before, message, after

    before, message, after = await st.db.write(write)
    if staff and not internal and after["requester_id"] != caller.user_id:
        await notify_requester(st, after, caller, message)
    if before["status"] == "resolved" and after["status"] == "open":
        await notify_staff(st, after, kind="support_ticket_reopened")
    return message, after


async def change_status(
    st: WebState, ticket_id: int, caller: Caller, target: str
) -> dict[str, Any]:
    """Move a ticket to *target*, checked against :data:`TRANSITIONS` and the caller's
    role, in one transaction.

    Raises:
        ApiError: 404 ``ticket_not_found``; 409 ``invalid_transition``.
    """
    now_ms = st.now_ms()

    def write(conn: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        before = readable_in(conn, ticket_id, caller)
        check_transition(before, target, staff=caller.is_staff)
        return before, store.update_ticket(conn, ticket_id, status_changes(before, target, now_ms))

    before, after = await st.db.write(write)
    if before["status"] != after["status"]:
        logger.info(
            "account %s moved ticket %d from %s to %s",
            caller.user_id,
            ticket_id,
            before["status"],
            after["status"],
        )
    if before["status"] == "resolved" and after["status"] == "open":
        await notify_staff(st, after, kind="support_ticket_reopened")
    return after


def require_staff_on(ticket: dict[str, Any], caller: Caller) -> None:
    """Raise 403 ``staff_only`` unless *caller* is staff (the ticket is one the caller
    may see, so the refusal reveals nothing)."""
    if not caller.is_staff:
        raise ApiError(403, "staff_only", "only staff change a ticket's priority or assignee")


async def set_priority(
    st: WebState, ticket_id: int, caller: Caller, priority: str
) -> dict[str, Any]:
    """Staff: set a ticket's priority.

    Raises:
        ApiError: 404 ``ticket_not_found``; 403 ``staff_only``.
    """

    def write(conn: Any) -> dict[str, Any]:
        require_staff_on(readable_in(conn, ticket_id, caller), caller)
        return store.update_ticket(
            conn, ticket_id, {"priority": priority, "updated_at_ms": st.now_ms()}
        )

    return await st.db.write(write)


async def assign(
    st: WebState, ticket_id: int, caller: Caller, assignee_id: str | None
) -> dict[str, Any]:
    """Staff: assign a ticket to a staff account, or unassign it (None).

    Raises:
        ApiError: 404 ``ticket_not_found``; 403 ``staff_only``; 422
            ``validation_error`` (field ``assignee_id``) for an account that is not
            active staff.
    """

    def write(conn: Any) -> dict[str, Any]:
        require_staff_on(readable_in(conn, ticket_id, caller), caller)
        if assignee_id is not None:
            user = user_store.find_user(conn, assignee_id)
            if user is None or not user["is_active"] or user["role"] not in ("staff", "admin"):
                raise ApiError(
                    422,
                    "validation_error",
                    f"expected the id of an active staff account, got {assignee_id!r}",
                    details=[("assignee_id", "not an active staff account")],
                )
        return store.update_ticket(
            conn, ticket_id, {"assignee_id": assignee_id, "updated_at_ms": st.now_ms()}
        )

    return await st.db.write(write)


# --- notifications ---------------------------------------------------------------------------


async def notify_requester(
    st: WebState, ticket: dict[str, Any], staff: Caller, message: dict[str, Any]
) -> None:
    """Tell a ticket's requester of a staff reply (never called for internal notes), in
    app and by email when SMTP is set up, through the one notification service.

    A failure to notify is logged, never raised: the reply is stored either way.
    """
    await _notify(
        [ticket["requester_id"]],
        "support_reply",
        {
            "ticket_id": ticket["id"],
            "ticket_subject": ticket["subject"],
            "reply_excerpt": message["body"][:300],
        },
    )


async def notify_staff(st: WebState, ticket: dict[str, Any], *, kind: str) -> None:
    """Tell staff of a new or reopened ticket (*kind* ``support_ticket_new`` or
    ``support_ticket_reopened``): its assignee when it has one, else every active staff
    account."""
    if ticket["assignee_id"] is not None:
        recipients = [ticket["assignee_id"]]
    else:
        recipients = await st.db.read(store.staff_ids)
    await _notify(
        recipients,
        "support_ticket",
        {
            "ticket_id": ticket["id"],
            "ticket_subject": ticket["subject"],
            "requester_name": ticket["requester_name"],
            "reopened": kind == "support_ticket_reopened",
        },
    )


async def _notify(user_ids: list[str], kind: str, context: dict[str, Any]) -> None:
    from admin_app.notifications.service import current

    try:
        await current().notify(user_ids=user_ids, kind=kind, context=context, url="/help/")
    except Exception:
        logger.exception("support: %s notification to %d accounts failed", kind, len(user_ids))


# --- FAQ -------------------------------------------------------------------------------------


def category_json(category: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": category["id"],
        "name": category["name"],
        "description": category["description"],
        "position": category["position"],
        "entry_count": category["entry_count"],
    }


def entry_json(entry: dict[str, Any], my_vote: bool | None) -> dict[str, Any]:
    return {
        "id": entry["id"],
        "category_id": entry["category_id"],
        "question": entry["question"],
        "answer": entry["answer_md"],
        "answer_html": entry["answer_html"],
        "is_published": entry["is_published"],
        "position": entry["position"],
        "view_count": entry["view_count"],
        "helpful_count": entry["helpful_count"],
        "not_helpful_count": entry["not_helpful_count"],
        "my_vote": my_vote,
        "created_at": iso_ms(entry["created_at_ms"]),
        "updated_at": iso_ms(entry["updated_at_ms"]),
    }


def entry_not_found(entry_id: int) -> ApiError:
    return ApiError(404, "faq_not_found", f"no FAQ entry has id {entry_id}")


async def load_entry(st: WebState, entry_id: int, caller: Caller | None) -> dict[str, Any]:
    """A FAQ entry the caller may see (drafts: staff only).

    Raises:
        ApiError: 404 ``faq_not_found``.
    """
    entry = await st.db.read(store.find_entry, entry_id) if entry_id <= MAX_ID else None
    if entry is None or not (entry["is_published"] or is_staff(caller)):
        raise entry_not_found(entry_id)
    return entry


async def entries_json(
    st: WebState, entries: list[dict[str, Any]], caller: Caller | None
) -> list[dict[str, Any]]:
    votes: dict[int, bool] = {}
    if caller is not None:
        votes = await st.db.read(store.entry_votes_of, [e["id"] for e in entries], caller.user_id)
    return [entry_json(e, votes.get(e["id"])) for e in entries]


def require_staff(caller: Caller) -> None:
    """Raise 403 ``staff_only`` unless *caller* is staff."""
    if not caller.is_staff:
        raise ApiError(403, "staff_only", "only staff manage the FAQ and feedback status")


# --- feedback --------------------------------------------------------------------------------


def feedback_json(item: dict[str, Any], voted: bool) -> dict[str, Any]:
    return {
        "id": item["id"],
        "kind": item["kind"],
        "title": item["title"],
        "description": item["description"],
        "status": item["status"],
        "staff_response": item["staff_response"],
        "author": person(item["user_id"], item["user_name"]),
        "vote_count": item["vote_count"],
        "has_voted": voted,
        "created_at": iso_ms(item["created_at_ms"]),
        "updated_at": iso_ms(item["updated_at_ms"]),
    }


async def feedback_list_json(
    st: WebState, items: list[dict[str, Any]], caller: Caller | None
) -> list[dict[str, Any]]:
    voted: set[int] = set()
    if caller is not None:
        voted = await st.db.read(store.feedback_voted_by, [i["id"] for i in items], caller.user_id)
    return [feedback_json(i, i["id"] in voted) for i in items]


def feedback_not_found(feedback_id: int) -> ApiError:
    return ApiError(404, "feedback_not_found", f"no feedback has id {feedback_id}")


async def toggle_vote(st: WebState, feedback_id: int, caller: Caller) -> tuple[bool, int]:
    """Vote for feedback or take the vote back; one vote per account.

    Raises:
        ApiError: 404 ``feedback_not_found``; 403 ``guest_not_allowed`` for a guest
            account (anyone can make any number of those).
    """
    if feedback_id > MAX_ID:
        raise feedback_not_found(feedback_id)
    if caller.user["is_guest"]:
        raise ApiError(
            403, "guest_not_allowed", "guest accounts cannot vote: sign in with an account"
        )
    try:
        return await st.db.write(
            store.toggle_feedback_vote, feedback_id, caller.user_id, st.now_ms()
        )
    except NotFoundError:
        raise feedback_not_found(feedback_id) from None
