"""The health domain: ``GET /api/health/``.

``routes`` (HTTP), ``service`` (the checks), ``schemas``.
"""

from quart import Blueprint
from quart_schema import tag_blueprint

bp = Blueprint("health", __name__, url_prefix="/api")
tag_blueprint(bp, ["health"])

#: The blueprints of this domain, registered by ``create_app``.
blueprints = (bp,)

from . import routes as routes  # noqa: E402  (registers the views on bp)
