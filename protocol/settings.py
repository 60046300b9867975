"""The settings table: every setting's name, default, unit, help and range.

The one place a default lives. The sync server loads settings against it
(``sync_server/config.py``: TOML file, ``WATCHPARTY_*`` environment, flags); the web app
reads its settings from the loaded ``Config`` with these defaults for any it lacks.
Every setting is documented in ``docs/settings.md`` (a test keeps the two in step).
Pure data: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Setting:
    """One row of the settings table.

    Attributes:
        name: Key in TOML, ``--name-with-dashes`` as a flag, ``WATCHPARTY_NAME`` in
            the environment.
        default: Default value; its type is the setting's type.
        unit: Unit of the value (``s``, ``ms``, ``bytes``, ...) or ``""``.
        help: One line for ``--help`` and the docs.
        minimum: Smallest allowed value for numbers, or ``None``.
        maximum: Largest allowed value for numbers, or ``None``.
        applies_to: Which server reads it: ``"sync"``, ``"web"`` or ``"both"``. The
            ``serve-sync`` and ``serve-web`` commands offer flags only for theirs
            (:data:`WEB_ONLY`, :data:`BOTH` say which are which).
    """

    name: str
    default: Any
    unit: str
    help: str
    minimum: float | None = None
    maximum: float | None = None

    @property
    def applies_to(self) -> str:
        if self.name in WEB_ONLY:
            return "web"
        return "both" if self.name in BOTH else "sync"


#: Settings only the web app reads (``serve-web``; ``serve`` passes them on).
WEB_ONLY = frozenset(
    {
        "web_host",
        "web_port",
        "sync_url",
        "public_sync_url",
        "cors_origins",
        "access_token_ttl_s",
        "refresh_token_ttl_s",
        "auth_rate_limit_per_min",
        "max_request_bytes",
        "media_dir",
        "max_upload_bytes",
        "ffprobe_path",
        "media_token_ttl_s",
        "smtp_host",
        "smtp_port",
        "smtp_security",
        "smtp_user",
        "smtp_password",
        "smtp_from",
        "smtp_timeout_s",
        "notification_max_attempts",
        "notification_retry_base_s",
        "notification_retention_s",
        "push_subject",
        "push_allow_loopback",
        "support_max_attachment_bytes",
        "support_max_attachments",
        "event_banner_max_bytes",
    }
)
#: Settings both servers read; every other one is the sync server's alone.
BOTH = frozenset(
    {
        "port",
        "db",
        "db_read_connections",
        "secret_key",
        "log_level",
        "log_format",
        "allow_guests",
        "max_chat_chars",
    }
)


SETTINGS: tuple[Setting, ...] = (
    Setting("host", "127.0.0.1", "", "Address the sync socket listens on (0.0.0.0 for all)."),
    Setting("port", 8765, "", "TCP port of the sync socket (0 picks a free port).", 0, 65535),
    Setting("db", "watchparty.db", "", "SQLite database file (created if missing)."),
    Setting(
        "db_read_connections",
        3,
        "",
        "SQLite read connections (worker threads) beside the one writer.",
        1,
        32,
    ),
    Setting(
        "secret_key",
        "",
        "",
        "HS256 key for tokens, at least 32 bytes; empty: generated once and kept in the database.",
    ),
    Setting("web_host", "127.0.0.1", "", "Address the web app (REST API, pages) listens on."),
    Setting("web_port", 8000, "", "TCP port of the web app (0 picks a free port).", 0, 65535),
    Setting(
        "sync_url",
        "",
        "",
        "serve-web only: control socket of a separate sync server, ws://HOST:PORT/control.",
    ),
    Setting(
        "public_sync_url",
        "",
        "",
        "Sync socket URL given to clients; empty: derived from the request host and port.",
    ),
    Setting(
        "public_web_url",
        "",
        "",
        "Web app base URL given to sync clients (welcome.web_url) to resolve media paths; "
        "empty: http://web_host:web_port when `serve` runs both on a specific address.",
    ),
    Setting("cors_origins", "", "", "Comma-separated origins allowed by CORS; empty: no CORS."),
    Setting("access_token_ttl_s", 3_600.0, "s", "Lifetime of an access token.", 1.0),
    Setting("refresh_token_ttl_s", 1_209_600.0, "s", "Lifetime of a refresh token.", 1.0),
    Setting(
        "auth_rate_limit_per_min", 20, "reqs/min", "Auth requests per client IP per endpoint.", 1
    ),
    Setting(
        "max_request_bytes", 1_048_576, "bytes", "Largest HTTP request body of the web app.", 1024
    ),
    Setting("media_dir", "media", "", "Directory of uploaded video files (created if missing)."),
    Setting(
        "max_upload_bytes",
        2_147_483_648,
        "bytes",
        "Largest video file an upload may carry (over it: 413).",
        1,
    ),
    Setting("ffprobe_path", "ffprobe", "", "ffprobe program for video durations; empty: none."),
    Setting(
        "event_banner_max_bytes",
        1_048_576,
        "bytes",
        "Largest event banner image (PNG, JPEG, GIF or WebP; over it: 413).",
        1024,
    ),
    Setting(
        "media_token_ttl_s",
        21_600.0,
        "s",
        "Lifetime of a signed ?token= link to a private video's stream or download.",
        1.0,
    ),
    Setting("smtp_host", "", "", "SMTP server for email notifications; empty: email is off."),
    Setting("smtp_port", 587, "", "TCP port of the SMTP server.", 1, 65535),
    Setting("smtp_security", "starttls", "", "SMTP connection security: none, starttls or tls."),
    Setting("smtp_user", "", "", "SMTP user name; empty: no authentication."),
    Setting("smtp_password", "", "", "SMTP password (with smtp_user)."),
    Setting("smtp_from", "", "", "From address of emails; empty: watchparty@<this host's name>."),
    Setting("smtp_timeout_s", 30.0, "s", "Timeout of one SMTP connection and each command.", 1.0),
    Setting(
        "notification_max_attempts",
        6,
        "",
        "Attempts at one email or push delivery before it is marked failed.",
        1,
        50,
    ),
    Setting(
        "notification_retry_base_s",
        30.0,
        "s",
        "Wait before the first retry of a failed delivery; doubles each time (at most 1 h).",
        0.0,
    ),
    Setting(
        "notification_retention_s",
        7_776_000.0,
        "s",
        "Notifications older than this are deleted with their delivery records; 0: kept.",
        0.0,
    ),
    Setting(
        "push_subject",
        "",
        "",
        "VAPID contact (mailto: or https: URL) sent to push services; empty: from smtp_from.",
    ),
    Setting(
        "push_allow_loopback",
        False,
        "",
        "Accept http:// push endpoints on 127.0.0.1 (tests and local push services only).",
    ),
    Setting(
        "support_max_attachment_bytes",
        524_288,
        "bytes",
        "Largest support ticket attachment (over it: 413); also bounded by max_request_bytes.",
        1,
    ),
    Setting(
        "support_max_attachments",
        20,
        "",
        "Most attachments one support ticket may hold (over it: 409).",
        0,
    ),
    Setting("log_level", "INFO", "", "Log level: DEBUG, INFO, WARNING or ERROR."),
    Setting("log_format", "text", "", "Log format: text or json (one JSON object a line)."),
    Setting("demo", True, "", "Create the guest-friendly demo room 'demo' at start if missing."),
    Setting("allow_guests", True, "", "Admit guests (display name, no account) where rooms allow."),
    Setting("guest_rooms", True, "", "Let guests create rooms with hello.create."),
    Setting(
        "max_frame_bytes",
        65_536,
        "bytes",
        "Largest message a client may send; over it: close 1009.",
        256,
    ),
    Setting("max_chat_chars", 2_000, "chars", "Longest chat message (at most 10,000).", 1, 10_000),
    Setting(
        "rate_limit_per_s", 20.0, "msgs/s", "Sustained messages per second per connection.", 0.1
    ),
    Setting("rate_limit_burst", 40, "msgs", "Messages a connection may send in a burst.", 1),
    Setting(
        "time_sync_per_s",
        20.0,
        "msgs/s",
        "Sustained time_sync requests per second per connection.",
        0.1,
    ),
    Setting(
        "time_sync_burst", 80, "msgs", "time_sync requests a connection may send in a burst.", 1
    ),
    Setting("max_participants_per_room", 500, "", "Participants in one room at once.", 1),
    Setting("max_rooms", 1_000, "", "Live rooms on the server.", 1),
    Setting("max_connections", 10_000, "", "Open sync connections on the server.", 1),
    Setting(
        "send_queue_max",
        256,
        "msgs",
        "Messages queued for one slow client before it is closed (4009).",
        4,
    ),
    Setting(
        "slow_close_timeout_s",
        5.0,
        "s",
        "How long a too-slow client gets to take its close frame.",
        0.1,
    ),
    Setting(
        "hello_timeout_s",
        10.0,
        "s",
        "Time a new connection has to send a valid hello (close 4010).",
        0.1,
    ),
    Setting(
        "heartbeat_interval_s",
        10.0,
        "s",
        "Interval of the server's pings (RTT measurement and liveness).",
        0.05,
    ),
    Setting("heartbeat_timeout_s", 30.0, "s", "Close a connection silent this long (4008).", 0.1),
    Setting(
        "reconnect_grace_s",
        20.0,
        "s",
        "How long a dropped participant keeps its place and role.",
        0.0,
    ),
    Setting("ready_timeout_s", 10.0, "s", "Longest wait-for-everyone hold before playing on.", 0.0),
    Setting(
        "snapshot_interval_s",
        5.0,
        "s",
        "How often changed rooms are written to the database.",
        0.05,
    ),
    Setting(
        "stats_interval_s", 5.0, "s", "How often participants' drift and RTT are broadcast.", 0.05
    ),
    Setting("chat_history", 50, "msgs", "Chat messages sent to a joiner.", 0),
    Setting(
        "reaction_rate_per_s",
        2.0,
        "reactions/s",
        "Sustained reactions per second per person (beyond: rate_limited).",
        0.01,
    ),
    Setting("reaction_burst", 5, "reactions", "Reactions a person may send in a burst.", 1),
    Setting(
        "room_idle_ttl_s",
        86_400.0,
        "s",
        "Delete a room (and its chat) empty and without events this long; 0: never.",
        0.0,
    ),
    Setting("resume_buffer", 512, "events", "Room events kept for reconnects to resume from.", 1),
    Setting("min_lead_ms", 50.0, "ms", "Smallest lead of a scheduled play or seek.", 0.0),
    Setting("max_lead_ms", 1_000.0, "ms", "Largest lead of a scheduled play or seek.", 0.0),
    Setting(
        "drift_threshold_ms",
        40.0,
        "ms",
        "Drift beyond which a participant is told to correct.",
        0.0,
    ),
    Setting(
        "drift_seek_ms",
        1_000.0,
        "ms",
        "Drift beyond which the correction is a seek, not a rate nudge.",
        0.0,
    ),
    Setting(
        "correction_cooldown_s",
        2.0,
        "s",
        "Least time between two corrections sent to one participant.",
        0.0,
    ),
    Setting(
        "session_ttl_s", 86_400.0, "s", "Lifetime of a participant's resume session token.", 1.0
    ),
)


#: Default of every setting by name.
DEFAULTS: dict[str, Any] = {s.name: s.default for s in SETTINGS}
