"""The web app: REST API (accounts, rooms, health), API reference and browser pages,
a Quart app on trio served by hypercorn.

Entry points: :func:`create_app` (the factory), :func:`serve_web` (run it until
cancelled, nursery-start protocol) and :func:`create_superuser` (the CLI's
``createsuperuser``).
"""

from .app import create_app
from .auth.service import create_superuser
from .serve import WebServer, serve_web

__all__ = ["WebServer", "create_app", "create_superuser", "serve_web"]
