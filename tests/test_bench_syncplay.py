"""The Syncplay driver of the benchmarks (bench/syncplay_loadgen.py): its protocol code
against Syncplay 1.6.9's wire format (JSON lines; the client's answer to ``State``).

The driver against a real ``syncplay-server`` is ``python -m bench.peers`` (bench/README.md);
the test environment does not install the package.
"""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from bench.loadgen import TS_WRAP_S, chat_text, sent_time
from bench.syncplay_loadgen import CLIENT_VERSION, chat, encode, hello, split_lines, state_reply


def test_a_message_is_one_crlf_terminated_json_line() -> None:
    line = encode(hello("u1", "bench00001"))
    assert line.endswith(b"\r\n")
    assert b"\n" not in line[:-1]
    assert json.loads(line) == {
        "Hello": {
            "username": "u1",
            "room": {"name": "bench00001"},
            "version": "1.2.255",
            "realversion": CLIENT_VERSION,
            "features": {
                "sharedPlaylists": True,
                "chat": True,
                "featureList": True,
                "readiness": True,
                "managedRooms": True,
            },
        }
    }
    assert json.loads(encode(chat("hi é"))) == {"Chat": "hi é"}


def test_split_lines_keeps_a_partial_line_for_the_next_read() -> None:
    first, rest = split_lines(b'{"Chat": {"message": "a"}}\r\n{"State": {"pi')
    assert [json.loads(x) for x in first] == [{"Chat": {"message": "a"}}]
    second, rest = split_lines(rest + b'ng": {}}}\r\n\r\n')
    assert [json.loads(x) for x in second] == [{"State": {"ping": {}}}]
    assert rest == b""


def test_state_reply_echoes_the_servers_ping_and_stays_paused_at_zero() -> None:
    state = {
        "ping": {"latencyCalculation": 1796292551.6055038, "serverRtt": 0},
        "playstate": {"position": 0, "paused": True, "doSeek": False, "setBy": None},
    }
    assert state_reply(state, 1796292551.7) == {
        "State": {
            "playstate": {"position": 0, "paused": True},
            "ping": {
                "latencyCalculation": 1796292551.6055038,
                "clientLatencyCalculation": 1796292551.7,
                "clientRtt": 0,
            },
        }
    }


def test_state_reply_acknowledges_forced_updates() -> None:
    # A forced State (a seek or pause by another member) carries the server's count of
    # updates it waits to see acknowledged; until then it ignores the client's states.
    state = {
        "ping": {"latencyCalculation": 5.0},
        "playstate": {"position": 12.0, "paused": True, "doSeek": True, "setBy": "u2"},
        "ignoringOnTheFly": {"server": 3},
    }
    reply = state_reply(state, 6.0)["State"]
    assert reply["ignoringOnTheFly"] == {"server": 3}
    assert "ignoringOnTheFly" not in state_reply({"ping": {}}, 6.0)["State"]


@given(
    st.floats(min_value=0, max_value=TS_WRAP_S, allow_nan=False),
    st.integers(0, 20_000),
    st.integers(0, 10**6),
)
def test_the_send_time_survives_the_chat_text(ts: float, index: int, n: int) -> None:
    text = chat_text(ts, index, n)
    assert len(text) <= 150  # Syncplay's default --max-chat-message-length
    assert sent_time(text) == ts
