"""The event pages: ``/events/`` (upcoming public events, and the visitor's own) and
``/events/<id>`` (details, RSVP, add to calendar, join the watch room when it is on).

Plain Jinja templates (``templates/events/``, autoescaped) and a plain JavaScript
module (``static/events/events.js``) that calls the REST API with the visitor's
stored sign-in, as the other pages do. The event's id is handed to the script in a
``data-`` attribute; whether the visitor may see the event is the API's to say (the
page shows its 404).
"""

from __future__ import annotations

import re

from quart import Response, abort, render_template

from . import pages_bp

_EVENT_ID = re.compile(r"^[0-9a-f]{32}$")

#: As the other pages: scripts and styles from this origin only, no inline script.
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    )
)


@pages_bp.after_request
async def _security_headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response


@pages_bp.get("/events/")
async def events_page() -> str:
    """Upcoming events, the visitor's own, and a form to plan one."""
    return await render_template("events/list.html")


@pages_bp.get("/events/<event_id>")
async def event_page(event_id: str) -> str:
    """One event.

    Raises:
        NotFound: (404) when *event_id* is not an event id at all.
    """
    if not _EVENT_ID.fullmatch(event_id):
        abort(404)
    return await render_template("events/detail.html", event_id=event_id)
