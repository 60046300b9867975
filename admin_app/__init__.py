"""The web app: REST API (accounts, rooms, health), API reference and browser pages,
a Quart app on trio served by hypercorn.

Entry points: :func:`create_app` (the factory), :func:`serve_web` (run it until
cancelled, nursery-start protocol), :func:`create_superuser` (the CLI's
``createsuperuser``) and the account rules it states and checks first
(:func:`check_email`, :func:`check_display_name`, :func:`check_password`).
"""

from .app import create_app
from .auth.schemas import check_display_name, check_email, check_password
from .auth.service import create_superuser
from .serve import WebServer, serve_web

__all__ = [
    "WebServer",
    "check_display_name",
    "check_email",
    "check_password",
    "create_app",
    "create_superuser",
    "serve_web",
]
