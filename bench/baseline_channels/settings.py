"""Django settings of the baseline (bench only). Channel layer from BASELINE_LAYER:
``memory`` (channels' InMemoryChannelLayer) or ``redis`` (channels-redis against
127.0.0.1:BASELINE_REDIS_PORT)."""

import os

SECRET_KEY = "bench-only-not-secret-bench-only-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
INSTALLED_APPS = ["channels"]
DATABASES: dict = {}
USE_TZ = True
ASGI_APPLICATION = "bench.baseline_channels.asgi.application"

# Per-channel queue of 256 messages, as watchparty's send_queue_max.
_CAPACITY = 256
if os.environ.get("BASELINE_LAYER", "memory") == "redis":
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                "hosts": [("127.0.0.1", int(os.environ["BASELINE_REDIS_PORT"]))],
                "capacity": _CAPACITY,
            },
        }
    }
else:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels.layers.InMemoryChannelLayer",
            "CONFIG": {"capacity": _CAPACITY},
        }
    }
