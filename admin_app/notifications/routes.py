"""Notifications over REST, under ``/api/notifications/`` (every route signed in).

* ``GET /`` (``?unread=true``, paginated), ``GET /unread-count/``,
  ``GET|DELETE /{id}/``, ``POST /{id}/read/``, ``POST /read-all/``: the caller's own
  in-app notifications; another account's id is a 404, as is a deleted one.
* ``GET|PUT /preferences/``: per kind and channel; ``email_available`` says whether
  this server can send email at all; turning email on without it is a 409
  ``email_unavailable``, for an account without an address 409 ``no_email_address``.
* ``GET /push/vapid-public-key/``, ``GET|POST /push/subscriptions/``,
  ``DELETE /push/subscriptions/{id}/``, ``POST /push/unsubscribe/`` (by endpoint):
  Web Push subscriptions of the caller.
* ``POST /bulk/`` and ``GET /stats/``: staff only (others get 403 ``forbidden``).
"""

from __future__ import annotations

from typing import Any

from quart import Blueprint, request
from quart_schema import (
    document_response,
    security_scheme,
    tag_blueprint,
    validate_querystring,
    validate_request,
)

from data import NotFoundError
from data import notifications as store

from ..core.caller import Caller, require_caller
from ..core.errors import ApiError, documents_errors, documents_no_content
from ..core.mail import EmailUnavailableError
from ..core.openapi import BEARER
from ..core.pagination import Page, page_of, paginate
from ..core.state import state
from ..core.times import iso_ms
from .kinds import KINDS, TemplateContextError, UnknownKindError
from .push import InvalidSubscriptionError, check_endpoint, check_keys
from .schemas import (
    BulkIn,
    BulkOut,
    MarkAllOut,
    NotificationOut,
    NotificationsQuery,
    PreferencesIn,
    PreferencesOut,
    PushSubscriptionIn,
    PushSubscriptionOut,
    PushUnsubscribeIn,
    StatsOut,
    StatsQuery,
    UnreadCountOut,
    VapidKeyOut,
)
from .service import NoEmailAddressError, NotificationService, current, notification_json

bp = Blueprint("notifications", __name__, url_prefix="/api/notifications")
tag_blueprint(bp, ["notifications"])

#: Push subscriptions one account may have (browsers and devices).
MAX_PUSH_SUBSCRIPTIONS = 20
_MAX_ID = 2**63 - 1


def _not_found(notification_id: int) -> ApiError:
    return ApiError(
        404, "notification_not_found", f"no notification {notification_id} for this account"
    )


async def _caller() -> tuple[NotificationService, Caller]:
    return current(), await require_caller(state())


def _email_error(exc: EmailUnavailableError) -> ApiError:
    field = "preferences"
    if isinstance(exc, NoEmailAddressError):
        return ApiError(409, "no_email_address", exc.message, details=[(field, exc.message)])
    return ApiError(409, "email_unavailable", exc.message, details=[(field, exc.message)])


# --- the caller's notifications ---------------------------------------------------------------
@bp.get("/")
@security_scheme(BEARER)
@validate_querystring(NotificationsQuery)
@document_response(Page[NotificationOut], 200)
@documents_errors(401, 404, 422)
async def list_notifications(query_args: NotificationsQuery) -> dict[str, Any]:
    """The caller's notifications, newest first (`?unread=true`: unread only)."""
    service, caller = await _caller()
    count, items = await service.db.read(
        lambda conn: store.list_notifications(
            conn,
            caller.user_id,
            unread_only=query_args.unread,
            offset=query_args.offset,
            limit=query_args.page_size,
        )
    )
    return page_of(count, [notification_json(n) for n in items], query_args)


@bp.get("/unread-count/")
@security_scheme(BEARER)
@document_response(UnreadCountOut, 200)
@documents_errors(401)
async def unread_count() -> dict[str, Any]:
    """How many of the caller's notifications are unread."""
    service, caller = await _caller()
    return {"unread_count": await service.db.read(store.unread_count, caller.user_id)}


@bp.get("/<int:notification_id>/")
@security_scheme(BEARER)
@document_response(NotificationOut, 200)
@documents_errors(401, 404)
async def get_notification(notification_id: int) -> dict[str, Any]:
    """One of the caller's notifications."""
    service, caller = await _caller()
    if notification_id > _MAX_ID:
        raise _not_found(notification_id)
    try:
        item = await service.db.read(store.get_notification, caller.user_id, notification_id)
    except NotFoundError:
        raise _not_found(notification_id) from None
    return notification_json(item)


@bp.post("/<int:notification_id>/read/")
@security_scheme(BEARER)
@document_response(NotificationOut, 200)
@documents_errors(401, 404)
async def mark_read(notification_id: int) -> dict[str, Any]:
    """Mark one notification read (again: no change)."""
    service, caller = await _caller()
    if notification_id > _MAX_ID:
        raise _not_found(notification_id)
    now_ms = service.now_ms()
    try:
        item = await service.db.write(
            lambda conn: store.mark_read(conn, caller.user_id, notification_id, now_ms=now_ms)
        )
    except NotFoundError:
        raise _not_found(notification_id) from None
    return notification_json(item)


@bp.post("/read-all/")
@security_scheme(BEARER)
@document_response(MarkAllOut, 200)
@documents_errors(401)
async def mark_all_read() -> dict[str, Any]:
    """Mark every notification of the caller read."""
    service, caller = await _caller()
    now_ms = service.now_ms()
    marked = await service.db.write(
        lambda conn: store.mark_all_read(conn, caller.user_id, now_ms=now_ms)
    )
    return {"marked": marked, "unread_count": 0}


@bp.delete("/<int:notification_id>/")
@security_scheme(BEARER)
@documents_errors(401, 404)
@documents_no_content
async def delete_notification(notification_id: int) -> tuple[str, int]:
    """Delete one of the caller's notifications from their list."""
    service, caller = await _caller()
    if notification_id > _MAX_ID:
        raise _not_found(notification_id)
    deleted = await service.db.write(
        lambda conn: store.delete_notification(conn, caller.user_id, notification_id)
    )
    if not deleted:
        raise _not_found(notification_id)
    return "", 204


# --- preferences ----------------------------------------------------------------------------
async def _preferences_json(
    service: NotificationService, caller: Caller, prefs: dict[str, dict[str, bool]]
) -> dict[str, Any]:
    return {
        "email_available": service.email_available,
        "has_email": bool(caller.user["email"]),
        "push_available": True,
        "kinds": [
            {"kind": name, "label": KINDS[name].label, "channels": channels}
            for name, channels in prefs.items()
        ],
    }


@bp.get("/preferences/")
@security_scheme(BEARER)
@document_response(PreferencesOut, 200)
@documents_errors(401)
async def get_preferences() -> dict[str, Any]:
    """The caller's preferences per kind and channel, and which channels this server has."""
    service, caller = await _caller()
    return await _preferences_json(service, caller, await service.preferences(caller.user_id))


@bp.put("/preferences/")
@security_scheme(BEARER)
@validate_request(PreferencesIn)
@document_response(PreferencesOut, 200)
@documents_errors(400, 401, 409, 413, 415, 422)
async def put_preferences(data: PreferencesIn) -> dict[str, Any]:
    """Change some preferences; kinds and channels not named keep theirs.

    409 `email_unavailable` when turning email on while the server has no SMTP server;
    409 `no_email_address` for an account without an address.
    """
    service, caller = await _caller()
    try:
        prefs = await service.set_preferences(
            caller.user_id,
            {
                kind: {str(c): on for c, on in channels.items()}
                for kind, channels in data.preferences.items()
            },
            has_email=bool(caller.user["email"]),
        )
    except EmailUnavailableError as exc:
        raise _email_error(exc) from None
    except UnknownKindError as exc:
        raise ApiError(
            422, "validation_error", str(exc), details=[("preferences", str(exc))]
        ) from None
    return await _preferences_json(service, caller, prefs)


# --- Web Push -----------------------------------------------------------------------------------
def _subscription_json(sub: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": sub["id"],
        "endpoint": sub["endpoint"],
        "user_agent": sub["user_agent"],
        "created_at": iso_ms(sub["created_at_ms"]),
    }


@bp.get("/push/vapid-public-key/")
@document_response(VapidKeyOut, 200)
async def vapid_public_key() -> dict[str, Any]:
    """The server's VAPID public key, for `PushManager.subscribe()`."""
    return {"public_key": await current().vapid_public_key()}


@bp.get("/push/subscriptions/")
@security_scheme(BEARER)
@validate_querystring(NotificationsQuery)
@document_response(Page[PushSubscriptionOut], 200)
@documents_errors(401, 404, 422)
async def list_subscriptions(query_args: NotificationsQuery) -> dict[str, Any]:
    """The caller's push subscriptions (browsers and devices), oldest first."""
    service, caller = await _caller()
    subs = await service.db.read(store.list_push_subscriptions, caller.user_id)
    return paginate([_subscription_json(s) for s in subs], query_args)


@bp.post("/push/subscriptions/")
@security_scheme(BEARER)
@validate_request(PushSubscriptionIn)
@document_response(PushSubscriptionOut, 201)
@document_response(PushSubscriptionOut, 200)
@documents_errors(400, 401, 409, 413, 415, 422)
async def subscribe(data: PushSubscriptionIn) -> tuple[dict[str, Any], int]:
    """Store a browser's push subscription (`PushSubscription.toJSON()`).

    201 for a new one, 200 when the endpoint was known (its keys are updated and it
    moves to the caller). 422 `invalid_subscription` for an endpoint that is not an
    https URL of a push service, or bad keys; 409 `too_many_subscriptions` past
    the limit per account.
    """
    service, caller = await _caller()
    try:
        check_endpoint(data.endpoint, allow_loopback=service.settings.push_allow_loopback)
        check_keys(data.keys.p256dh, data.keys.auth)
    except InvalidSubscriptionError as exc:
        raise ApiError(
            422, "invalid_subscription", exc.message, details=[(exc.field, exc.message)]
        ) from None
    now_ms = service.now_ms()
    try:
        sub, created = await service.db.write(
            lambda conn: store.add_push_subscription(
                conn,
                user_id=caller.user_id,
                endpoint=data.endpoint,
                p256dh=data.keys.p256dh,
                auth=data.keys.auth,
                user_agent=data.user_agent,
                now_ms=now_ms,
                max_per_user=MAX_PUSH_SUBSCRIPTIONS,
            )
        )
    except store.TooManySubscriptionsError as exc:
        raise ApiError(409, "too_many_subscriptions", str(exc)) from None
    return _subscription_json(sub), 201 if created else 200


@bp.delete("/push/subscriptions/<int:subscription_id>/")
@security_scheme(BEARER)
@documents_errors(401, 404)
@documents_no_content
async def delete_subscription(subscription_id: int) -> tuple[str, int]:
    """Delete one of the caller's push subscriptions."""
    service, caller = await _caller()
    deleted = subscription_id <= _MAX_ID and await service.db.write(
        lambda conn: store.delete_push_subscription(
            conn, caller.user_id, subscription_id=subscription_id
        )
    )
    if not deleted:
        raise ApiError(404, "subscription_not_found", f"no push subscription {subscription_id}")
    return "", 204


@bp.post("/push/unsubscribe/")
@security_scheme(BEARER)
@validate_request(PushUnsubscribeIn)
@documents_errors(400, 401, 404, 413, 415, 422)
@documents_no_content
async def unsubscribe(data: PushUnsubscribeIn) -> tuple[str, int]:
    """Delete the caller's subscription with this endpoint (what a browser knows after
    `PushSubscription.unsubscribe()`)."""
    service, caller = await _caller()
    deleted = await service.db.write(
        lambda conn: store.delete_push_subscription(conn, caller.user_id, endpoint=data.endpoint)
    )
    if not deleted:
        raise ApiError(404, "subscription_not_found", "no push subscription with this endpoint")
    return "", 204


# --- staff ----------------------------------------------------------------------------------------
async def _staff() -> tuple[NotificationService, Caller]:
    service, caller = await _caller()
    if not caller.is_staff:
        raise ApiError(403, "forbidden", f"only staff may use {request.path}")
    return service, caller


@bp.post("/bulk/")
@security_scheme(BEARER)
@validate_request(BulkIn)
@document_response(BulkOut, 202)
@documents_errors(400, 401, 403, 409, 413, 415, 422)
async def bulk(data: BulkIn) -> tuple[dict[str, Any], int]:
    """Send an announcement to many accounts (staff).

    Every active account (guests with `include_guests`), or `user_ids`. In-app
    notifications exist when this answers; email and push go out in the background.
    409 `email_unavailable` when `channels` names email and the server has none.
    """
    service, _ = await _staff()
    try:
        bulk_id, count = await service.send_bulk(
            user_ids=data.user_ids,
            kind="announcement",
            context={"title": data.title, "message": data.message},
            url=data.url,
            channels=data.channels,
            include_guests=data.include_guests,
        )
    except EmailUnavailableError as exc:
        raise ApiError(
            409, "email_unavailable", exc.message, details=[("channels", exc.message)]
        ) from None
    except TemplateContextError as exc:
        raise ApiError(422, "validation_error", str(exc)) from None
    return {"bulk_id": bulk_id, "count": count}, 202


@bp.get("/stats/")
@security_scheme(BEARER)
@validate_querystring(StatsQuery)
@document_response(StatsOut, 200)
@documents_errors(401, 403, 422)
async def stats(query_args: StatsQuery) -> dict[str, Any]:
    """Delivery counts per channel and status (staff); `?days=N`: the last N days."""
    service, _ = await _staff()
    since_ms = None
    if query_args.days is not None:
        since_ms = service.now_ms() - query_args.days * 86_400_000
    result = await service.db.read(lambda conn: store.statistics(conn, since_ms=since_ms))
    return {
        **result,
        "email_available": service.email_available,
        "worker_passes": service.passes,
    }
