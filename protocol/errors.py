"""Error codes, close codes and the exception hierarchy of the sync protocol.

Two families of codes travel on the sync socket:

* **Error codes** (strings) in ``error`` messages. The connection stays open after an
  error message unless a close follows it.
* **Close codes** (integers) in WebSocket close frames. 1000-1011 are the codes of
  RFC 6455 section 7.4.1; 4000-4999 is the range RFC 6455 section 7.4.2 leaves to
  applications, and ours are listed here.

The exception classes follow wsproto's split (``LocalProtocolError`` versus
``RemoteProtocolError``): :class:`ProtocolError` is a peer's fault and is answered
with an ``error`` message; :class:`CloseConnection` ends the connection with a close
code. Every exception derives from :class:`WatchpartyError`.
"""

from __future__ import annotations

from typing import Any

# --- WebSocket close codes (RFC 6455 section 7.4.1) -----------------------------------
CLOSE_NORMAL = 1000
CLOSE_GOING_AWAY = 1001  # server shutting down
CLOSE_PROTOCOL_ERROR = 1002  # sent by the WebSocket layer for a malformed frame
CLOSE_INVALID_PAYLOAD = 1007  # sent by the WebSocket layer for a text frame not UTF-8
CLOSE_MESSAGE_TOO_BIG = 1009  # frame or message over max_frame_bytes
CLOSE_INTERNAL_ERROR = 1011

# --- Application close codes (RFC 6455 section 7.4.2: 4000-4999) ----------------------
CLOSE_AUTH_FAILED = 4001  # token missing, malformed, forged or expired
CLOSE_FORBIDDEN = 4003  # authenticated, but not allowed into this room (guests off)
CLOSE_ROOM_NOT_FOUND = 4004
CLOSE_UNSUPPORTED_VERSION = 4005
CLOSE_ROOM_FULL = 4006  # max_participants_per_room reached
CLOSE_SERVER_FULL = 4007  # max_rooms or max_connections reached
CLOSE_HEARTBEAT_TIMEOUT = 4008  # nothing received for heartbeat_timeout_s
CLOSE_TOO_SLOW = 4009  # the client stopped reading; its send queue overflowed
CLOSE_HELLO_TIMEOUT = 4010  # no valid hello within hello_timeout_s
CLOSE_REPLACED = 4011  # the same participant connected again elsewhere
CLOSE_KICKED = 4012  # removed from the room by its host
CLOSE_ROOM_CLOSED = 4013  # the room was deleted

CLOSE_REASONS: dict[int, str] = {
    CLOSE_NORMAL: "normal closure",
    CLOSE_GOING_AWAY: "server shutting down",
    CLOSE_PROTOCOL_ERROR: "protocol error",
    CLOSE_INVALID_PAYLOAD: "invalid frame payload (text not UTF-8)",
    CLOSE_MESSAGE_TOO_BIG: "message too big",
    CLOSE_INTERNAL_ERROR: "internal error",
    CLOSE_AUTH_FAILED: "authentication failed",
    CLOSE_FORBIDDEN: "forbidden",
    CLOSE_ROOM_NOT_FOUND: "room not found",
    CLOSE_UNSUPPORTED_VERSION: "unsupported protocol version",
    CLOSE_ROOM_FULL: "room full",
    CLOSE_SERVER_FULL: "server full",
    CLOSE_HEARTBEAT_TIMEOUT: "heartbeat timeout",
    CLOSE_TOO_SLOW: "client too slow: send queue overflowed",
    CLOSE_HELLO_TIMEOUT: "no hello received in time",
    CLOSE_REPLACED: "replaced by a newer connection of the same participant",
    CLOSE_KICKED: "removed from the room",
    CLOSE_ROOM_CLOSED: "room closed",
}

# --- Error codes (the ``code`` field of an ``error`` message) -------------------------
E_BAD_FRAME = "bad_frame"  # not decodable in the connection's encoding
E_UNKNOWN_TYPE = "unknown_type"
E_INVALID_MESSAGE = "invalid_message"  # a field missing, of the wrong type or out of range
E_NOT_JOINED = "not_joined"  # a room message before the hello was accepted
E_ALREADY_JOINED = "already_joined"
E_FORBIDDEN = "forbidden"  # the participant's role does not allow the action
E_RATE_LIMITED = "rate_limited"
E_CHAT_DISABLED = "chat_disabled"
E_NOT_FOUND = "not_found"  # a chat message or participant that does not exist
E_NO_MEDIA = "no_media"  # play/seek with no media set
E_AUTH_FAILED = "auth_failed"
E_ROOM_NOT_FOUND = "room_not_found"
E_ROOM_FULL = "room_full"
E_SERVER_FULL = "server_full"
E_UNSUPPORTED_VERSION = "unsupported_version"
E_GUESTS_NOT_ALLOWED = "guests_not_allowed"
E_HELLO_TIMEOUT = "hello_timeout"
E_INTERNAL = "internal_error"
E_POLL_CLOSED = "poll_closed"  # a vote on or close of a poll that has closed
E_STALE_QUEUE = "stale_queue"  # a reorder made against an older queue version
E_ALREADY_VOTED = "already_voted"  # a second skip vote of one person on one item
E_MUTED = "muted"  # a muted person's chat, reaction or vote

ERROR_CODES: dict[str, str] = {
    E_BAD_FRAME: "the frame could not be decoded in the connection's encoding",
    E_UNKNOWN_TYPE: "the message type is not one the server accepts",
    E_INVALID_MESSAGE: "a field is missing, of the wrong type or out of range",
    E_NOT_JOINED: "the connection has not joined a room yet (send hello first)",
    E_ALREADY_JOINED: "the connection has already joined a room",
    E_FORBIDDEN: "the participant's role does not allow this action",
    E_RATE_LIMITED: "too many messages; retry after retry_after_ms milliseconds",
    E_CHAT_DISABLED: "chat is turned off in this room",
    E_NOT_FOUND: "the chat message or participant does not exist",
    E_NO_MEDIA: "the room has no media to play or seek in",
    E_AUTH_FAILED: "the token is missing, malformed, forged or expired",
    E_ROOM_NOT_FOUND: "no room has this code",
    E_ROOM_FULL: "the room has reached max_participants_per_room",
    E_SERVER_FULL: "the server has reached max_rooms or max_connections",
    E_UNSUPPORTED_VERSION: "the client's protocol version is not supported",
    E_GUESTS_NOT_ALLOWED: "this room does not admit guests; sign in",
    E_HELLO_TIMEOUT: "no valid hello arrived within hello_timeout_s (close 4010 follows)",
    E_INTERNAL: "the server failed; the request was not applied",
    E_POLL_CLOSED: "the poll is closed: no more votes",
    E_STALE_QUEUE: "the queue changed since the version the request names",
    E_ALREADY_VOTED: "you already voted to skip this item",
    E_MUTED: "you are muted in this room: no chat, reactions or votes",
}


class WatchpartyError(Exception):
    """Base class of every error raised by watchparty code."""


class ProtocolError(WatchpartyError):
    """A peer sent something the protocol does not allow.

    Raised by decoding, validation and room rules. The server answers it with an
    ``error`` message (``code``, ``message``, ``request_id``, optional ``details``)
    and keeps the connection open.

    Args:
        code: One of the ``E_*`` error codes.
        message: What was expected and what came, for people.
        details: Optional machine-readable details (for example per-field errors).
    """

    def __init__(self, code: str, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code!r}, {self.message!r})"


class CloseConnection(WatchpartyError):
    """The connection must end with a WebSocket close code.

    Raised where no answer can keep the connection useful: a bad token at hello, a
    room that is full, a client that stopped reading. The server sends an ``error``
    message with ``error_code`` first when it still can, then closes with
    ``close_code``.

    Args:
        close_code: One of the ``CLOSE_*`` codes.
        error_code: The matching ``E_*`` error code for the ``error`` message.
        message: Why, for people (sent as the close reason, truncated to 123 bytes
            as RFC 6455 section 5.5 requires of control frame payloads).
    """

    def __init__(self, close_code: int, error_code: str, message: str) -> None:
        super().__init__(message)
        self.close_code = close_code
        self.error_code = error_code
        self.message = message


def close_reason(message: str) -> str:
    """Truncate *message* to fit a close frame's reason (123 UTF-8 bytes, RFC 6455 5.5)."""
    encoded = message.encode("utf-8")
    if len(encoded) <= 123:
        return message
    return encoded[:123].decode("utf-8", errors="ignore")
