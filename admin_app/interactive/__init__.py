"""The interactive domain: what people do together in a room beyond watching, over
REST (``/api/interactive/``): polls, reactions on the media timeline, and the shared
queue.

Rooms are "parties" in these paths (``/api/interactive/parties/{party_id}/...``, the
party id being the room code), as in the Watch Party API. Live state and its rules
belong to the sync server, reached through :class:`~protocol.control.RoomControl`
(``interact``), so a vote over REST is exactly a vote on the socket. ``routes``
(HTTP), ``service`` (who may, the JSON of a poll), ``schemas``.
"""

from quart import Blueprint
from quart_schema import tag_blueprint

bp = Blueprint("interactive", __name__, url_prefix="/api/interactive")
tag_blueprint(bp, ["interactive"])

#: The blueprints of this domain, registered by ``create_app``.
blueprints = (bp,)

from . import routes as routes  # noqa: E402  (registers the views on bp)
