"""Parse and serialise booth voice WebSocket messages. Sans-I/O: bytes and str in and out.

Parsing never raises on what a peer sends: malformed JSON, wrong field types, oversize text and
odd-length audio come back as :class:`ProtocolError`, unknown types as :class:`Unknown`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from booth.protocol.messages import (
    FRAME_BYTES,
    AgentReady,
    AgentStartTalking,
    AgentStopTalking,
    Audio,
    Auth,
    ClientEvent,
    Connected,
    End,
    Interruption,
    ProtocolError,
    Resume,
    Resumed,
    ServerError,
    ServerEvent,
    SessionEnded,
    TurnEnd,
    Unknown,
)

MAX_TEXT_BYTES = 64 * 1024
# One second of 48 kHz audio: far above any sane chunk, small enough to bound memory.
MAX_AUDIO_BYTES = 96_000
ALLOWED_RATES = frozenset({8000, 16000, 24000, 48000})


class _Invalid(Exception):
    """Internal: a field had the wrong type or value."""


def _text_payload(message: str) -> dict[str, Any] | ProtocolError:
    if len(message) > MAX_TEXT_BYTES:
        return ProtocolError(f"text message of {len(message)} characters exceeds {MAX_TEXT_BYTES}")
    try:
        data = json.loads(message)
    except (json.JSONDecodeError, RecursionError) as exc:
        return ProtocolError(f"malformed JSON: {exc.__class__.__name__}")
    if not isinstance(data, dict):
        return ProtocolError(f"expected a JSON object, got {type(data).__name__}")
    return data


def _audio(message: bytes, *, exact: int | None = None) -> Audio | ProtocolError:
    size = len(message)
    if size == 0:
        return ProtocolError("empty audio message")
    if size % 2:
        return ProtocolError(f"audio message of {size} bytes is not whole 16-bit samples")
    if size > MAX_AUDIO_BYTES:
        return ProtocolError(f"audio message of {size} bytes exceeds {MAX_AUDIO_BYTES}")
    if exact is not None and size != exact:
        return ProtocolError(f"audio frame of {size} bytes; frames are exactly {exact} bytes")
    return Audio(bytes(message))


def _opt_str(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise _Invalid(f"{key} must be a string")
    return value


def _req_str(data: dict[str, Any], key: str) -> str:
    value = _opt_str(data, key)
    if value is None:
        raise _Invalid(f"{key} is required")
    return value


def _connected(data: dict[str, Any]) -> Connected:
    rate = data.get("sampleRate", 16000)
    if isinstance(rate, bool) or not isinstance(rate, int) or rate not in ALLOWED_RATES:
        raise _Invalid(f"sampleRate must be one of {sorted(ALLOWED_RATES)}")
    features = data.get("features", [])
    if not isinstance(features, list) or not all(isinstance(f, str) for f in features):
        raise _Invalid("features must be a list of strings")
    persona = data.get("persona")
    persona_name = None
    if persona is not None:
        if not isinstance(persona, dict):
            raise _Invalid("persona must be an object")
        persona_name = _opt_str(persona, "name")
    return Connected(
        session_id=_opt_str(data, "sessionId"),
        call_id=_opt_str(data, "callId"),
        resume_token=_opt_str(data, "resumeToken"),
        persona_name=persona_name,
        sample_rate=rate,
        features=frozenset(features),
    )


_SERVER_TYPES: dict[str, Callable[[dict[str, Any]], ServerEvent]] = {
    "connected": _connected,
    "agent_ready": lambda _: AgentReady(),
    "agent_start_talking": lambda _: AgentStartTalking(),
    "agent_stop_talking": lambda _: AgentStopTalking(),
    "interruption": lambda _: Interruption(),
    "resumed": lambda d: Resumed(resume_token=_opt_str(d, "resumeToken")),
    "session_ended": lambda d: SessionEnded(reason=_opt_str(d, "reason") or "unspecified"),
    "error": lambda d: ServerError(code=_req_str(d, "code"), message=_opt_str(d, "message") or ""),
}


def parse_server(message: str | bytes) -> ServerEvent:
    """A message the client received, as a typed event."""
    if isinstance(message, bytes | bytearray | memoryview):
        return _audio(bytes(message))
    data = _text_payload(message)
    if isinstance(data, ProtocolError):
        return data
    kind = data.get("type")
    if not isinstance(kind, str):
        return ProtocolError("message has no string 'type'")
    parser = _SERVER_TYPES.get(kind)
    if parser is None:
        return Unknown(kind[:64])
    try:
        return parser(data)
    except _Invalid as exc:
        return ProtocolError(f"{kind}: {exc}")


def parse_client(message: str | bytes, *, frame_bytes: int | None = FRAME_BYTES) -> ClientEvent:
    """A message the server received, as a typed event (the devserver's side)."""
    if isinstance(message, bytes | bytearray | memoryview):
        return _audio(bytes(message), exact=frame_bytes)
    data = _text_payload(message)
    if isinstance(data, ProtocolError):
        return data
    kind = data.get("type")
    try:
        if kind is None and "token" in data:
            return Auth(_req_str(data, "token"))
        if kind == "resume":
            return Resume(_req_str(data, "resumeToken"))
    except _Invalid as exc:
        return ProtocolError(f"{kind or 'auth'}: {exc}")
    if kind == "turn_end":
        return TurnEnd()
    if kind == "end":
        return End()
    if not isinstance(kind, str):
        return ProtocolError("message has no string 'type'")
    return Unknown(kind[:64])


def _dump(data: dict[str, Any]) -> str:
    return json.dumps(data, separators=(",", ":"))


def encode_client(event: Auth | Resume | TurnEnd | End | Audio) -> str | bytes:
    match event:
        case Auth(token=token):
            return _dump({"token": token})
        case Resume(resume_token=token):
            return _dump({"type": "resume", "resumeToken": token})
        case TurnEnd():
            return _dump({"type": "turn_end"})
        case End():
            return _dump({"type": "end"})
        case Audio(pcm=pcm):
            return pcm
    raise TypeError(f"not a client message: {event!r}")


def encode_server(event: ServerEvent) -> str | bytes:
    match event:
        case Connected():
            data: dict[str, Any] = {"type": "connected", "sampleRate": event.sample_rate}
            if event.session_id is not None:
                data["sessionId"] = event.session_id
            if event.call_id is not None:
                data["callId"] = event.call_id
            if event.resume_token is not None:
                data["resumeToken"] = event.resume_token
            if event.persona_name is not None:
                data["persona"] = {"name": event.persona_name}
            data["features"] = sorted(event.features)
            return _dump(data)
        case AgentReady():
            return _dump({"type": "agent_ready"})
        case AgentStartTalking():
            return _dump({"type": "agent_start_talking"})
        case AgentStopTalking():
            return _dump({"type": "agent_stop_talking"})
        case Interruption():
            return _dump({"type": "interruption"})
        case Resumed(resume_token=token):
            return _dump({"type": "resumed"} | ({"resumeToken": token} if token else {}))
        case SessionEnded(reason=reason):
            return _dump({"type": "session_ended", "reason": reason})
        case ServerError(code=code, message=text):
            return _dump({"type": "error", "code": code, "message": text})
        case Audio(pcm=pcm):
            return pcm
    raise TypeError(f"not a server message: {event!r}")
