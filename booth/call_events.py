"""What a call tells its owner: small frozen events, one class per kind of news.

A :class:`~booth.session.RoleplaySession` (whatever dialect it speaks) reports everything that
happens to a call as one of these, in order, to the callbacks given to ``subscribe``. The daemon's
``Call`` turns them into machine inputs; the SDK-style ``on("personaSpeaking", handler)`` API is a
thin adapter that hands each event's :meth:`payload` to string-named listeners.

Every event carries ``at``, the session clock's reading when it happened, so timings are read
from the events themselves.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar


@dataclass(frozen=True, kw_only=True)
class CallEvent:
    """Base of every call event; ``name`` is the event's name in the SDK-style API."""

    name: ClassVar[str] = ""
    #: The session clock's reading (``time.monotonic`` unless a test gives another clock).
    at: float

    def payload(self) -> dict[str, Any]:
        """The SDK-style dict for ``on(name, handler)`` listeners."""
        return {"at": self.at}


@dataclass(frozen=True, kw_only=True)
class Connecting(CallEvent):
    """``connect()`` started: minting the token, redeeming it, dialling."""

    name: ClassVar[str] = "connecting"


@dataclass(frozen=True, kw_only=True)
class Ready(CallEvent):
    """The persona is on the line; the rep can talk."""

    name: ClassVar[str] = "ready"
    persona_name: str
    call_id: str | None
    session_id: str | None

    def payload(self) -> dict[str, Any]:
        return {"at": self.at, "persona": {"name": self.persona_name}}


@dataclass(frozen=True, kw_only=True)
class PersonaSpeaking(CallEvent):
    """The persona started (``speaking``) or stopped speaking."""

    name: ClassVar[str] = "personaSpeaking"
    speaking: bool
    #: True when the service said so (turn markers); False when guessed from the audio.
    marked: bool = True

    def payload(self) -> dict[str, Any]:
        return {"at": self.at, "speaking": self.speaking}


@dataclass(frozen=True, kw_only=True)
class UserSpeaking(CallEvent):
    """The rep's voice activity, as measured on the frames sent."""

    name: ClassVar[str] = "userSpeaking"
    speaking: bool

    def payload(self) -> dict[str, Any]:
        return {"at": self.at, "speaking": self.speaking}


@dataclass(frozen=True, kw_only=True)
class Interruption(CallEvent):
    """The service cut the persona off: buffered persona audio was dropped."""

    name: ClassVar[str] = "interruption"
    flushed_chunks: int

    def payload(self) -> dict[str, Any]:
        return {"at": self.at, "flushedChunks": self.flushed_chunks}


@dataclass(frozen=True, kw_only=True)
class Transcript(CallEvent):
    """What was said, as text, from a service that sends it (Atoms): ``role`` is ``user`` or
    ``assistant``; ``final`` False for a cumulative in-progress delta of the turn."""

    name: ClassVar[str] = "transcript"
    role: str
    text: str
    final: bool

    def payload(self) -> dict[str, Any]:
        return {"at": self.at, "role": self.role, "text": self.text, "final": self.final}


@dataclass(frozen=True, kw_only=True)
class Reconnecting(CallEvent):
    """The link dropped; the session is trying to get the call back."""

    name: ClassVar[str] = "reconnecting"
    reason: str
    dropped_at: float

    def payload(self) -> dict[str, Any]:
        return {"at": self.at, "reason": self.reason, "droppedAt": self.dropped_at}


@dataclass(frozen=True, kw_only=True)
class Reconnected(CallEvent):
    """The call is back on a new link after ``outage`` seconds."""

    name: ClassVar[str] = "reconnected"
    outage: float
    call_id: str | None

    def payload(self) -> dict[str, Any]:
        return {"at": self.at, "callId": self.call_id, "outageSec": round(self.outage, 3)}


@dataclass(frozen=True, kw_only=True)
class CallFailed(CallEvent):
    """The service or the network reported an error (``code`` is an error code)."""

    name: ClassVar[str] = "error"
    code: str
    message: str

    def payload(self) -> dict[str, Any]:
        return {"at": self.at, "code": self.code, "message": self.message}


@dataclass(frozen=True, kw_only=True)
class Ended(CallEvent):
    """The call is over; always the last event of a session."""

    name: ClassVar[str] = "ended"
    reason: str
    call_id: str | None
    duration: float

    def payload(self) -> dict[str, Any]:
        return {
            "at": self.at,
            "callId": self.call_id,
            "durationSec": round(self.duration, 3),
            "reason": self.reason,
        }


#: Every kind of call event, in the order a call usually tells them.
CALL_EVENT_TYPES: tuple[type[CallEvent], ...] = (
    Connecting,
    Ready,
    PersonaSpeaking,
    UserSpeaking,
    Interruption,
    Transcript,
    Reconnecting,
    Reconnected,
    CallFailed,
    Ended,
)
#: The SDK-style event names, for ``on(name, handler)``.
EVENT_NAMES: tuple[str, ...] = tuple(t.name for t in CALL_EVENT_TYPES)
