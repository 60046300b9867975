"""The web app's view of the settings table (:data:`protocol.settings.SETTINGS`).

The web settings (``web_host`` ... ``public_sync_url``) are read from the ``Config``
object by name, falling back to the table's defaults for a ``Config`` that does not
carry one, so the web app works with any object that has the attributes. A domain
reads its own settings the same way, with :func:`setting_defaults`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from protocol.settings import DEFAULTS as _TABLE_DEFAULTS


def setting_defaults(*names: str) -> dict[str, Any]:
    """The defaults of the settings *names*, from the settings table.

    Raises:
        KeyError: for a name the table does not have.
    """
    return {name: _TABLE_DEFAULTS[name] for name in names}


DEFAULTS: dict[str, Any] = setting_defaults(
    "web_host",
    "web_port",
    "cors_origins",
    "access_token_ttl_s",
    "refresh_token_ttl_s",
    "auth_rate_limit_per_min",
    "max_request_bytes",
    "public_sync_url",
    "allow_guests",
    "max_chat_chars",
    "port",
)


@dataclass(frozen=True, slots=True)
class WebSettings:
    """Settings the web app uses.

    Attributes:
        web_host: Address the web app listens on.
        web_port: TCP port of the web app (0 picks a free one).
        cors_origins: Origins allowed cross-origin requests (``*`` for any); empty
            tuple: no CORS headers at all.
        access_token_ttl_s: Lifetime of access tokens, seconds.
        refresh_token_ttl_s: Lifetime of refresh tokens, seconds.
        auth_rate_limit_per_min: Requests per minute per client address to each auth
            endpoint (also the burst); 0 turns the limit off.
        max_request_bytes: Largest request body, bytes (over it: 413).
        public_sync_url: The ``ws://`` or ``wss://`` URL clients should use for the
            sync socket; empty: derived from the request's host and ``sync_port``.
        allow_guests: Whether guest sign-in is allowed.
        max_chat_chars: Longest chat message (informational here).
        sync_port: TCP port of the sync socket (the ``port`` setting).
    """

    web_host: str
    web_port: int
    cors_origins: tuple[str, ...]
    access_token_ttl_s: float
    refresh_token_ttl_s: float
    auth_rate_limit_per_min: int
    max_request_bytes: int
    public_sync_url: str
    allow_guests: bool
    max_chat_chars: int
    sync_port: int

    @classmethod
    def from_config(cls, config: Any) -> WebSettings:
        """Read the web settings from a ``Config`` (or any object with the attributes)."""

        def get(name: str) -> Any:
            return getattr(config, name, DEFAULTS[name])

        origins = tuple(
            o.strip().rstrip("/") for o in str(get("cors_origins")).split(",") if o.strip()
        )
        return cls(
            web_host=str(get("web_host")),
            web_port=int(get("web_port")),
            cors_origins=origins,
            access_token_ttl_s=float(get("access_token_ttl_s")),
            refresh_token_ttl_s=float(get("refresh_token_ttl_s")),
            auth_rate_limit_per_min=int(get("auth_rate_limit_per_min")),
            max_request_bytes=int(get("max_request_bytes")),
            public_sync_url=str(get("public_sync_url")),
            allow_guests=bool(get("allow_guests")),
            max_chat_chars=int(get("max_chat_chars")),
            sync_port=int(get("port")),
        )
