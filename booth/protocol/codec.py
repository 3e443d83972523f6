"""Parse and serialise booth voice WebSocket messages. Sans-I/O: bytes and str in and out.

Parsing never raises on what a peer sends: malformed JSON, wrong field types, oversize text and
odd-length audio come back as :class:`ProtocolError`, unknown types as :class:`Unknown`. Every
field has a size limit (:mod:`booth.limits`; past it a ProtocolError naming the limit), and text
the server wrote (codes, reasons, messages, names) comes out cleaned: safe to log and show.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from booth import limits
from booth.limits import Limit
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
from booth.servicetext import clean, clean_name, clean_word, is_word

T = TypeVar("T")

MAX_TEXT_BYTES = limits.WS_TEXT.value
MAX_AUDIO_BYTES = limits.AUDIO_MESSAGE.value
ALLOWED_RATES = frozenset({8000, 16000, 24000, 48000})


class Invalid(Exception):
    """A field had the wrong type or value (or broke ``limit``); the dialect codecs turn it
    into a :class:`ProtocolError`."""

    def __init__(self, problem: str, limit: Limit | None = None) -> None:
        super().__init__(problem)
        self.limit = limit


def text_payload(message: str, limit: Limit = limits.WS_TEXT) -> dict[str, Any] | ProtocolError:
    """A text message as a JSON object, or why it is not one."""
    if len(message) > limit.value:
        return ProtocolError(limit.exceeded("text message", len(message)), limit.name)
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
        return ProtocolError(
            limits.AUDIO_MESSAGE.exceeded("audio message", size), limits.AUDIO_MESSAGE.name
        )
    if exact is not None and size != exact:
        return ProtocolError(f"audio frame of {size} bytes; frames are exactly {exact} bytes")
    return Audio(bytes(message))


def opt_str(data: dict[str, Any], key: str, limit: Limit) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise Invalid(f"{key} must be a string")
    if len(value) > limit.value:
        raise Invalid(limit.exceeded(key, len(value)), limit)
    return value


def req_str(data: dict[str, Any], key: str, limit: Limit) -> str:
    value = opt_str(data, key, limit)
    if value is None:
        raise Invalid(f"{key} is required")
    return value


def opt_id(data: dict[str, Any], key: str) -> str | None:
    """An identifier: it becomes a log field and a URL path part, so its alphabet is fixed."""
    value = opt_str(data, key, limits.IDENTIFIER)
    if value is not None and not is_word(value):
        raise Invalid(f"{key} has characters outside [A-Za-z0-9_.:-]")
    return value


def _connected(data: dict[str, Any]) -> Connected:
    rate = data.get("sampleRate", 16000)
    if isinstance(rate, bool) or not isinstance(rate, int) or rate not in ALLOWED_RATES:
        raise Invalid(f"sampleRate must be one of {sorted(ALLOWED_RATES)}")
    features = data.get("features", [])
    if not isinstance(features, list) or not all(isinstance(f, str) for f in features):
        raise Invalid("features must be a list of strings")
    if len(features) > limits.FEATURES.value:
        raise Invalid(limits.FEATURES.exceeded("features", len(features)), limits.FEATURES)
    persona = data.get("persona")
    persona_name = None
    if persona is not None:
        if not isinstance(persona, dict):
            raise Invalid("persona must be an object")
        name = opt_str(persona, "name", limits.NAME)
        persona_name = clean_name(name) if name is not None else None
    return Connected(
        session_id=opt_id(data, "sessionId"),
        call_id=opt_id(data, "callId"),
        resume_token=opt_str(data, "resumeToken", limits.TOKEN),
        persona_name=persona_name,
        sample_rate=rate,
        features=frozenset(clean_word(f) for f in features),
    )


_SERVER_TYPES: dict[str, Callable[[dict[str, Any]], ServerEvent]] = {
    "connected": _connected,
    "agent_ready": lambda _: AgentReady(),
    "agent_start_talking": lambda _: AgentStartTalking(),
    "agent_stop_talking": lambda _: AgentStopTalking(),
    "interruption": lambda _: Interruption(),
    "resumed": lambda d: Resumed(resume_token=opt_str(d, "resumeToken", limits.TOKEN)),
    "session_ended": lambda d: SessionEnded(
        reason=clean_word(opt_str(d, "reason", limits.CODE) or "unspecified")
    ),
    "error": lambda d: ServerError(
        code=clean_word(req_str(d, "code", limits.CODE)),
        message=clean(opt_str(d, "message", limits.MESSAGE) or ""),
    ),
}


def parse_typed(
    message: str, table: Mapping[str, Callable[[dict[str, Any]], T]], limit: Limit = limits.WS_TEXT
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
        return Unknown(clean_word(kind))
    try:
        return parser(data)
    except Invalid as exc:
        word = clean_word(kind)
        return ProtocolError(f"{word}: {exc}", exc.limit.name if exc.limit else None, word)


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
            return Auth(req_str(data, "token", limits.TOKEN))
        if kind == "resume":
            return Resume(req_str(data, "resumeToken", limits.TOKEN))
    except Invalid as exc:
        return ProtocolError(f"{clean_word(kind or 'auth')}: {exc}")
    if kind == "turn_end":
        return TurnEnd()
    if kind == "end":
        return End()
    if not isinstance(kind, str):
        return ProtocolError("message has no string 'type'")
    return Unknown(clean_word(kind))


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
