"""The rooms domain: rooms over REST (``/api/rooms/``).

``routes`` (HTTP), ``service`` (a live room with its entry rules, who may see and
moderate it, its JSON), ``schemas``.
"""

from quart import Blueprint
from quart_schema import tag_blueprint

bp = Blueprint("rooms", __name__, url_prefix="/api/rooms")
tag_blueprint(bp, ["rooms"])

#: The blueprints of this domain, registered by ``create_app``.
blueprints = (bp,)

from . import routes as routes  # noqa: E402  (registers the views on bp)
