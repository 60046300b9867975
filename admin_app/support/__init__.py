"""The support desk: tickets with their threads, internal notes and attachments
(``/api/support/tickets/``), the FAQ (``/api/support/faq/``) and the feedback board
(``/api/support/feedback/``); the help page is in ``pages``.

``routes`` (tickets), ``faq_routes``, ``feedback_routes`` (HTTP), ``service`` (who
sees what, status transitions, notifications, the JSON shown), ``markdown`` (safe
FAQ answers), ``attachments`` (small files recognised by content), ``schemas``.
"""

from quart import Blueprint
from quart_schema import tag_blueprint

bp = Blueprint("support", __name__, url_prefix="/api/support")
tag_blueprint(bp, ["support"])

#: The blueprints of this domain, registered by ``create_app``.
blueprints = (bp,)

from . import faq_routes as faq_routes  # noqa: E402  (registers the views)
from . import feedback_routes as feedback_routes  # noqa: E402  (registers the views)
from . import routes as routes  # noqa: E402  (registers the views)
