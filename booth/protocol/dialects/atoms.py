"""The Atoms dialect: the Smallest Atoms Agent WebSocket, as its public spec (July 2026) has it.

- REST: ``POST /atoms/v1/conversation/register-call`` with the API key and ``{"agent_id",
  "mode", "variables"}`` → 201 ``{"status": true, "data": {"access_token": "wct_…",
  "expires_in": 30, "sample_rate"}}`` (single use); errors ``{"status": false, "errors": […]}``.
  Afterwards ``GET /atoms/v1/conversation/{callId}``: status, duration, transcript (no score).
- WebSocket ``/atoms/v1/agent/connect?token=wct_…``: every message is JSON, audio is base64
  PCM16 mono at the rate ``session.created`` names (fixed at 24000 with a ``wct_`` token).
  The client sends nothing before ``session.created``.
- Turns are decided by the service's voice detection; ``input_audio_buffer.commit`` is accepted
  but has no effect, so a push-to-talk booth keeps streaming silence while the button is up.

The booth's audio runs at :data:`RATE`. Should ``session.created`` name another rate, this
module resamples at the edge (with the framer), both ways, so the rest of the booth never sees it.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from booth import limits
from booth.audio.framer import Framer
from booth.limits import Limit
from booth.protocol.client import ClientProtocol, Phase
from booth.protocol.codec import (
    ALLOWED_RATES,
    MAX_AUDIO_BYTES,
    Invalid,
    audio_payload,
    opt_id,
    opt_str,
    parse_typed,
    req_str,
)
from booth.protocol.messages import (
    AgentReady,
    AgentStartTalking,
    AgentStopTalking,
    Audio,
    ClientEvent,
    Connected,
    End,
    Interruption,
    ProtocolError,
    Reserved,
    ServerError,
    ServerEvent,
    SessionEnded,
    TextInput,
    Transcript,
)
from booth.servicetext import clean, clean_word

RATE = 24000  # with a wct_ token the service fixes the rate at 24 kHz
REGISTER_PATH = "/atoms/v1/conversation/register-call"
CONNECT_PATH = "/atoms/v1/agent/connect"
CONVERSATION_PATH = "/atoms/v1/conversation/"
MAX_TEXT = Limit(
    "ATOMS_TEXT_CHARS",
    limits.WS_MESSAGE.value,
    "chars",
    "every Atoms message is JSON; output_audio.delta carries up to AUDIO_MESSAGE_BYTES of PCM "
    "as base64 (4/3 larger), so the link's own message limit is the bound",
)
TRANSCRIPT = Limit(
    "TRANSCRIPT_CHARS", 4000, "chars", "a turn's text, cumulative; a minute of speech"
)
CLOSE_REASONS = frozenset({"client_requested", "websocket_closed", "ended"})
ROLES = frozenset({"user", "assistant"})
FATAL_CLOSE = 4000  # a setup or auth failure: `error`, then this close code


# ── REST, sans-I/O ──────────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class Registration:
    access_token: str = field(repr=False)
    expires_in: int
    sample_rate: int


def register_body(agent_id: str, variables: dict[str, str] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"agent_id": agent_id, "mode": "webcall"}
    if variables:
        body["variables"] = variables
    return body


def parse_registration(body: Any) -> Registration:
    """The 201 body of register-call; :class:`Invalid` if it is not what the spec promises."""
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, dict) or body.get("status") is not True:
        raise Invalid("register-call answered without {status: true, data: {…}}")
    token = req_str(data, "access_token", limits.TOKEN)
    if not token.startswith("wct_"):
        raise Invalid("access_token is not a wct_ token")
    expires, rate = data.get("expires_in", 30), data.get("sample_rate", RATE)
    if isinstance(expires, bool) or not isinstance(expires, int) or expires <= 0:
        raise Invalid("expires_in must be a positive integer")
    if isinstance(rate, bool) or rate not in ALLOWED_RATES:
        raise Invalid(f"sample_rate must be one of {sorted(ALLOWED_RATES)}")
    return Registration(token, expires, rate)


def error_text(body: Any) -> str | None:
    """The message of an ``{"status": false, "errors": [...]}`` body, cleaned."""
    errors = body.get("errors") if isinstance(body, dict) else None
    if not isinstance(errors, list):
        return None
    texts = [clean(e, 200) for e in errors[:5] if isinstance(e, str)]
    return "; ".join(texts) or None


def connect_url(api_url: str, token: str) -> str:
    """The Agent WebSocket URL on the same host as ``api_url`` (http → ws, https → wss)."""
    base = api_url.rstrip("/")
    if base.startswith("https://"):
        base = "wss://" + base[len("https://") :]
    elif base.startswith("http://"):
        base = "ws://" + base[len("http://") :]
    return f"{base}{CONNECT_PATH}?token={quote(token, safe='')}"


def conversation_path(call_id: str) -> str:
    if not call_id or any(c in call_id for c in "/?#%"):
        raise ValueError("callId must be a plain identifier")
    return CONVERSATION_PATH + call_id


# ── the WebSocket: shared parsing ───────────────────────────────────────────────────


def _b64_audio(data: dict[str, Any]) -> Audio | ProtocolError:
    text = req_str(data, "audio", MAX_TEXT)
    if len(text) > MAX_AUDIO_BYTES * 4 // 3 + 4:
        return ProtocolError(
            limits.AUDIO_MESSAGE.exceeded("audio (base64)", len(text) * 3 // 4),
            limits.AUDIO_MESSAGE.name,
        )
    try:
        pcm = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return ProtocolError("audio is not valid base64")
    return audio_payload(pcm)


def _dump(data: dict[str, Any]) -> str:
    return json.dumps(data, separators=(",", ":"))


def _rate(data: dict[str, Any]) -> int:
    rate = data.get("sample_rate")
    if isinstance(rate, bool) or not isinstance(rate, int) or rate not in ALLOWED_RATES:
        raise Invalid(f"sample_rate must be one of {sorted(ALLOWED_RATES)}")
    channels = data.get("channels")
    if channels != 1:
        raise Invalid("channels must be 1 (the booth plays mono)")
    return rate


def _req_id(data: dict[str, Any], key: str) -> str:
    value = opt_id(data, key)
    if value is None:
        raise Invalid(f"{key} is required")
    return value


def _transcript(data: dict[str, Any], final: bool) -> Transcript:
    role = req_str(data, "role", limits.CODE)
    if role not in ROLES:
        raise Invalid("role must be 'user' or 'assistant'")
    return Transcript(role, clean(req_str(data, "text", TRANSCRIPT), TRANSCRIPT.value), final)


def _error(data: dict[str, Any]) -> ServerError:
    code = data.get("code")
    if isinstance(code, int) and not isinstance(code, bool):
        code = str(code)  # an HTTP status: the spec sends it as a string, tolerate a number
    if not isinstance(code, str) or not code:
        raise Invalid("code is required")
    if len(code) > limits.CODE.value:
        raise Invalid(limits.CODE.exceeded("code", len(code)), limits.CODE)
    return ServerError(clean_word(code), clean(opt_str(data, "message", limits.MESSAGE) or ""))


_SERVER: dict[str, Callable[[dict[str, Any]], ServerEvent]] = {
    "session.created": lambda d: Connected(
        session_id=_req_id(d, "session_id"),
        call_id=_req_id(d, "call_id"),
        sample_rate=_rate(d),
    ),
    "output_audio.delta": _b64_audio,
    "agent_start_talking": lambda _: AgentStartTalking(),
    "agent_stop_talking": lambda _: AgentStopTalking(),
    "interruption": lambda _: Interruption(),
    "transcript": lambda d: _transcript(d, True),
    "transcript.delta": lambda d: _transcript(d, False),
    "error": _error,
    "session.closed": lambda d: SessionEnded(clean_word(req_str(d, "reason", limits.CODE))),
}


def parse_server(message: str | bytes) -> ServerEvent:
    if isinstance(message, bytes | bytearray | memoryview):
        return ProtocolError("binary message: Atoms sends audio as output_audio.delta JSON")
    return parse_typed(message, _SERVER, MAX_TEXT)


# ── the booth's side ────────────────────────────────────────────────────────────────


class _Converter:
    """Resamples a stream at the edge when the service's rate is not the booth's."""

    def __init__(self, in_rate: int, out_rate: int) -> None:
        self._framer = Framer(in_rate, out_rate, frame_samples=out_rate // 100)

    def __call__(self, pcm: bytes) -> bytes:
        return b"".join(self._framer.push(pcm))


class AtomsProtocol(ClientProtocol):
    """JSON events only; the token travels in the URL, so there is no first message."""

    dialect = "atoms"
    connected_type = "session.created"
    resumable = False
    dial_spends_ticket = True  # wct_ tokens are single use, spent by the upgrade

    def __init__(self, booth_rate: int = RATE) -> None:
        super().__init__()
        self.booth_rate = booth_rate
        self.sample_rate = booth_rate
        self.transcript: list[Transcript] = []
        self._to_wire: _Converter | None = None
        self._from_wire: _Converter | None = None

    def connect_url(self, url: str, token: str) -> str:
        return url if "?token=" in url else f"{url}?token={quote(token, safe='')}"

    def opening(self, token: str) -> str | None:
        self.phase = Phase.AUTHENTICATING
        return None  # the token went in the URL

    def hello(self, token: str) -> str:
        raise RuntimeError("Atoms has no first message: use opening()")

    @property
    def frame_bytes(self) -> int:
        return self.booth_rate // 50 * 2

    @property
    def audio_rate(self) -> int:
        return self.booth_rate

    def parse(self, message: str | bytes) -> ServerEvent:
        return parse_server(message)

    def receive(self, message: str | bytes) -> list[ServerEvent]:
        events = super().receive(message)
        out: list[ServerEvent] = []
        for event in events:
            match event:
                case Connected(sample_rate=rate):
                    self._converters(rate)
                    # session.created means "streaming can begin": the persona is ready too.
                    self.agent_ready = True
                    out += [event, AgentReady()]
                    continue
                case Audio(pcm=pcm) if self._from_wire is not None:
                    pcm = self._from_wire(pcm)
                    if pcm:
                        out.append(Audio(pcm))
                    continue
                case Transcript() if event.final:
                    self.transcript.append(event)
            out.append(event)
        return out

    def _converters(self, rate: int) -> None:
        if rate == self.booth_rate:
            self._to_wire = self._from_wire = None
        else:
            self._to_wire = _Converter(self.booth_rate, rate)
            self._from_wire = _Converter(rate, self.booth_rate)

    def audio(self, frame: bytes) -> bytes:
        pcm = super().audio(frame)
        return self._to_wire(pcm) if self._to_wire is not None else pcm

    def audio_message(self, frame: bytes) -> str | bytes:
        pcm = base64.b64encode(self.audio(frame)).decode()
        return _dump({"type": "input_audio_buffer.append", "audio": pcm})

    def turn_end(self) -> str | None:
        # Accepted but without effect today (the spec reserves it for push-to-talk): sent so a
        # booth benefits the day it works; the silence that follows is what ends the turn now.
        return _dump({"type": "input_audio_buffer.commit"}) if self.phase is Phase.OPEN else None

    def end(self) -> str | None:
        return _dump({"type": "session.close"}) if self.phase is Phase.OPEN else None

    def text(self, text: str) -> str | None:
        """``input_text.send``: text in place of speech (the reply still comes as audio)."""
        if self.phase is not Phase.OPEN or not text:
            return None
        return _dump({"type": "input_text.send", "text": text})


# ── the devserver's side ────────────────────────────────────────────────────────────


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds")


class AtomsServerCodec:
    """What ``booth devserver`` speaks on ``/atoms/v1/agent/connect``; ``clock`` stamps the
    ``timestamp`` of the talking events."""

    def __init__(self, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._clock = clock

    def encode(self, event: ServerEvent) -> list[str | bytes]:
        match event:
            case Connected():
                return [
                    _dump(
                        {
                            "type": "session.created",
                            "session_id": event.session_id,
                            "call_id": event.call_id,
                            "sample_rate": event.sample_rate,
                            "channels": 1,
                        }
                    )
                ]
            case Audio(pcm=pcm):
                audio = base64.b64encode(pcm).decode()
                return [_dump({"type": "output_audio.delta", "audio": audio})]
            case AgentStartTalking():
                return [_dump({"type": "agent_start_talking", "timestamp": _iso(self._clock())})]
            case AgentStopTalking():
                return [_dump({"type": "agent_stop_talking", "timestamp": _iso(self._clock())})]
            case Interruption():
                return [_dump({"type": "interruption"})]
            case Transcript(role=role, text=text, final=final):
                kind = "transcript" if final else "transcript.delta"
                return [_dump({"type": kind, "role": role, "text": text})]
            case ServerError(code=code, message=text):
                return [_dump({"type": "error", "code": code, "message": text})]
            case SessionEnded(reason=reason):
                return [_dump({"type": "session.closed", "reason": reason})]
        return []  # agent_ready, resumed: Atoms has no such message

    def parse(self, message: str | bytes) -> ClientEvent:
        if isinstance(message, bytes | bytearray | memoryview):
            return ProtocolError("binary messages are not defined; send input_audio_buffer.append")
        return parse_typed(message, _CLIENT, MAX_TEXT)


def _append(data: dict[str, Any]) -> Audio | ProtocolError:
    if not isinstance(data.get("audio"), str) or not data["audio"]:
        raise Invalid("audio is required")
    return _b64_audio(data)


def _text_input(data: dict[str, Any]) -> TextInput:
    text = req_str(data, "text", TRANSCRIPT)
    if not text:
        raise Invalid("text must not be empty")
    return TextInput(text[:4000])


_CLIENT: dict[str, Callable[[dict[str, Any]], ClientEvent]] = {
    "input_audio_buffer.append": _append,
    "input_audio_buffer.commit": lambda _: Reserved("input_audio_buffer.commit"),
    "session.update": lambda _: Reserved("session.update"),
    "input_text.send": _text_input,
    "session.close": lambda _: End(),
}
