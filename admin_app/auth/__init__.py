"""The auth domain: accounts and tokens over REST (``/api/auth/``).

``routes`` (HTTP), ``service`` (token pairs, sessions, ``createsuperuser``), ``schemas``.
"""

from quart import Blueprint
from quart_schema import tag_blueprint

bp = Blueprint("auth", __name__, url_prefix="/api/auth")
tag_blueprint(bp, ["auth"])

#: The blueprints of this domain, registered by ``create_app``.
blueprints = (bp,)

from . import routes as routes  # noqa: E402  (registers the views on bp)
