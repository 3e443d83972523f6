"""Client connection state: ordering, features, resume."""

from __future__ import annotations

import json

import pytest

from booth.protocol.client import ClientProtocol, Phase
from booth.protocol.codec import encode_server
from booth.protocol.messages import (
    AgentReady,
    Audio,
    Connected,
    ProtocolError,
    Resumed,
    SessionEnded,
)

CONNECTED = encode_server(
    Connected(
        call_id="athos_call_9",
        resume_token="rt-1",
        persona_name="Alex",
        features=frozenset({"turn_end", "end", "resume"}),
    )
)


def open_protocol() -> ClientProtocol:
    proto = ClientProtocol()
    proto.hello("ticket")
    assert proto.receive(CONNECTED)[0] == Connected(
        call_id="athos_call_9",
        resume_token="rt-1",
        persona_name="Alex",
        features=frozenset({"turn_end", "end", "resume"}),
    )
    return proto


def test_happy_path_records_call_identity() -> None:
    proto = open_protocol()
    assert proto.phase is Phase.OPEN
    assert proto.call_id == "athos_call_9"
    assert proto.persona_name == "Alex"
    assert json.loads(proto.turn_end() or "") == {"type": "turn_end"}
    assert json.loads(proto.end() or "") == {"type": "end"}


def test_extensions_only_when_the_server_lists_them() -> None:
    proto = ClientProtocol()
    proto.hello("t")
    proto.receive('{"type":"connected"}')
    assert proto.turn_end() is None
    assert proto.end() is None
    assert not proto.can_resume


def test_audio_before_connected_is_dropped() -> None:
    proto = ClientProtocol()
    proto.hello("t")
    [event] = proto.receive(b"\0\0" * 320)
    assert isinstance(event, ProtocolError)
    assert "authenticating" in event.problem


def test_agent_ready_before_connected_is_delivered_after_it() -> None:
    proto = ClientProtocol()
    proto.hello("t")
    assert proto.receive('{"type":"agent_ready"}') == []
    events = proto.receive(CONNECTED)
    assert [type(e) for e in events] == [Connected, AgentReady]
    assert proto.agent_ready


def test_second_connected_is_a_protocol_error() -> None:
    proto = open_protocol()
    [event] = proto.receive(CONNECTED)
    assert isinstance(event, ProtocolError)


def test_resume_keeps_call_and_takes_new_token() -> None:
    proto = open_protocol()
    assert json.loads(proto.resume_hello()) == {"type": "resume", "resumeToken": "rt-1"}
    assert proto.phase is Phase.RESUMING
    [event] = proto.receive('{"type":"resumed","resumeToken":"rt-2"}')
    assert event == Resumed("rt-2")
    assert proto.is_open
    assert proto.call_id == "athos_call_9"
    assert proto.resume_token == "rt-2"


def test_unsolicited_resumed_is_a_protocol_error() -> None:
    proto = open_protocol()
    assert isinstance(proto.receive('{"type":"resumed"}')[0], ProtocolError)


def test_session_ended_closes() -> None:
    proto = open_protocol()
    assert proto.receive('{"type":"session_ended","reason":"max_duration"}') == [
        SessionEnded("max_duration")
    ]
    assert proto.phase is Phase.ENDED
    assert proto.end() is None
    assert not proto.can_resume


def test_local_frames_must_be_exact() -> None:
    proto = open_protocol()
    assert proto.audio(b"\0" * 640) == b"\0" * 640
    with pytest.raises(ValueError, match="exactly 640"):
        proto.audio(b"\0" * 638)
    assert proto.receive(b"\0" * 6) == [Audio(b"\0" * 6)]
