"""ASGI entry point of the baseline: ``daphne bench.baseline_channels.asgi:application``."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.baseline_channels.settings")

import django

django.setup()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import path  # noqa: E402

from bench.baseline_channels.consumers import RoomConsumer  # noqa: E402

application = ProtocolTypeRouter({"websocket": URLRouter([path("ws", RoomConsumer.as_asgi())])})
