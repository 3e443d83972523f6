"""Client-side connection state of the voice protocol, sans-I/O (in the manner of h11).

Feed every received WebSocket message to :meth:`ClientProtocol.receive`; it returns the events
to act on, in order. Ask it what to send (:meth:`hello`, :meth:`resume_hello`,
:meth:`turn_end`, :meth:`end`, :meth:`audio`): it only offers extensions the server listed in
``connected.features``. One instance lives for the whole call, across reconnects.
"""

from __future__ import annotations

from enum import Enum

from booth.protocol.codec import encode_client, parse_server
from booth.protocol.messages import (
    FEATURE_END,
    FEATURE_RESUME,
    FEATURE_TURN_END,
    FRAME_BYTES,
    AgentReady,
    Audio,
    Auth,
    Connected,
    End,
    ProtocolError,
    Resume,
    Resumed,
    ServerEvent,
    SessionEnded,
    TurnEnd,
)


class Phase(Enum):
    NEW = "new"
    AUTHENTICATING = "authenticating"
    RESUMING = "resuming"
    OPEN = "open"
    ENDED = "ended"


class ClientProtocol:
    def __init__(self) -> None:
        self.phase = Phase.NEW
        self.session_id: str | None = None
        self.call_id: str | None = None
        self.persona_name: str | None = None
        self.sample_rate = 16000
        self.features: frozenset[str] = frozenset()
        self.end_reason: str | None = None
        self._resume_token: str | None = None
        self._early_ready = False
        self.agent_ready = False

    # ── what to send ──────────────────────────────────────────────────────────

    def hello(self, token: str) -> str:
        """The first message of a new call."""
        self.phase = Phase.AUTHENTICATING
        return str(encode_client(Auth(token)))

    @property
    def can_resume(self) -> bool:
        return self._resume_token is not None and self.phase is not Phase.ENDED

    @property
    def resume_token(self) -> str | None:
        return self._resume_token

    def resume_hello(self) -> str:
        """The first message on a reconnected socket."""
        if self._resume_token is None:
            raise RuntimeError("the server gave no resumeToken; this call cannot be resumed")
        self.phase = Phase.RESUMING
        return str(encode_client(Resume(self._resume_token)))

    def turn_end(self) -> str | None:
        if self.phase is Phase.OPEN and FEATURE_TURN_END in self.features:
            return str(encode_client(TurnEnd()))
        return None

    def end(self) -> str | None:
        if self.phase is Phase.OPEN and FEATURE_END in self.features:
            return str(encode_client(End()))
        return None

    def audio(self, frame: bytes) -> bytes:
        if len(frame) != FRAME_BYTES:
            raise ValueError(f"frames are exactly {FRAME_BYTES} bytes, got {len(frame)}")
        return frame

    @property
    def is_open(self) -> bool:
        return self.phase is Phase.OPEN

    # ── what was received ─────────────────────────────────────────────────────

    def receive(self, message: str | bytes) -> list[ServerEvent]:
        event = parse_server(message)
        match event:
            case Connected():
                return self._on_connected(event)
            case Resumed():
                if self.phase is not Phase.RESUMING:
                    return [ProtocolError("resumed without a resume request")]
                if event.resume_token:
                    self._resume_token = event.resume_token
                self.phase = Phase.OPEN
                return [event]
            case AgentReady():
                if self.phase in (Phase.NEW, Phase.AUTHENTICATING):
                    # Out of order but harmless: deliver it once the call is accepted.
                    self._early_ready = True
                    return []
                self.agent_ready = True
                return [event]
            case Audio():
                if self.phase is not Phase.OPEN:
                    return [ProtocolError(f"audio while {self.phase.value}; dropped")]
                return [event]
            case SessionEnded():
                self.phase = Phase.ENDED
                self.end_reason = event.reason
                return [event]
        return [event]

    def _on_connected(self, event: Connected) -> list[ServerEvent]:
        if self.phase is not Phase.AUTHENTICATING:
            return [ProtocolError(f"connected while {self.phase.value}")]
        self.phase = Phase.OPEN
        self.session_id = event.session_id or self.session_id
        self.call_id = event.call_id or self.call_id
        self.persona_name = event.persona_name or self.persona_name
        self.sample_rate = event.sample_rate
        self.features = event.features
        if event.resume_token:
            self._resume_token = event.resume_token
        elif FEATURE_RESUME not in event.features:
            self._resume_token = None
        if self._early_ready:
            self._early_ready = False
            self.agent_ready = True
            return [event, AgentReady()]
        return [event]

    def mark_ended(self, reason: str) -> None:
        """The call ended locally (cutoff, refused resume): nothing more is sent."""
        self.phase = Phase.ENDED
        self.end_reason = self.end_reason or reason
