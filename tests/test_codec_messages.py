"""protocol.codec, protocol.messages and protocol.tokens: the wire, its validation and
its tokens."""

from __future__ import annotations

import math
from typing import Any

import jwt
import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

import protocol.codec as codec
from protocol.codec import (
    JSON,
    MSGPACK,
    SUBPROTOCOL_JSON,
    SUBPROTOCOL_MSGPACK,
    EncodedMessage,
    choose_subprotocol,
    decode,
    encode,
    encoding_for_subprotocol,
    encoding_of_frame,
)
from protocol.errors import E_BAD_FRAME, E_INVALID_MESSAGE, E_UNKNOWN_TYPE, ProtocolError
from protocol.messages import (
    CLIENT_TYPES,
    MAX_RATE,
    MIN_RATE,
    parse_client_message,
    request_id_of,
)
from protocol.tokens import (
    TYP_ACCESS,
    TYP_SESSION,
    Identity,
    TokenError,
    identity_from_access,
    issue_token,
    verify_token,
)

# --- codec round trips ------------------------------------------------------------------------

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)  # what msgpack can carry
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=8), children, max_size=5)
    ),
    max_leaves=25,
)
messages = st.dictionaries(st.text(max_size=12), json_values, max_size=8)


def assert_same(a: Any, b: Any) -> None:
    """Equal and of the same types all the way down (1 == 1.0 == True would hide a change)."""
    assert type(a) is type(b), (a, b)
    if isinstance(a, dict):
        assert list(a) == list(b)
        for key in a:
            assert_same(a[key], b[key])
    elif isinstance(a, list):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            assert_same(x, y)
    elif isinstance(a, float):
        assert a == b
        assert math.copysign(1.0, a) == math.copysign(1.0, b)
    else:
        assert a == b


@given(messages)
def test_msgpack_round_trip(message: dict[str, Any]) -> None:
    frame = encode(message, MSGPACK)
    assert isinstance(frame, bytes)
    assert encoding_of_frame(frame) == MSGPACK
    assert_same(decode(frame, MSGPACK), message)


@given(messages)
def test_json_round_trip(message: dict[str, Any]) -> None:
    frame = encode(message, JSON)
    assert isinstance(frame, str)
    assert encoding_of_frame(frame) == JSON
    assert_same(decode(frame, JSON), message)


def test_json_is_compact_and_keeps_non_ascii() -> None:
    assert encode({"a": [1, 2], "t": "é😀"}, JSON) == '{"a":[1,2],"t":"é😀"}'


def test_encode_refuses_what_the_wire_cannot_carry() -> None:
    with pytest.raises(ValueError, match="not JSON compliant"):
        encode({"x": math.nan}, JSON)
    with pytest.raises(ValueError, match="unknown encoding"):
        encode({}, "xml")
    with pytest.raises(ValueError, match="unknown encoding"):
        decode(b"\x80", "xml")


# --- decode errors ----------------------------------------------------------------------------

PACKED = msgpack.packb({"type": "ping", "nonce": 7})


@pytest.mark.parametrize(
    "frame",
    [
        pytest.param(b"\xc1", id="never-used-byte"),
        pytest.param(b"", id="empty"),
        pytest.param(PACKED[:-1], id="truncated"),
        pytest.param(PACKED[:1], id="truncated-header"),
        pytest.param(PACKED + b"\x00", id="trailing-bytes"),
        pytest.param(PACKED + PACKED, id="two-messages"),
        pytest.param(msgpack.packb({1: "x"}), id="int-key"),
        pytest.param(b"\xa1\xff", id="invalid-utf8"),
        pytest.param(msgpack.packb(math.nan), id="nan"),
        pytest.param(b"\x91" * 100_000, id="too-deep"),
    ],
)
def test_bad_msgpack_is_bad_frame(frame: bytes) -> None:
    with pytest.raises(ProtocolError) as info:
        decode(frame, MSGPACK)
    assert info.value.code == E_BAD_FRAME


@pytest.mark.parametrize(
    "frame",
    [
        pytest.param("{", id="truncated"),
        pytest.param("", id="empty"),
        pytest.param("{'type': 'ping'}", id="single-quotes"),
        pytest.param('{"type": "ping"} {}', id="trailing"),
        pytest.param('{"x": NaN}', id="nan"),
        pytest.param('{"x": Infinity}', id="infinity"),
        pytest.param('{"x": [-Infinity]}', id="minus-infinity"),
        pytest.param("[" * 100_000, id="too-deep"),
        pytest.param('{"x": ' + "9" * 5_000 + "}", id="huge-int"),
    ],
)
def test_bad_json_is_bad_frame(frame: str) -> None:
    with pytest.raises(ProtocolError) as info:
        decode(frame, JSON)
    assert info.value.code == E_BAD_FRAME


def test_frame_type_must_match_the_encoding() -> None:
    with pytest.raises(ProtocolError, match="expected a binary frame") as info:
        decode('{"type": "ping"}', MSGPACK)
    assert info.value.code == E_BAD_FRAME
    with pytest.raises(ProtocolError, match="expected a text frame") as info:
        decode(PACKED, JSON)
    assert info.value.code == E_BAD_FRAME
    assert decode(bytearray(PACKED), MSGPACK) == {"type": "ping", "nonce": 7}


def error_code_of(frame: bytes | str, encoding: str) -> str | None:
    """The code of the ProtocolError decoding raises, or None when it decodes."""
    try:
        decode(frame, encoding)
    except ProtocolError as exc:
        return exc.code
    return None


@given(st.binary(max_size=64))
def test_decoding_arbitrary_bytes_only_ever_raises_bad_frame(frame: bytes) -> None:
    assert error_code_of(frame, MSGPACK) in (None, E_BAD_FRAME)


@given(st.text(max_size=64))
def test_decoding_arbitrary_text_only_ever_raises_bad_frame(frame: str) -> None:
    assert error_code_of(frame, JSON) in (None, E_BAD_FRAME)


# --- EncodedMessage and subprotocols ---------------------------------------------------------


def test_encoded_message_encodes_once_per_encoding(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    real_encode = codec.encode

    def counting_encode(message: dict[str, Any], encoding: str) -> bytes | str:
        calls.append(encoding)
        return real_encode(message, encoding)

    monkeypatch.setattr(codec, "encode", counting_encode)
    shared = EncodedMessage({"type": "playback", "seq": 3})
    first = shared.get(MSGPACK)
    assert shared.get(MSGPACK) is first
    text = shared.get(JSON)
    assert shared.get(JSON) is text
    assert calls == [MSGPACK, JSON]
    assert decode(first, MSGPACK) == decode(text, JSON) == {"type": "playback", "seq": 3}


def test_choose_subprotocol_takes_the_first_offered_that_we_speak() -> None:
    assert choose_subprotocol(["chat", SUBPROTOCOL_JSON, SUBPROTOCOL_MSGPACK]) == SUBPROTOCOL_JSON
    assert choose_subprotocol([SUBPROTOCOL_MSGPACK, SUBPROTOCOL_JSON]) == SUBPROTOCOL_MSGPACK
    assert choose_subprotocol(["watchparty.v2.json", "chat"]) is None
    assert choose_subprotocol([]) is None


def test_encoding_for_subprotocol() -> None:
    assert SUBPROTOCOL_MSGPACK == "watchparty.v1.msgpack"
    assert SUBPROTOCOL_JSON == "watchparty.v1.json"
    assert encoding_for_subprotocol(SUBPROTOCOL_MSGPACK) == MSGPACK
    assert encoding_for_subprotocol(SUBPROTOCOL_JSON) == JSON
    assert encoding_for_subprotocol(None) is None
    assert encoding_for_subprotocol("") is None
    assert encoding_for_subprotocol("watchparty.v2.json") is None


# --- parse_client_message ---------------------------------------------------------------------

MINIMAL: dict[str, dict[str, Any]] = {
    "hello": {"type": "hello", "protocol": 1, "room": "abc"},
    "leave": {"type": "leave"},
    "time_sync": {"type": "time_sync", "client_send_ms": 1_700_000_000_000.5},
    "ping": {"type": "ping"},
    "pong": {"type": "pong", "nonce": 3},
    "play": {"type": "play"},
    "pause": {"type": "pause"},
    "seek": {"type": "seek", "position_s": 0.0},
    "set_rate": {"type": "set_rate", "rate": 1.0},
    "change_media": {"type": "change_media", "media": {"url": "/media/a.mp4"}},
    "position_report": {"type": "position_report", "position_s": 1.5, "server_time_ms": 2.0},
    "buffer_state": {"type": "buffer_state", "buffering": False},
    "chat_send": {"type": "chat_send", "text": "hi"},
    "chat_edit": {"type": "chat_edit", "message_id": 1, "text": "hi!"},
    "chat_delete": {"type": "chat_delete", "message_id": 1},
    "typing": {"type": "typing", "typing": True},
    "reaction": {"type": "reaction", "emoji": "🎉"},
    "update_settings": {"type": "update_settings", "settings": {}},
    "set_role": {"type": "set_role", "participant_id": "p1", "role": "cohost"},
    "kick": {"type": "kick", "participant_id": "p1"},
    "poll_create": {"type": "poll_create", "question": "Pizza?", "options": ["yes", "no"]},
    "poll_vote": {"type": "poll_vote", "poll_id": 1, "choices": [0]},
    "poll_close": {"type": "poll_close", "poll_id": 1},
    "get_reaction_timeline": {"type": "get_reaction_timeline"},
    "queue_add": {"type": "queue_add", "media": {"url": "https://example.org/next.mp4"}},
    "queue_remove": {"type": "queue_remove", "item_id": 1},
    "queue_move": {"type": "queue_move", "item_id": 1, "to_index": 0, "version": 3},
    "queue_skip": {"type": "queue_skip"},
    "vote_skip": {"type": "vote_skip"},
    "mute": {"type": "mute", "participant_id": "p1"},
    "unmute": {"type": "unmute", "participant_id": "p1"},
    "ban": {"type": "ban", "participant_id": "p1"},
    "unban": {"type": "unban", "key": "user:42"},
    "get_state": {"type": "get_state"},
    "get_participants": {"type": "get_participants"},
}


def test_every_client_type_has_an_example() -> None:
    assert set(MINIMAL) == set(CLIENT_TYPES)


@pytest.mark.parametrize("kind", sorted(MINIMAL))
@pytest.mark.parametrize("encoding", [MSGPACK, JSON])
def test_minimal_examples_parse_through_both_encodings(kind: str, encoding: str) -> None:
    raw = decode(encode(MINIMAL[kind], encoding), encoding)
    msg = parse_client_message(raw)
    assert type(msg) is CLIENT_TYPES[kind]
    assert msg.type == kind
    assert msg.id is None
    with_id = parse_client_message({**raw, "id": 42})
    assert with_id.id == 42


REQUIRED = sorted(
    (kind, name)
    for kind, cls in CLIENT_TYPES.items()
    for name, info in cls.model_fields.items()
    if info.is_required() and name != "type"
)


@pytest.mark.parametrize(("kind", "field"), REQUIRED)
def test_missing_required_field_is_invalid_and_named(kind: str, field: str) -> None:
    raw = {k: v for k, v in MINIMAL[kind].items() if k != field}
    with pytest.raises(ProtocolError) as info:
        parse_client_message(raw)
    err = info.value
    assert err.code == E_INVALID_MESSAGE
    assert [d["field"] for d in err.details] == [field]
    assert field in err.message


@pytest.mark.parametrize(
    "raw", [{"type": "nope"}, {}, {"type": 5}, {"type": None}, {"kind": "ping"}]
)
def test_unknown_or_missing_type(raw: dict[str, Any]) -> None:
    with pytest.raises(ProtocolError) as info:
        parse_client_message(raw)
    assert info.value.code == E_UNKNOWN_TYPE
    assert "ping" in info.value.message  # lists what is expected


@pytest.mark.parametrize("raw", [["ping"], "ping", 3, None])
def test_a_message_must_be_a_map(raw: Any) -> None:
    with pytest.raises(ProtocolError) as info:
        parse_client_message(raw)
    assert info.value.code == E_INVALID_MESSAGE


def invalid_fields(raw: dict[str, Any]) -> list[str]:
    with pytest.raises(ProtocolError) as info:
        parse_client_message(raw)
    assert info.value.code == E_INVALID_MESSAGE
    assert isinstance(info.value.details, list)
    assert all(set(d) == {"field", "error"} for d in info.value.details)
    return sorted({d["field"].split(".")[0] for d in info.value.details})


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({"type": "seek", "position_s": "1.5"}, "position_s"),  # no str to number
        ({"type": "seek", "position_s": True}, "position_s"),  # no bool to number
        ({"type": "chat_delete", "message_id": True}, "message_id"),  # no bool to int
        ({"type": "chat_delete", "message_id": 1.0}, "message_id"),  # no float to int
        ({"type": "chat_delete", "message_id": "1"}, "message_id"),
        ({"type": "buffer_state", "buffering": "true"}, "buffering"),
        ({"type": "buffer_state", "buffering": 1}, "buffering"),
        ({"type": "chat_send", "text": 5}, "text"),
        ({"type": "hello", "protocol": "1", "room": "abc"}, "protocol"),
        ({"type": "update_settings", "settings": {"control": "anyone"}}, "settings"),
        ({"type": "update_settings", "settings": {"chat_enabled": "no"}}, "settings"),
        ({"type": "set_role", "participant_id": "p", "role": "admin"}, "role"),
        ({"type": "ping", "id": True}, "id"),
        ({"type": "ping", "id": "x" * 65}, "id"),
        ({"type": "ping", "id": 1.5}, "id"),
    ],
)
def test_wrong_types_are_invalid_and_named(raw: dict[str, Any], field: str) -> None:
    assert invalid_fields(raw) == [field]


def test_nested_field_errors_name_the_path() -> None:
    with pytest.raises(ProtocolError) as info:
        parse_client_message({"type": "change_media", "media": {"url": 5, "duration_s": -1}})
    assert sorted(d["field"] for d in info.value.details) == ["media.duration_s", "media.url"]


def test_number_fields_accept_ints() -> None:
    msg = parse_client_message({"type": "seek", "position_s": 5})
    assert msg.position_s == 5.0


@pytest.mark.parametrize(
    "raw",
    [
        {"type": "seek", "position_s": -0.001},
        {"type": "seek", "position_s": 1e12},
        {"type": "set_rate", "rate": 0.1},
        {"type": "set_rate", "rate": 5.0},
        {"type": "chat_delete", "message_id": 0},
        {"type": "chat_send", "text": ""},
        {"type": "chat_send", "text": "x" * 10_001},
        {"type": "hello", "protocol": 1, "room": "ab"},
        {"type": "hello", "protocol": 1, "room": "no spaces"},
        {"type": "hello", "protocol": 1, "room": "abc", "display_name": ""},
        {"type": "hello", "protocol": 1, "room": "abc", "display_name": "x" * 41},
        {"type": "time_sync", "client_send_ms": 0.0, "rtt_ms": -1.0},
        {"type": "reaction", "emoji": "x" * 17},
    ],
)
def test_out_of_range_values_are_invalid(raw: dict[str, Any]) -> None:
    invalid_fields(raw)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
@pytest.mark.parametrize(
    ("kind", "field"),
    [
        ("seek", "position_s"),
        ("set_rate", "rate"),
        ("position_report", "server_time_ms"),
        ("position_report", "position_s"),
        ("time_sync", "client_send_ms"),
        ("time_sync", "offset_ms"),
        ("time_sync", "rtt_ms"),  # would reach participant_stats, which JSON cannot carry
    ],
)
def test_non_finite_numbers_are_invalid(kind: str, field: str, bad: float) -> None:
    assert invalid_fields({**MINIMAL[kind], field: bad}) == [field]


def test_rate_bounds_are_inclusive() -> None:
    assert parse_client_message({"type": "set_rate", "rate": MIN_RATE}).rate == 0.25
    assert parse_client_message({"type": "set_rate", "rate": MAX_RATE}).rate == 4.0


def test_extra_fields_are_ignored() -> None:
    msg = parse_client_message(
        {"type": "pause", "id": "r1", "future": {"nested": [1, 2]}, "x": None}
    )
    assert msg.type == "pause"
    assert msg.id == "r1"
    assert not hasattr(msg, "future")
    media = parse_client_message(
        {"type": "change_media", "media": {"url": "/m.mp4", "codec": "av1"}}
    ).media
    assert (media.url, media.title, media.duration_s) == ("/m.mp4", "", None)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"type": "nope", "id": 5}, 5),
        ({"id": "req-1"}, "req-1"),
        ({"id": "x" * 64}, "x" * 64),
        ({"id": "x" * 65}, None),
        ({"id": True}, None),
        ({"id": 1.5}, None),
        ({"id": "\ud800"}, None),  # no encoder could send it back
        ({"id": None}, None),
        ({}, None),
        (["id", 5], None),
        ("id", None),
    ],
)
def test_request_id_of(raw: Any, expected: Any) -> None:
    assert request_id_of(raw) == expected


def test_request_id_from_a_json_escape_is_only_echoed_when_encodable() -> None:
    lone = decode('{"type": "nonsense", "id": "\\ud800"}', JSON)
    assert lone["id"] == "\ud800"
    assert request_id_of(lone) is None
    pair = decode('{"type": "nonsense", "id": "\\ud83d\\ude00"}', JSON)
    assert request_id_of(pair) == "😀"
    encode({"request_id": request_id_of(pair)}, MSGPACK)


# --- tokens ------------------------------------------------------------------------------------

SECRET = "s" * 32
OTHER_SECRET = "t" * 32
NOW_S = 4_000_000_000.0  # year 2096: verification must use the time passed in, not the wall clock


def access_claims(**extra: Any) -> dict[str, Any]:
    return {"sub": "u1", "name": "Ada", "role": "staff", "guest": False, **extra}


def test_issue_and_verify_round_trip() -> None:
    token = issue_token(SECRET, access_claims(), typ=TYP_ACCESS, now_s=NOW_S, ttl_s=60.0)
    claims = verify_token(SECRET, token, typ=TYP_ACCESS, now_s=NOW_S + 59.0)
    assert claims["sub"] == "u1"
    assert claims["name"] == "Ada"
    assert claims["typ"] == TYP_ACCESS
    assert claims["iat"] == int(NOW_S)
    assert claims["exp"] == int(NOW_S) + 60
    assert isinstance(claims["jti"], str)
    assert claims["jti"]


def test_verify_does_not_read_the_wall_clock() -> None:
    past = issue_token(SECRET, access_claims(), typ=TYP_ACCESS, now_s=1_000.0, ttl_s=60.0)
    assert verify_token(SECRET, past, typ=TYP_ACCESS, now_s=1_030.0)["iat"] == 1_000
    future = issue_token(SECRET, access_claims(), typ=TYP_ACCESS, now_s=NOW_S, ttl_s=60.0)
    assert verify_token(SECRET, future, typ=TYP_ACCESS, now_s=NOW_S)["iat"] == int(NOW_S)


def test_given_jti_is_kept_and_issued_jtis_differ() -> None:
    token = issue_token(SECRET, access_claims(jti="j-1"), typ=TYP_ACCESS, now_s=NOW_S, ttl_s=60)
    assert verify_token(SECRET, token, typ=TYP_ACCESS, now_s=NOW_S)["jti"] == "j-1"
    a = issue_token(SECRET, access_claims(), typ=TYP_ACCESS, now_s=NOW_S, ttl_s=60)
    b = issue_token(SECRET, access_claims(), typ=TYP_ACCESS, now_s=NOW_S, ttl_s=60)
    assert a != b


def test_expired_token_is_refused_at_exp() -> None:
    token = issue_token(SECRET, access_claims(), typ=TYP_ACCESS, now_s=NOW_S, ttl_s=60.0)
    verify_token(SECRET, token, typ=TYP_ACCESS, now_s=NOW_S + 59.999)
    with pytest.raises(TokenError, match="expired"):
        verify_token(SECRET, token, typ=TYP_ACCESS, now_s=NOW_S + 60.0)


def test_token_signed_with_another_key_is_refused() -> None:
    token = issue_token(OTHER_SECRET, access_claims(), typ=TYP_ACCESS, now_s=NOW_S, ttl_s=60)
    with pytest.raises(TokenError, match="invalid token"):
        verify_token(SECRET, token, typ=TYP_ACCESS, now_s=NOW_S)


def test_token_of_another_type_is_refused() -> None:
    token = issue_token(SECRET, {"sub": "guest:p1"}, typ=TYP_SESSION, now_s=NOW_S, ttl_s=60)
    with pytest.raises(TokenError, match="expected a access token, got 'session'"):
        verify_token(SECRET, token, typ=TYP_ACCESS, now_s=NOW_S)
    assert verify_token(SECRET, token, typ=TYP_SESSION, now_s=NOW_S)["sub"] == "guest:p1"


@pytest.mark.parametrize("missing", ["exp", "iat", "sub"])
def test_token_missing_a_claim_is_refused(missing: str) -> None:
    payload = {"sub": "u1", "typ": TYP_ACCESS, "iat": int(NOW_S), "exp": int(NOW_S) + 60}
    del payload[missing]
    token = jwt.encode(payload, SECRET, algorithm="HS256")
    with pytest.raises(TokenError, match=missing):
        verify_token(SECRET, token, typ=TYP_ACCESS, now_s=NOW_S)


@pytest.mark.parametrize(
    "token",
    [
        "not-a-token",
        "",
        jwt.encode({"sub": "u1", "typ": "access", "iat": 0, "exp": 2**40}, None, algorithm="none"),
    ],
)
def test_malformed_or_unsigned_token_is_refused(token: str) -> None:
    with pytest.raises(TokenError):
        verify_token(SECRET, token, typ=TYP_ACCESS, now_s=NOW_S)


def test_tampered_token_is_refused() -> None:
    token = issue_token(SECRET, access_claims(), typ=TYP_ACCESS, now_s=NOW_S, ttl_s=60)
    header, _payload, signature = token.split(".")
    forged = issue_token(SECRET, access_claims(role="admin"), typ=TYP_ACCESS, now_s=NOW_S, ttl_s=60)
    with pytest.raises(TokenError):
        verify_token(
            SECRET, f"{header}.{forged.split('.')[1]}.{signature}", typ=TYP_ACCESS, now_s=NOW_S
        )


def test_issue_refuses_a_short_secret_and_a_non_string_sub() -> None:
    with pytest.raises(ValueError, match="at least 32 bytes"):
        issue_token("s" * 31, access_claims(), typ=TYP_ACCESS, now_s=NOW_S, ttl_s=60)
    with pytest.raises(ValueError, match="sub claim"):
        issue_token(SECRET, access_claims(sub=7), typ=TYP_ACCESS, now_s=NOW_S, ttl_s=60)


def test_identity_from_access() -> None:
    token = issue_token(SECRET, access_claims(jti="j9"), typ=TYP_ACCESS, now_s=NOW_S, ttl_s=60)
    identity = identity_from_access(verify_token(SECRET, token, typ=TYP_ACCESS, now_s=NOW_S))
    assert identity == Identity(
        user_id="u1",
        name="Ada",
        role="staff",
        guest=False,
        jti="j9",
        expires_at_s=int(NOW_S) + 60,
    )
    minimal = identity_from_access({"sub": "g1", "name": "G", "exp": 5})
    assert (minimal.role, minimal.guest, minimal.jti) == ("user", False, None)
    assert identity_from_access({**access_claims(guest=True), "exp": 5}).guest is True


@pytest.mark.parametrize(
    "claims",
    [
        {"sub": "u1", "exp": 5},  # no name
        {"sub": "u1", "exp": 5, "name": ""},
        {"sub": "u1", "exp": 5, "name": "x" * 41},
        {"sub": "u1", "exp": 5, "name": 7},
        {"sub": "u1", "exp": 5, "name": "Ada", "role": "root"},
    ],
)
def test_identity_from_access_refuses_bad_claims(claims: dict[str, Any]) -> None:
    with pytest.raises(TokenError):
        identity_from_access(claims)
