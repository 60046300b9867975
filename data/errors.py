"""Exceptions raised by the data layer.

Every error the data layer raises on purpose derives from :class:`StoreError`. Errors
from SQLite itself (``sqlite3.Error`` subclasses such as a failed constraint other than
the ones named below, or a disk that is full) propagate unchanged, because the caller
can do nothing more specific with them than log them.
"""

from __future__ import annotations

from protocol.errors import WatchpartyError


class StoreError(WatchpartyError):
    """Base class of data-layer errors.

    Raised when the database does not hold what the caller expected, or is not in a
    state the data layer can use (closed, migrated by a newer version, holding
    malformed JSON). The message says what was expected and what came.
    """


class NotFoundError(StoreError):
    """A row the caller named does not exist (or no longer counts, such as a
    soft-deleted chat message that someone tries to edit).

    Raised only for rows named by the caller (a room code, a message id). Functions
    that answer a yes/no question, such as ``room_exists`` or ``delete_room``, return
    a bool instead of raising it.
    """
