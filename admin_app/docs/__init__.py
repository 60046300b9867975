"""The docs domain: the API reference page, ``/api/docs/`` (Swagger UI over
``/api/openapi.json``).

``routes`` only; template ``templates/docs/swagger.html``, static files
``static/docs/`` and ``static/swagger/``.
"""

from quart import Blueprint

bp = Blueprint("docs", __name__, url_prefix="/api")

#: The blueprints of this domain, registered by ``create_app``.
blueprints = (bp,)

from . import routes as routes  # noqa: E402  (registers the views on bp)
