"""The messages of the booth voice WebSocket (docs/protocol.md §3), as typed values.

Secrets (tokens, resume tokens) are excluded from every repr so a logged message is safe.
"""

from __future__ import annotations

from dataclasses import dataclass, field

SAMPLE_RATE = 16000
FRAME_BYTES = 640  # 20 ms of 16 kHz s16le mono: what the client sends, exactly

# Extensions a server may list in `connected.features`; the client uses only those listed.
FEATURE_TURN_END = "turn_end"
FEATURE_END = "end"
FEATURE_RESUME = "resume"
FEATURE_INTERRUPTION = "interruption"

END_REASONS = frozenset(
    {
        "agent_disconnected",
        "room_closed",
        "session_closed",
        "server_shutdown",
        "client_requested",
        "max_duration",
    }
)


# ── server → client ────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class Connected:
    session_id: str | None = None
    call_id: str | None = None
    resume_token: str | None = field(default=None, repr=False)
    persona_name: str | None = None
    sample_rate: int = SAMPLE_RATE
    features: frozenset[str] = frozenset()


@dataclass(frozen=True)
class AgentReady:
    pass


@dataclass(frozen=True)
class AgentStartTalking:
    pass


@dataclass(frozen=True)
class AgentStopTalking:
    pass


@dataclass(frozen=True)
class Interruption:
    pass


@dataclass(frozen=True)
class Resumed:
    resume_token: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class SessionEnded:
    reason: str


@dataclass(frozen=True)
class ServerError:
    code: str
    message: str = ""


@dataclass(frozen=True)
class Transcript:
    """Text of a turn (Atoms): ``final`` False for a cumulative, in-progress delta."""

    role: str  # "user" or "assistant"
    text: str
    final: bool = True


@dataclass(frozen=True)
class Audio:
    """PCM s16le mono at the session rate (either direction)."""

    pcm: bytes = field(repr=False)

    @property
    def samples(self) -> int:
        return len(self.pcm) // 2


@dataclass(frozen=True)
class Unknown:
    """A well-formed message of a type this side does not know: ignored, never fatal."""

    type: str


@dataclass(frozen=True)
class ProtocolError:
    """Input that breaks the protocol: logged and skipped by the receiver. ``limit`` names the
    :mod:`booth.limits` bound it exceeded, if that is what was wrong; ``about`` is the type of
    the message it was (a known type whose fields were wrong), if any."""

    problem: str
    limit: str | None = None
    about: str | None = None


ServerEvent = (
    Connected
    | AgentReady
    | AgentStartTalking
    | AgentStopTalking
    | Interruption
    | Resumed
    | SessionEnded
    | ServerError
    | Transcript
    | Audio
    | Unknown
    | ProtocolError
)


# ── client → server ────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class Auth:
    """First message: `{"token": …}` (connection ticket or seed-003 token)."""

    token: str = field(repr=False)


@dataclass(frozen=True)
class Resume:
    resume_token: str = field(repr=False)


@dataclass(frozen=True)
class TurnEnd:
    pass


@dataclass(frozen=True)
class End:
    pass


@dataclass(frozen=True)
class TextInput:
    """Text in place of speech (Atoms ``input_text.send``)."""

    text: str


@dataclass(frozen=True)
class Reserved:
    """A client message the dialect defines as accepted but without effect (Atoms
    ``input_audio_buffer.commit``, ``session.update``)."""

    type: str


ClientEvent = Auth | Resume | TurnEnd | End | TextInput | Reserved | Audio | Unknown | ProtocolError
