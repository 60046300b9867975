"""The pages domain: the browser pages, ``/`` (landing) and ``/watch/<code>``.

``routes`` only (the pages call the REST API; their rules are the other domains');
templates in ``templates/pages/``, scripts and styles in ``static/watch/``.
"""

from quart import Blueprint

bp = Blueprint("pages", __name__)

#: The blueprints of this domain, registered by ``create_app``.
blueprints = (bp,)

from . import routes as routes  # noqa: E402  (registers the views on bp)
