"""Settings: one typed table (:data:`protocol.settings.SETTINGS`), loaded from a TOML
file, ``WATCHPARTY_*`` environment variables and command-line flags (later sources
override earlier ones; a flag only when given).

An unknown key or a value of the wrong type is a :class:`ConfigError` that names the
key and its source. Every setting is documented in ``docs/settings.md`` (a test keeps
the two in step).
"""

from __future__ import annotations

import math
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from protocol.errors import WatchpartyError
from protocol.settings import BOTH, SETTINGS, WEB_ONLY, Setting

ENV_PREFIX = "WATCHPARTY_"

__all__ = [
    "BOTH",
    "ENV_PREFIX",
    "SETTINGS",
    "WEB_ONLY",
    "Config",
    "ConfigError",
    "Setting",
    "config_fields",
    "load_config",
    "resolve_db_path",
]


class ConfigError(WatchpartyError):
    """A setting is unknown or has a value of the wrong type or range."""


_BY_NAME = {s.name: s for s in SETTINGS}


@dataclass(frozen=True, slots=True)
class Config:
    """Loaded settings; see :data:`SETTINGS` for each field's meaning and unit."""

    host: str = "127.0.0.1"
    port: int = 8765
    db: str = "watchparty.db"
    db_read_connections: int = 3
    secret_key: str = ""
    web_host: str = "127.0.0.1"
    web_port: int = 8000
    sync_url: str = ""
    public_sync_url: str = ""
    public_web_url: str = ""
    cors_origins: str = ""
    access_token_ttl_s: float = 3_600.0
    refresh_token_ttl_s: float = 1_209_600.0
    auth_rate_limit_per_min: int = 20
    max_request_bytes: int = 1_048_576
    media_dir: str = "media"
    max_upload_bytes: int = 2_147_483_648
    ffprobe_path: str = "ffprobe"
    event_banner_max_bytes: int = 1_048_576
    media_token_ttl_s: float = 21_600.0
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_security: str = "starttls"
    smtp_user: str = ""
    smtp_password: str = ""
    smtp_from: str = ""
    smtp_timeout_s: float = 30.0
    notification_max_attempts: int = 6
    notification_retry_base_s: float = 30.0
    notification_retention_s: float = 7_776_000.0
    push_subject: str = ""
    push_allow_loopback: bool = False
    support_max_attachment_bytes: int = 524_288
    support_max_attachments: int = 20
    log_level: str = "INFO"
    log_format: str = "text"
    demo: bool = True
    allow_guests: bool = True
    guest_rooms: bool = True
    max_frame_bytes: int = 65_536
    max_chat_chars: int = 2_000
    rate_limit_per_s: float = 20.0
    rate_limit_burst: int = 40
    time_sync_per_s: float = 20.0
    time_sync_burst: int = 80
    max_participants_per_room: int = 500
    max_rooms: int = 1_000
    max_connections: int = 10_000
    send_queue_max: int = 256
    slow_close_timeout_s: float = 5.0
    hello_timeout_s: float = 10.0
    heartbeat_interval_s: float = 10.0
    heartbeat_timeout_s: float = 30.0
    reconnect_grace_s: float = 20.0
    ready_timeout_s: float = 10.0
    snapshot_interval_s: float = 5.0
    stats_interval_s: float = 5.0
    chat_history: int = 50
    reaction_rate_per_s: float = 2.0
    reaction_burst: int = 5
    room_idle_ttl_s: float = 86_400.0
    resume_buffer: int = 512
    min_lead_ms: float = 50.0
    max_lead_ms: float = 1_000.0
    drift_threshold_ms: float = 40.0
    drift_seek_ms: float = 1_000.0
    correction_cooldown_s: float = 2.0
    session_ttl_s: float = 86_400.0

    def with_changes(self, **changes: Any) -> Config:
        """A copy with *changes* validated and applied.

        Raises:
            ConfigError: for an unknown name or a bad value.
        """
        return replace(self, **{k: _coerce(k, v, "argument") for k, v in changes.items()})


def _coerce(name: str, value: Any, source: str) -> Any:
    setting = _BY_NAME.get(name)
    if setting is None:
        raise ConfigError(f"unknown setting {name!r} in {source}; known: {', '.join(_BY_NAME)}")
    kind = type(setting.default)
    if isinstance(value, str) and kind is not str:
        value = _parse_str(name, value, kind, source)
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        raise ConfigError(
            f"setting {name!r} in {source} must be {kind.__name__}, got {type(value).__name__} "
            f"{value!r}"
        )
    if kind is float and not math.isfinite(value):
        # NaN would slip past the minimum check below (every comparison is false).
        raise ConfigError(f"setting {name!r} in {source} must be a finite number, got {value}")
    if setting.minimum is not None and value < setting.minimum:
        raise ConfigError(f"setting {name!r} in {source} must be >= {setting.minimum}, got {value}")
    if setting.maximum is not None and value > setting.maximum:
        raise ConfigError(f"setting {name!r} in {source} must be <= {setting.maximum}, got {value}")
    if name == "log_level" and value.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ConfigError(f"setting 'log_level' in {source} must be DEBUG, INFO, WARNING or ERROR")
    if name == "log_format" and value not in ("text", "json"):
        raise ConfigError(f"setting 'log_format' in {source} must be text or json, got {value!r}")
    if name == "secret_key" and value and len(value.encode()) < 32:
        raise ConfigError(f"setting 'secret_key' in {source} must be at least 32 bytes")
    if name == "sync_url" and value and not _is_base_url(value, ("ws", "wss")):
        raise ConfigError(
            f"setting 'sync_url' in {source} must be a ws(s) URL such as "
            f"ws://127.0.0.1:8765/control, got {value!r}"
        )
    if name == "smtp_security" and value not in ("none", "starttls", "tls"):
        raise ConfigError(
            f"setting 'smtp_security' in {source} must be none, starttls or tls, got {value!r}"
        )
    if name == "smtp_from" and value and not _is_email_address(value):
        raise ConfigError(
            f"setting 'smtp_from' in {source} must be an address such as "
            f"watchparty@example.org, got {value!r}"
        )
    if name == "push_subject" and value and not value.startswith(("mailto:", "https://")):
        raise ConfigError(
            f"setting 'push_subject' in {source} must be a mailto: or https:// URL "
            f"(RFC 8292 section 2.1), got {value!r}"
        )
    if name == "public_web_url" and value and not _is_base_url(value, ("http", "https")):
        raise ConfigError(
            f"setting 'public_web_url' in {source} must be an http(s) URL such as "
            f"https://watch.example.org, got {value!r}"
        )
    return value


def _is_email_address(value: str) -> bool:
    """Whether *value* is a bare address ``local@domain`` (no display name, no spaces)."""
    local, at, domain = value.partition("@")
    return bool(at and local and "." in domain.strip(".") and not any(c.isspace() for c in value))


def _is_base_url(value: str, schemes: tuple[str, ...]) -> bool:
    """Whether *value* is an absolute URL with one of *schemes*, a host, and no query or
    fragment (a base that paths are appended to)."""
    parts = urlsplit(value)
    has_host = bool(parts.hostname)
    return parts.scheme in schemes and has_host and not parts.query and not parts.fragment


def _parse_str(name: str, raw: str, kind: type, source: str) -> Any:
    try:
        if kind is bool:
            lowered = raw.strip().lower()
            if lowered in ("1", "true", "yes", "on"):
                return True
            if lowered in ("0", "false", "no", "off"):
                return False
            raise ValueError(raw)
        return kind(raw)
    except ValueError:
        raise ConfigError(
            f"setting {name!r} in {source} must be {kind.__name__}, got {raw!r}"
        ) from None


def load_config(
    *,
    toml_path: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Config:
    """Build the configuration; see :func:`load_config_with_sources`.

    Raises:
        ConfigError: as :func:`load_config_with_sources`.
    """
    return load_config_with_sources(toml_path=toml_path, environ=environ, overrides=overrides)[0]


def load_config_with_sources(
    *,
    toml_path: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> tuple[Config, dict[str, str]]:
    """Build the configuration: defaults, then the TOML file, then the environment,
    then *overrides* (the command-line flags that were given).

    The TOML file holds top-level keys named as in :data:`SETTINGS`
    (``port = 9000``), or all of them under a ``[watchparty]`` table. Without
    *toml_path*, the file named by the ``WATCHPARTY_CONFIG`` environment variable is
    read, if set.

    Returns:
        The configuration, and for each setting where its value came from:
        ``"default"``, ``"config file PATH"``, ``"environment variable WATCHPARTY_X"``
        or ``"--flag"`` (the last source that set it).

    Raises:
        ConfigError: for an unreadable file, an unknown key or a bad value, naming
            the key and where it came from.
    """
    values: dict[str, Any] = {}
    sources: dict[str, str] = {s.name: "default" for s in SETTINGS}
    env = os.environ if environ is None else environ
    if toml_path is None and env.get(ENV_PREFIX + "CONFIG"):
        toml_path = env[ENV_PREFIX + "CONFIG"]
    if toml_path is not None:
        try:
            with open(toml_path, "rb") as fh:
                data = tomllib.load(fh)
        except OSError as exc:
            raise ConfigError(f"cannot read config file {toml_path}: {exc.strerror}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {toml_path} is not valid TOML: {exc}") from None
        if isinstance(data.get("watchparty"), dict):
            others = sorted(k for k in data if k != "watchparty")
            if others:
                raise ConfigError(
                    f"config file {toml_path}: keys outside the [watchparty] table: "
                    f"{', '.join(others)}; put every setting inside it"
                )
            data = data["watchparty"]
        for key, value in data.items():
            values[key] = _coerce(key, value, f"config file {toml_path}")
            sources[key] = f"config file {toml_path}"
    for key, raw in env.items():
        if not key.startswith(ENV_PREFIX) or key == ENV_PREFIX + "CONFIG":
            continue
        name = key[len(ENV_PREFIX) :].lower()
        values[name] = _coerce(name, raw, f"environment variable {key}")
        sources[name] = f"environment variable {key}"
    for key, value in (overrides or {}).items():
        if value is not None:
            values[key] = _coerce(key, value, f"--{key.replace('_', '-')}")
            sources[key] = f"--{key.replace('_', '-')}"
    return Config(**values), sources


def config_fields() -> list[str]:
    """Names of every field of :class:`Config` (kept equal to :data:`SETTINGS`)."""
    return [f.name for f in fields(Config)]


def resolve_db_path(config: Config) -> Path:
    """The database path of *config*, made absolute."""
    return Path(config.db).expanduser().resolve()
