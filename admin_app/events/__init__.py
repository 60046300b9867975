"""The events domain: scheduled watch parties over REST (``/api/events/``) and their
pages (``/events/``, ``/events/<id>``).

``routes`` (HTTP), ``pages`` (the browser pages), ``service`` (who may see and manage
an event, its status and JSON, notices), ``calendar`` (iCalendar), ``scheduler``
(reminders, sent once by a task of the web app), ``schemas``.

Registering :data:`bp` on an app also sets up the reminder scheduler
(``app.extensions["event_scheduler"]``) and runs it while the app serves.
"""

from __future__ import annotations

from typing import Any

from quart import Blueprint, current_app
from quart.blueprints import BlueprintSetupState
from quart_schema import tag_blueprint

from .scheduler import ReminderScheduler

bp = Blueprint("events", __name__, url_prefix="/api/events")
tag_blueprint(bp, ["events"])
pages_bp = Blueprint("event_pages", __name__)

#: The blueprints of this domain, registered by ``create_app``.
blueprints = (bp, pages_bp)


@bp.record_once
def _set_up(setup: BlueprintSetupState) -> None:
    app = setup.app
    st: Any = app.extensions["watchparty"]
    app.extensions["event_scheduler"] = ReminderScheduler(app, st.db, st.clock)


@bp.before_app_serving
async def _start_scheduler() -> None:
    current_app.add_background_task(current_app.extensions["event_scheduler"].serve)  # type: ignore[attr-defined]


@bp.after_app_serving
async def _stop_scheduler() -> None:
    current_app.extensions["event_scheduler"].stop()


from . import pages as pages  # noqa: E402  (registers the views on pages_bp)
from . import routes as routes  # noqa: E402  (registers the views on bp)
