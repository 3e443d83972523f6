"""Each dialect's client side: every server message it defines, malformed and unknown ones."""

from __future__ import annotations

import base64
import json

import numpy as np
import pytest

from booth.protocol.client import Phase
from booth.protocol.codec import Invalid
from booth.protocol.dialects import NAMES, TRAITS, client_protocol, traits
from booth.protocol.dialects.atoms import (
    AtomsProtocol,
    AtomsServerCodec,
    connect_url,
    error_text,
    parse_registration,
)
from booth.protocol.dialects.seed003 import Seed003Protocol, Seed003ServerCodec
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
    Reserved,
    ServerError,
    SessionEnded,
    TextInput,
    Transcript,
    Unknown,
)


def b64(pcm: bytes) -> str:
    return base64.b64encode(pcm).decode()


def opened_seed() -> Seed003Protocol:
    proto = Seed003Protocol()
    assert json.loads(proto.opening("tok") or "") == {"token": "tok"}
    assert proto.receive('{"type":"connected"}') == [Connected()]
    return proto


def opened_atoms(rate: int = 24000) -> AtomsProtocol:
    proto = AtomsProtocol()
    assert proto.opening("wct_x") is None  # the token travels in the URL
    created = {
        "type": "session.created",
        "session_id": "s-1",
        "call_id": "CALL-1-abc",
        "sample_rate": rate,
        "channels": 1,
    }
    events = proto.receive(json.dumps(created))
    assert events == [Connected("s-1", "CALL-1-abc", sample_rate=rate), AgentReady()]
    return proto


def test_every_name_has_traits_and_a_protocol() -> None:
    assert set(NAMES) == set(TRAITS)
    for name in NAMES:
        assert client_protocol(name).dialect == name
        assert traits(name).name == name
    with pytest.raises(ValueError, match="unknown protocol 'grpc'"):
        traits("grpc")


# ── seed 003 ──────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize(
    ("message", "event"),
    [
        ('{"type":"agent_ready"}', AgentReady()),
        ('{"type":"session_ended","reason":"server_shutdown"}', SessionEnded("server_shutdown")),
        # The service's text made safe: a control character shown, not acted on.
        ('{"type":"error","code":"X","message":"m\\u0007"}', ServerError("X", "m\\x07")),
        (bytes(640), Audio(bytes(640))),
    ],
)
def test_seed003_messages(message: str | bytes, event: object) -> None:
    assert opened_seed().receive(message) == [event]


@pytest.mark.parametrize(
    "message",
    [
        '{"type":"agent_stop_talking"}',  # the booth protocol's, not the seed's
        '{"type":"resumed"}',
        '{"type":"interruption"}',
        '{"type":"x_future"}',
    ],
)
def test_seed003_ignores_what_it_does_not_define(message: str) -> None:
    [event] = opened_seed().receive(message)
    assert isinstance(event, Unknown)


@pytest.mark.parametrize(
    "message", ['{"type": "agent_ready"', "[1]", '{"no_type":1}', b"\x01\x02\x03", b""]
)
def test_seed003_malformed(message: str | bytes) -> None:
    [event] = opened_seed().receive(message)
    assert isinstance(event, ProtocolError)


def test_seed003_connected_carries_nothing_the_seed_does_not_define() -> None:
    proto = Seed003Protocol()
    proto.opening("t")
    extra = {"type": "connected", "callId": "c", "features": ["resume"], "resumeToken": "r"}
    assert proto.receive(json.dumps(extra)) == [Connected()]
    assert not proto.can_resume and proto.call_id is None
    assert proto.turn_end() is None and proto.end() is None


def test_seed003_close_after_error_is_that_error() -> None:
    proto = opened_seed()
    proto.receive('{"type":"error","code":"SERVICE_UNAVAILABLE","message":"full"}')
    assert proto.closed(1011) == ServerError("SERVICE_UNAVAILABLE", "full")
    assert opened_seed().closed(1000) == SessionEnded("closed by the service (1000)")
    assert opened_seed().closed(None) is None  # no close frame: the network


def test_seed003_server_codec_says_only_what_the_seed_defines() -> None:
    codec = Seed003ServerCodec()
    assert codec.encode(Connected(call_id="c", features=frozenset({"resume"}))) == [
        '{"type":"connected"}'
    ]
    for event in (AgentStartTalking(), AgentStopTalking(), Interruption(), Transcript("user", "x")):
        assert codec.encode(event) == []
    assert codec.parse('{"token":"t"}') == Auth("t")
    assert codec.parse('{"type":"end"}') == Unknown("end")
    assert isinstance(codec.parse(bytes(960)), ProtocolError)


# ── Atoms ─────────────────────────────────────────────────────────────────────────


PCM = (np.arange(480, dtype="<i2") * 37).astype("<i2").tobytes()


@pytest.mark.parametrize(
    ("message", "event"),
    [
        ({"type": "output_audio.delta", "audio": b64(PCM)}, Audio(PCM)),
        ({"type": "agent_start_talking", "timestamp": "2026-07-02T10:30:45"}, AgentStartTalking()),
        ({"type": "agent_stop_talking"}, AgentStopTalking()),
        ({"type": "interruption"}, Interruption()),
        ({"type": "transcript", "role": "user", "text": "Hi"}, Transcript("user", "Hi")),
        (
            {"type": "transcript.delta", "role": "assistant", "text": "We"},
            Transcript("assistant", "We", final=False),
        ),
        (
            {"type": "error", "code": "invalid_event", "message": "m"},
            ServerError("invalid_event", "m"),
        ),
        ({"type": "error", "code": 503, "message": "busy"}, ServerError("503", "busy")),
        ({"type": "session.closed", "reason": "ended"}, SessionEnded("ended")),
    ],
)
def test_atoms_messages(message: dict[str, object], event: object) -> None:
    assert opened_atoms().receive(json.dumps(message)) == [event]


@pytest.mark.parametrize(
    "message",
    [
        '{"type":"output_audio.delta"}',
        '{"type":"output_audio.delta","audio":"***"}',
        '{"type":"output_audio.delta","audio":"AAEC"}',  # 3 bytes: a torn sample
        '{"type":"transcript","role":"narrator","text":"x"}',
        '{"type":"error","message":"no code"}',
        '{"type":"session.closed"}',
        '{"type":"session.created","session_id":"s","call_id":"c","sample_rate":44100,"channels":1}',
        "not json",
        bytes(960),  # Atoms has no binary messages
    ],
)
def test_atoms_malformed(message: str | bytes) -> None:
    [event] = opened_atoms().receive(message)
    assert isinstance(event, ProtocolError)


def test_a_session_created_the_booth_cannot_take_says_so() -> None:
    """The supervisor fails the connect at once on it, as on a bad `connected`."""
    proto = AtomsProtocol()
    proto.opening("t")
    bad = '{"type":"session.created","session_id":"s","call_id":"c","sample_rate":1,"channels":1}'
    [event] = proto.receive(bad)
    assert isinstance(event, ProtocolError) and event.about == proto.connected_type


def test_atoms_unknown_is_ignored() -> None:
    assert opened_atoms().receive('{"type":"metrics","rtt":3}') == [Unknown("metrics")]


def test_atoms_client_messages() -> None:
    proto = AtomsProtocol()
    proto.opening("t")
    assert proto.end() is None  # nothing before session.created
    proto = opened_atoms()
    frame = bytes(range(256)) * 3 + bytes(192)
    sent = json.loads(proto.audio_message(frame))
    assert sent == {"type": "input_audio_buffer.append", "audio": b64(frame)}
    assert json.loads(proto.end() or "") == {"type": "session.close"}
    assert json.loads(proto.turn_end() or "") == {"type": "input_audio_buffer.commit"}
    assert json.loads(proto.text("hi") or "") == {"type": "input_text.send", "text": "hi"}
    with pytest.raises(ValueError, match="960 bytes"):
        proto.audio_message(bytes(640))


def test_atoms_takes_the_rate_from_session_created() -> None:
    proto = opened_atoms(rate=16000)
    assert proto.sample_rate == 16000
    frames = [json.loads(proto.audio_message(bytes(960)))["audio"] for _ in range(5)]
    # 20 ms at 24 kHz in, 20 ms at 16 kHz on the wire.
    assert {len(base64.b64decode(a)) for a in frames} == {640}
    wire = json.dumps({"type": "output_audio.delta", "audio": b64(bytes(3200))})  # 100 ms
    played = b"".join(e.pcm for _ in range(5) for e in proto.receive(wire) if isinstance(e, Audio))
    # 500 ms at 24 kHz, less the few ms the resampler's filter holds back.
    assert 24000 * 2 * 0.48 <= len(played) <= 24000 * 2 * 0.5


def test_atoms_close_semantics() -> None:
    proto = opened_atoms()
    proto.receive('{"type":"error","code":"401","message":"expired"}')
    assert proto.closed(4000) == ServerError("401", "expired")
    ended = opened_atoms()
    ended.receive('{"type":"session.closed","reason":"ended"}')
    assert ended.phase is Phase.ENDED and ended.closed(1000) == SessionEnded("ended")
    assert opened_atoms().closed(None) is None


def test_atoms_rest_shapes() -> None:
    ok = {"status": True, "data": {"access_token": "wct_a", "expires_in": 30, "sample_rate": 24000}}
    assert parse_registration(ok).access_token == "wct_a"
    for bad in (
        {"status": False, "errors": ["x"]},
        {"status": True, "data": {"access_token": "sk_a"}},
        {"status": True, "data": {"access_token": "wct_a", "expires_in": "30"}},
        [],
    ):
        with pytest.raises(Invalid):
            parse_registration(bad)
    assert error_text({"status": False, "errors": ["Agent\nnot found", 3]}) == "Agent\\nnot found"
    assert error_text({"error": {}}) is None
    assert connect_url("https://api.example.com/", "wct_a+b") == (
        "wss://api.example.com/atoms/v1/agent/connect?token=wct_a%2Bb"
    )


def test_atoms_server_codec_round_trip() -> None:
    codec = AtomsServerCodec()
    client = opened_atoms()
    for event in (
        Audio(PCM),
        AgentStartTalking(),
        AgentStopTalking(),
        Interruption(),
        Transcript("assistant", "Hello", final=False),
        ServerError("invalid_event", "audio is required"),
        SessionEnded("client_requested"),
    ):
        [wire] = codec.encode(event)
        assert client.receive(wire) == [event]
    assert codec.encode(AgentReady()) == []
    assert codec.parse('{"type":"session.close"}') == End()
    assert codec.parse('{"type":"input_audio_buffer.commit"}') == Reserved(
        "input_audio_buffer.commit"
    )
    assert codec.parse('{"type":"input_text.send","text":"hi"}') == TextInput("hi")
    assert isinstance(codec.parse('{"type":"input_text.send","text":""}'), ProtocolError)
