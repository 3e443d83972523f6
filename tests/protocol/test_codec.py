"""The wire codec: round trips, every malformed shape, and a fuzz that never raises."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from booth.protocol.codec import (
    MAX_AUDIO_BYTES,
    MAX_TEXT_BYTES,
    encode_client,
    encode_server,
    parse_client,
    parse_server,
)
from booth.protocol.messages import (
    AgentReady,
    AgentStartTalking,
    AgentStopTalking,
    Audio,
    Auth,
    Connected,
    End,
    Interruption,
    ProtocolError,
    Resume,
    Resumed,
    ServerError,
    SessionEnded,
    TurnEnd,
    Unknown,
)

SERVER_EVENTS = [
    Connected(
        session_id="ext_1",
        call_id="athos_call_1",
        resume_token="rt-secret",
        persona_name="Alex",
        sample_rate=16000,
        features=frozenset({"turn_end", "end", "resume"}),
    ),
    Connected(),
    AgentReady(),
    AgentStartTalking(),
    AgentStopTalking(),
    Interruption(),
    Resumed(),
    Resumed(resume_token="rt2"),
    SessionEnded("client_requested"),
    ServerError("INVALID_TOKEN", "bad ticket"),
    Audio(b"\x01\x00" * 160),
]


@pytest.mark.parametrize("event", SERVER_EVENTS, ids=lambda e: type(e).__name__)
def test_server_round_trip(event: object) -> None:
    assert parse_server(encode_server(event)) == event  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "event",
    [Auth("tkt"), Resume("rt"), TurnEnd(), End(), Audio(b"\0" * 640)],
    ids=lambda e: type(e).__name__,
)
def test_client_round_trip(event: object) -> None:
    assert parse_client(encode_client(event)) == event  # type: ignore[arg-type]


def test_seed_003_first_message_shape() -> None:
    assert json.loads(encode_client(Auth("abc"))) == {"token": "abc"}


def test_connected_defaults_follow_seed_003() -> None:
    event = parse_server('{"type":"connected"}')
    assert event == Connected(sample_rate=16000, features=frozenset())


@pytest.mark.parametrize(
    ("message", "problem"),
    [
        ("{not json", "malformed JSON"),
        ("[1,2]", "expected a JSON object"),
        ('{"kind":"connected"}', "no string 'type'"),
        ('{"type":7}', "no string 'type'"),
        ('{"type":"connected","sampleRate":"16000"}', "sampleRate"),
        ('{"type":"connected","sampleRate":true}', "sampleRate"),
        ('{"type":"connected","sampleRate":44100}', "sampleRate"),
        ('{"type":"connected","features":"turn_end"}', "features"),
        ('{"type":"connected","persona":"Alex"}', "persona"),
        ('{"type":"connected","callId":5}', "callId"),
        ('{"type":"error","message":"no code"}', "code is required"),
        ('{"type":"session_ended","reason":["x"]}', "reason"),
        ("x" * (MAX_TEXT_BYTES + 1), "exceeds"),
        ("[" * 50_000, "malformed JSON"),
    ],
)
def test_malformed_server_text_is_a_protocol_error(message: str, problem: str) -> None:
    event = parse_server(message)
    assert isinstance(event, ProtocolError)
    assert problem in event.problem


@pytest.mark.parametrize(
    ("payload", "problem"),
    [(b"", "empty"), (b"\0" * 641, "whole 16-bit"), (b"\0" * (MAX_AUDIO_BYTES + 2), "exceeds")],
)
def test_bad_audio_is_a_protocol_error(payload: bytes, problem: str) -> None:
    event = parse_server(payload)
    assert isinstance(event, ProtocolError)
    assert problem in event.problem


def test_server_accepts_any_whole_number_of_samples() -> None:
    assert parse_server(b"\0" * 962) == Audio(b"\0" * 962)


def test_client_frames_must_be_exactly_640_bytes() -> None:
    assert isinstance(parse_client(b"\0" * 320), ProtocolError)
    assert parse_client(b"\0" * 640) == Audio(b"\0" * 640)


def test_unknown_type_is_ignored_not_fatal() -> None:
    assert parse_server('{"type":"transcript","text":"hi"}') == Unknown("transcript")
    assert parse_client('{"type":"sendText"}') == Unknown("sendText")


def test_secrets_are_not_in_reprs() -> None:
    for event in (
        Auth("tok-SECRET"),
        Resume("rt-SECRET"),
        Connected(resume_token="rt-SECRET"),
        Resumed("rt-SECRET"),
    ):
        assert "SECRET" not in repr(event)


@given(st.one_of(st.text(max_size=300), st.binary(max_size=2000)))
def test_parsers_never_raise(message: str | bytes) -> None:
    parse_server(message)
    parse_client(message)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)


@given(
    st.sampled_from(["connected", "agent_ready", "resumed", "session_ended", "error", "zzz"]),
    st.dictionaries(
        st.sampled_from(
            [
                "sessionId",
                "callId",
                "resumeToken",
                "persona",
                "sampleRate",
                "features",
                "reason",
                "code",
                "message",
            ]
        ),
        json_values,
        max_size=6,
    ),
)
def test_wrong_field_types_never_raise(kind: str, fields: dict[str, object]) -> None:
    parse_server(json.dumps({"type": kind, **fields}))
