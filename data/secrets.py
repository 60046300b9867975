"""Server secrets: random values created once and kept across restarts.

For example the key that signs session tokens. The value is never logged.
"""

from __future__ import annotations

import logging
import secrets

import sqlite_utils

logger = logging.getLogger(__name__)

#: Below this many random bytes a value is too guessable to be a secret.
MIN_SECRET_BYTES = 16


def get_or_create_secret(
    db: sqlite_utils.Database, name: str, *, now_ms: int, nbytes: int = 32
) -> str:
    """Return the secret called *name*, creating it on first use.

    Race-free across connections and processes: ``INSERT OR IGNORE`` then ``SELECT``,
    so whoever inserts first wins and everyone reads that value.

    Args:
        db: The writer connection.
        name: The secret's name, such as ``"session_signing_key"``.
        now_ms: The current time in milliseconds since the epoch, stored as
            ``created_at_ms`` if the secret is created.
        nbytes: Random bytes in a new secret (``secrets.token_urlsafe``; the text is
            about 1.3 times longer); at least :data:`MIN_SECRET_BYTES`. Ignored when
            the secret exists.

    Returns:
        The secret, URL-safe base64 text.

    Raises:
        ValueError: if *nbytes* is below :data:`MIN_SECRET_BYTES`.
    """
    if nbytes < MIN_SECRET_BYTES:
        raise ValueError(f"expected nbytes >= {MIN_SECRET_BYTES} bytes, got {nbytes}")
    cursor = db.execute(
        "INSERT OR IGNORE INTO server_secrets (name, value, created_at_ms) VALUES (?, ?, ?)",
        [name, secrets.token_urlsafe(nbytes), now_ms],
    )
    if cursor.rowcount:
        logger.info("created server secret %r", name)
    (value,) = db.execute("SELECT value FROM server_secrets WHERE name = ?", [name]).fetchone()
    return str(value)
