"""The two wire encodings of the sync protocol and their negotiation.

* ``msgpack``: one MessagePack map per **binary** WebSocket frame. The default of
  native clients: smaller and faster to parse.
* ``json``: one JSON object per **text** WebSocket frame (UTF-8, RFC 8259), for the
  simplest clients and browsers.

A client picks one with the WebSocket subprotocol (RFC 6455 section 1.9,
``Sec-WebSocket-Protocol``): :data:`SUBPROTOCOL_MSGPACK` or :data:`SUBPROTOCOL_JSON`.
A client that offers neither may still connect: the server then reads each frame in
the encoding its frame type implies and answers in the encoding of the ``hello``.
"""

from __future__ import annotations

import json
import math
from typing import Any

import msgpack

from protocol.errors import E_BAD_FRAME, ProtocolError
from protocol.messages import PROTOCOL_VERSION

SUBPROTOCOL_MSGPACK = f"watchparty.v{PROTOCOL_VERSION}.msgpack"
SUBPROTOCOL_JSON = f"watchparty.v{PROTOCOL_VERSION}.json"
SUBPROTOCOLS = (SUBPROTOCOL_MSGPACK, SUBPROTOCOL_JSON)

MSGPACK = "msgpack"
JSON = "json"
ENCODINGS = (MSGPACK, JSON)

_ENCODING_OF = {SUBPROTOCOL_MSGPACK: MSGPACK, SUBPROTOCOL_JSON: JSON}

_json_encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def encoding_for_subprotocol(subprotocol: str | None) -> str | None:
    """The encoding a negotiated subprotocol fixes, or ``None`` when none was agreed."""
    return _ENCODING_OF.get(subprotocol) if subprotocol else None


def choose_subprotocol(offered: list[str]) -> str | None:
    """Pick the first of the client's offered subprotocols that we speak (RFC 6455 4.2.2).

    Args:
        offered: The values of the client's ``Sec-WebSocket-Protocol`` header, in its
            order of preference.

    Returns:
        The chosen subprotocol, or ``None`` (the handshake then names none).
    """
    for name in offered:
        if name in _ENCODING_OF:
            return name
    return None


def encoding_of_frame(frame: bytes | str) -> str:
    """The encoding a frame's type implies: binary is msgpack, text is JSON."""
    return JSON if isinstance(frame, str) else MSGPACK


def encode(message: dict[str, Any], encoding: str) -> bytes | str:
    """Encode a message for one WebSocket frame.

    Args:
        message: A map of str keys to None, bool, int, float, str, list or map values.
        encoding: :data:`MSGPACK` (returns ``bytes``, sent as a binary frame) or
            :data:`JSON` (returns ``str``, sent as a text frame).

    Raises:
        ValueError: for an unknown encoding or a non-finite float in JSON.
        TypeError: for a value neither encoding can carry.
    """
    if encoding == MSGPACK:
        return msgpack.packb(message, use_bin_type=True)
    if encoding == JSON:
        return _json_encoder.encode(message)
    raise ValueError(f"unknown encoding {encoding!r}; expected one of {ENCODINGS}")


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not valid JSON")


def decode(frame: bytes | str, encoding: str) -> Any:
    """Decode one WebSocket frame.

    Args:
        frame: The frame's payload: ``bytes`` from a binary frame, ``str`` from text.
        encoding: The connection's encoding; a frame of the other type is refused.

    Returns:
        The decoded value (normally a dict; validation is
        :func:`protocol.messages.parse_client_message`'s job).

    Raises:
        ProtocolError: ``bad_frame`` when the frame type does not match the encoding
            or the payload is not valid in it (including NaN and Infinity in JSON,
            trailing bytes after a msgpack value, and non-str map keys).
    """
    if encoding == MSGPACK:
        if not isinstance(frame, bytes | bytearray):
            raise ProtocolError(E_BAD_FRAME, "expected a binary frame (msgpack), got a text frame")
        try:
            value = msgpack.unpackb(frame, raw=False, strict_map_key=True, use_list=True)
        except (ValueError, msgpack.ExtraData, msgpack.FormatError, msgpack.StackError) as exc:
            raise ProtocolError(E_BAD_FRAME, f"invalid msgpack: {exc}") from None
        except TypeError as exc:  # unhashable map key and the like
            raise ProtocolError(E_BAD_FRAME, f"invalid msgpack: {exc}") from None
        if isinstance(value, float) and not math.isfinite(value):
            raise ProtocolError(E_BAD_FRAME, "a message must be a map, got a float")
        return value
    if encoding == JSON:
        if not isinstance(frame, str):
            raise ProtocolError(E_BAD_FRAME, "expected a text frame (JSON), got a binary frame")
        try:
            return json.loads(frame, parse_constant=_reject_constant)
        except (ValueError, RecursionError) as exc:
            raise ProtocolError(E_BAD_FRAME, f"invalid JSON: {exc}") from None
    raise ValueError(f"unknown encoding {encoding!r}; expected one of {ENCODINGS}")


OPCODE_TEXT = 0x1
OPCODE_BINARY = 0x2


def websocket_frame(payload: bytes | str) -> bytes:
    """One complete, unmasked WebSocket data frame (RFC 6455 section 5.2).

    Frames from a server are never masked (section 5.1), so the same bytes can be
    written to every receiver of a broadcast.

    Args:
        payload: ``str`` becomes a text frame (UTF-8), ``bytes`` a binary frame.

    Returns:
        FIN bit and opcode, the payload length in the 7-bit, 16-bit or 64-bit form
        (section 5.2), then the payload.
    """
    if isinstance(payload, str):
        data, opcode = payload.encode("utf-8"), OPCODE_TEXT
    else:
        data, opcode = bytes(payload), OPCODE_BINARY
    n = len(data)
    if n < 126:
        header = bytes((0x80 | opcode, n))
    elif n < 1 << 16:
        header = bytes((0x80 | opcode, 126)) + n.to_bytes(2, "big")
    else:
        header = bytes((0x80 | opcode, 127)) + n.to_bytes(8, "big")
    return header + data


class EncodedMessage:
    """A server message encoded (and framed) at most once per encoding, then shared.

    A broadcast builds one of these and hands the same bytes to every receiver
    speaking that encoding, so a room of 1,000 costs one encode and one frame per
    encoding, not one per participant.
    """

    __slots__ = ("_cache", "_frames", "message")

    def __init__(self, message: dict[str, Any]) -> None:
        self.message = message
        self._cache: dict[str, bytes | str] = {}
        self._frames: dict[str, bytes] = {}

    def frame(self, encoding: str) -> bytes:
        """The complete WebSocket frame carrying the message in *encoding*."""
        data = self._frames.get(encoding)
        if data is None:
            data = websocket_frame(self.get(encoding))
            self._frames[encoding] = data
        return data

    def get(self, encoding: str) -> bytes | str:
        """The frame payload in *encoding*, encoded on first use."""
        data = self._cache.get(encoding)
        if data is None:
            data = encode(self.message, encoding)
            self._cache[encoding] = data
        return data
