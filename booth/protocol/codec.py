"""Parse and serialise booth voice WebSocket messages. Sans-I/O: bytes and str in and out.

Parsing never raises on what a peer sends: malformed JSON, wrong field types, oversize text and
odd-length audio come back as :class:`ProtocolError`, unknown types as :class:`Unknown`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

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

T = TypeVar("T")

MAX_TEXT_BYTES = 64 * 1024
# One second of 48 kHz audio: far above any sane chunk, small enough to bound memory.
MAX_AUDIO_BYTES = 96_000
ALLOWED_RATES = frozenset({8000, 16000, 24000, 48000})


class Invalid(Exception):
    """A field had the wrong type or value (the dialect codecs turn it into ProtocolError)."""


_CONTROL = dict.fromkeys(range(32)) | {127: None}


def clean(text: str, limit: int = 500) -> str:
    """A peer's text made safe for a log line: no control characters, bounded length."""
    return text.translate(_CONTROL)[:limit]


def text_payload(message: str, limit: int = MAX_TEXT_BYTES) -> dict[str, Any] | ProtocolError:
    """A text message as a JSON object, or why it is not one."""
    if len(message) > limit:
        return ProtocolError(f"text message of {len(message)} characters exceeds {limit}")
    try:
        data = json.loads(message)
    except (json.JSONDecodeError, RecursionError) as exc:
        return ProtocolError(f"malformed JSON: {exc.__class__.__name__}")
    if not isinstance(data, dict):
        return ProtocolError(f"expected a JSON object, got {type(data).__name__}")
    return data


def audio_payload(message: bytes, *, exact: int | None = None) -> Audio | ProtocolError:
    """PCM bytes as :class:`Audio`, or why they are not whole, bounded 16-bit samples."""
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


def opt_str(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise Invalid(f"{key} must be a string")
    return value


def req_str(data: dict[str, Any], key: str) -> str:
    value = opt_str(data, key)
    if value is None:
        raise Invalid(f"{key} is required")
    return value


def _connected(data: dict[str, Any]) -> Connected:
    rate = data.get("sampleRate", 16000)
    if isinstance(rate, bool) or not isinstance(rate, int) or rate not in ALLOWED_RATES:
        raise Invalid(f"sampleRate must be one of {sorted(ALLOWED_RATES)}")
    features = data.get("features", [])
    if not isinstance(features, list) or not all(isinstance(f, str) for f in features):
        raise Invalid("features must be a list of strings")
    persona = data.get("persona")
    persona_name = None
    if persona is not None:
        if not isinstance(persona, dict):
            raise Invalid("persona must be an object")
        persona_name = opt_str(persona, "name")
    return Connected(
        session_id=opt_str(data, "sessionId"),
        call_id=opt_str(data, "callId"),
        resume_token=opt_str(data, "resumeToken"),
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
    "resumed": lambda d: Resumed(resume_token=opt_str(d, "resumeToken")),
    "session_ended": lambda d: SessionEnded(
        reason=clean(opt_str(d, "reason") or "unspecified", 64)
    ),
    "error": lambda d: ServerError(
        code=clean(req_str(d, "code"), 64), message=clean(opt_str(d, "message") or "")
    ),
}


def parse_typed(
    message: str, table: Mapping[str, Callable[[dict[str, Any]], T]], limit: int = MAX_TEXT_BYTES
) -> T | Unknown | ProtocolError:
    """A JSON text message by its ``type``: the table's parser for it, :class:`Unknown` for a
    type not in the table, :class:`ProtocolError` (never an exception) for anything broken."""
    data = text_payload(message, limit)
    if isinstance(data, ProtocolError):
        return data
    kind = data.get("type")
    if not isinstance(kind, str):
        return ProtocolError("message has no string 'type'")
    parser = table.get(kind)
    if parser is None:
        return Unknown(kind[:64])
    try:
        return parser(data)
    except Invalid as exc:
        return ProtocolError(f"{kind[:64]}: {exc}")


def parse_server(message: str | bytes) -> ServerEvent:
    """A message the client received, as a typed event."""
    if isinstance(message, bytes | bytearray | memoryview):
        return audio_payload(bytes(message))
    return parse_typed(message, _SERVER_TYPES)


def parse_client(message: str | bytes, *, frame_bytes: int | None = FRAME_BYTES) -> ClientEvent:
    """A message the server received, as a typed event (the devserver's side)."""
    if isinstance(message, bytes | bytearray | memoryview):
        return audio_payload(bytes(message), exact=frame_bytes)
    data = text_payload(message)
    if isinstance(data, ProtocolError):
        return data
    kind = data.get("type")
    try:
        if kind is None and "token" in data:
            return Auth(req_str(data, "token"))
        if kind == "resume":
            return Resume(req_str(data, "resumeToken"))
    except Invalid as exc:
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
