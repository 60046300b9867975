"""The videos domain: the video library over REST (``/api/videos/``), its comments,
and the premium flag of accounts (``/api/admin/users/<id>/premium/``).

``routes`` and ``comment_routes`` (HTTP), ``service`` (settings, who may see, change
and download a video, signed media links, the JSON of a video, the media a room plays),
``media`` (file types, byte ranges, conditional requests), ``uploads`` (streamed
multipart uploads), ``schemas``.
"""

from quart import Blueprint
from quart_schema import tag_blueprint

bp = Blueprint("videos", __name__, url_prefix="/api/videos")
tag_blueprint(bp, ["videos"])
premium_bp = Blueprint("premium", __name__, url_prefix="/api/admin/users")
tag_blueprint(premium_bp, ["admin"])
# Rules with a typed converter after an untyped one are written ``<string:video_id>``:
# quart-schema 0.25 turns ``<video_id>/comments/<int:comment_id>`` into a single
# ``{comment_id}`` in the OpenAPI paths otherwise.
comments_bp = Blueprint("video_comments", __name__, url_prefix="/api/videos")
tag_blueprint(comments_bp, ["comments"])

#: The blueprints of this domain, registered by ``create_app`` in this order.
blueprints = (bp, premium_bp, comments_bp)

from . import comment_routes as comment_routes  # noqa: E402  (registers the views)
from . import routes as routes  # noqa: E402  (registers the views)
