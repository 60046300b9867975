"""The notifications domain: the blueprint, and the service every domain calls.

Registering :data:`bp` on an app also sets the app up: it makes the
:class:`~admin_app.notifications.service.NotificationService` (in
``app.extensions["notifications"]``, see :func:`~admin_app.notifications.service.current`)
from the app's state, with the room control's ``publish_notification`` as its live
message publisher when the room control has one, and runs the delivery worker in
the app's nursery while the app serves.
"""

from __future__ import annotations

from typing import Any

from quart import current_app
from quart.blueprints import BlueprintSetupState

from .routes import bp
from .service import NotificationService, current


@bp.record_once
def _set_up(setup: BlueprintSetupState) -> None:
    app = setup.app
    st: Any = app.extensions["watchparty"]
    app.extensions["notifications"] = NotificationService(
        st.db,
        st.config,
        clock=st.clock,
        publisher=getattr(st.rooms, "publish_notification", None),
    )


@bp.before_app_serving
async def _start_worker() -> None:
    current_app.add_background_task(current().serve_deliveries)  # type: ignore[attr-defined]


@bp.after_app_serving
async def _stop_worker() -> None:
    current().stop()


__all__ = ["NotificationService", "blueprints", "bp", "current"]


#: The domain's blueprints, registered by :func:`admin_app.app.create_app`.
blueprints = (bp,)
