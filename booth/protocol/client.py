"""Client-side connection state of the voice protocol, sans-I/O (in the manner of h11).

Feed every received WebSocket message to :meth:`ClientProtocol.receive`; it returns the events
to act on, in order. Ask it what to send (:meth:`hello`, :meth:`resume_hello`,
:meth:`turn_end`, :meth:`end`, :meth:`audio`): it only offers extensions the server listed in
``connected.features``. One instance lives for the whole call, across reconnects.

This is the booth dialect; the others (:mod:`booth.protocol.dialects`) subclass it and change
what goes on the wire, never the phases.
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
    ServerError,
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
    dialect = "booth"
    connected_type = "connected"  # the message that accepts the call
    resumable = True  # the dialect has resume at all (the server may still not offer it)
    #: The ticket rides in the URL and the service spends it on the upgrade: a dial that fails
    #: after the request went out (a handshake timeout) cannot be retried with the same ticket.
    dial_spends_ticket = False

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
        self.last_error: ServerError | None = None

    # ── what to send ──────────────────────────────────────────────────────────

    def connect_url(self, url: str, token: str) -> str:
        """The URL to dial for ``token``: the booth sends the token as its first message."""
        return url

    def hello(self, token: str) -> str:
        """The first message of a new call."""
        self.phase = Phase.AUTHENTICATING
        return str(encode_client(Auth(token)))

    def opening(self, token: str) -> str | None:
        """What to send first on a new call's socket (None: the dialect sends nothing)."""
        return self.hello(token)

    @property
    def audio_rate(self) -> int:
        """The rate of the audio the booth sends and plays (the wire's, unless the dialect
        resamples at the edge)."""
        return self.sample_rate

    @property
    def frame_bytes(self) -> int:
        """Bytes of one 20 ms mic frame as :meth:`audio` takes it."""
        return FRAME_BYTES

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
        """The PCM of one mic frame as the wire carries it."""
        if len(frame) != self.frame_bytes:
            raise ValueError(f"frames are exactly {self.frame_bytes} bytes, got {len(frame)}")
        return frame

    def audio_message(self, frame: bytes) -> str | bytes:
        """The wire message for one mic frame."""
        return self.audio(frame)

    @property
    def is_open(self) -> bool:
        return self.phase is Phase.OPEN

    # ── what was received ─────────────────────────────────────────────────────

    def parse(self, message: str | bytes) -> ServerEvent:
        return parse_server(message)

    def receive(self, message: str | bytes) -> list[ServerEvent]:
        event = self.parse(message)
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
            case ServerError():
                self.last_error = event
        return [event]

    def closed(self, code: int | None) -> ServerEvent | None:
        """What the link closing means: None for a drop worth recovering from, else how the
        call ended. ``code`` is the close code the service sent (None: no close frame).

        The service closing on purpose right after an ``error`` ends the call with that
        error; a service without resume cannot be recovered from at all.
        """
        if self.phase is Phase.ENDED:
            return SessionEnded(self.end_reason or "session_closed")
        if code is not None and self.last_error is not None:
            return self.last_error
        if code is not None and not self.resumable:
            return SessionEnded(f"closed by the service ({code})")
        return None

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
