"""The social groups domain: groups with privacy and a member limit, memberships with
roles (``owner``, ``admin``, ``moderator``, ``member``), bans, invitations, join
requests, posts and reactions, over REST under ``/api/social/``.

``routes`` (HTTP), ``service`` (who may see a group, the permission check, the JSON,
and :func:`~admin_app.groups.service.is_member` /
:func:`~admin_app.groups.service.shares_group` for other domains), ``permissions`` (the
one permission table), ``schemas``. The pages ``/groups/`` and ``/groups/<id>`` are in
the pages domain; the reference is ``docs/groups.md``.
"""

from quart import Blueprint
from quart_schema import tag_blueprint

bp = Blueprint("groups", __name__, url_prefix="/api/social")
tag_blueprint(bp, ["groups"])

#: The blueprints of this domain, registered by ``create_app``.
blueprints = (bp,)

from . import routes as routes  # noqa: E402  (registers the views)
