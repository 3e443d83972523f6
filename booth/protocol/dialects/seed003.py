"""The seed-003 dialect: the raw voice WebSocket exactly as seed 003 publishes it, no more.

- REST: ``POST /api/v1/sdk/token`` with the API key and no body → ``{"token", "ws_url"}``.
- WebSocket: the client's first message is ``{"token"}``; the server sends ``connected``
  (bare: no call id, no features), ``agent_ready``, ``session_ended {reason}`` and
  ``error {code, message}``; audio is binary 640-byte frames (20 ms of 16 kHz Int16) both ways.
- The client ends a call by closing the socket. There is no resume, no turn end, no turn
  markers, no call id and so no score: the booth handles each of those on purpose.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from booth import limits
from booth.protocol.client import ClientProtocol
from booth.protocol.codec import (
    Invalid,
    audio_payload,
    opt_str,
    parse_typed,
    req_str,
    text_payload,
)
from booth.protocol.messages import (
    FRAME_BYTES,
    AgentReady,
    Audio,
    Auth,
    ClientEvent,
    Connected,
    ProtocolError,
    ServerError,
    ServerEvent,
    SessionEnded,
    Unknown,
)
from booth.servicetext import clean, clean_word

TOKEN_PATH = "/api/v1/sdk/token"  # noqa: S105 (a path, not a secret)
END_REASONS = frozenset({"agent_disconnected", "session_closed", "server_shutdown"})


_SERVER: dict[str, Callable[[dict[str, Any]], ServerEvent]] = {
    # The seed defines no field of `connected`: whatever else came is not relied on.
    "connected": lambda _: Connected(),
    "agent_ready": lambda _: AgentReady(),
    "session_ended": lambda d: SessionEnded(
        clean_word(opt_str(d, "reason", limits.CODE) or "unspecified")
    ),
    "error": lambda d: ServerError(
        clean_word(req_str(d, "code", limits.CODE)),
        clean(opt_str(d, "message", limits.MESSAGE) or ""),
    ),
}


def parse_server(message: str | bytes) -> ServerEvent:
    if isinstance(message, bytes | bytearray | memoryview):
        return audio_payload(bytes(message))
    return parse_typed(message, _SERVER)


class Seed003Protocol(ClientProtocol):
    """The booth's client side: only the four control messages and binary frames."""

    dialect = "seed003"
    resumable = False

    def parse(self, message: str | bytes) -> ServerEvent:
        return parse_server(message)


class Seed003ServerCodec:
    """The devserver's side: refuses to say anything the seed does not define."""

    def encode(self, event: ServerEvent) -> list[str | bytes]:
        match event:
            case Connected():
                return ['{"type":"connected"}']
            case AgentReady():
                return ['{"type":"agent_ready"}']
            case SessionEnded(reason=reason):
                return [json.dumps({"type": "session_ended", "reason": reason})]
            case ServerError(code=code, message=text):
                return [json.dumps({"type": "error", "code": code, "message": text})]
            case Audio(pcm=pcm):
                return [pcm]
        return []

    def parse(self, message: str | bytes) -> ClientEvent:
        if isinstance(message, bytes | bytearray | memoryview):
            return audio_payload(bytes(message), exact=FRAME_BYTES)
        data = text_payload(message)
        if isinstance(data, ProtocolError):
            return data
        kind = data.get("type")
        if kind is None and "token" in data:
            try:
                return Auth(req_str(data, "token", limits.TOKEN))
            except Invalid as exc:
                return ProtocolError(f"auth: {exc}")
        if not isinstance(kind, str):
            return ProtocolError("message has no string 'type'")
        return Unknown(kind[:64])  # turn_end, end, resume…: not in the seed
