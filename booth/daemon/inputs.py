"""What the booth machine is told: one frozen dataclass per kind of input.

Each input's ``kind`` is the trigger name the machine's table keys on. The daemon makes them from
button gestures, a call's events, the devices and its ticker; the machine gets each with ``now``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal


@dataclass(frozen=True)
class Press:
    kind: ClassVar[str] = "press"


@dataclass(frozen=True)
class Release:
    kind: ClassVar[str] = "release"


@dataclass(frozen=True)
class DoublePress:
    kind: ClassVar[str] = "double_press"


@dataclass(frozen=True)
class CallReady:
    """The session is connected and the persona is there (``ready{persona}``)."""

    persona: str = ""
    call_id: str = ""
    kind: ClassVar[str] = "ready"


@dataclass(frozen=True)
class PersonaSpeaking:
    speaking: bool
    kind: ClassVar[str] = "persona_speaking"


@dataclass(frozen=True)
class UserSpeech:
    """Voice activity from the mic: rep speech keeps an idle call alive."""

    speaking: bool
    kind: ClassVar[str] = "user_speech"


@dataclass(frozen=True)
class CallReconnecting:
    kind: ClassVar[str] = "reconnecting"


@dataclass(frozen=True)
class CallReconnected:
    kind: ClassVar[str] = "reconnected"


@dataclass(frozen=True)
class CallEnded:
    reason: str
    call_id: str = ""
    kind: ClassVar[str] = "ended"


@dataclass(frozen=True)
class CallError:
    code: str
    message: str = ""
    kind: ClassVar[str] = "error"


@dataclass(frozen=True)
class Tick:
    kind: ClassVar[str] = "tick"


@dataclass(frozen=True)
class ScoreReceived:
    score: int
    kind: ClassVar[str] = "score"


@dataclass(frozen=True)
class ScoreGaveUp:
    kind: ClassVar[str] = "score_gave_up"


@dataclass(frozen=True)
class DeviceError:
    code: str  # MIC_*, NO_MIC_AVAILABLE, AUDIO_PLAYBACK_BLOCKED
    message: str = ""
    kind: ClassVar[str] = "device_error"


@dataclass(frozen=True)
class DeviceRestored:
    device: Literal["mic", "speaker"]
    kind: ClassVar[str] = "device_restored"


@dataclass(frozen=True)
class Shutdown:
    kind: ClassVar[str] = "shutdown"


Input = (
    Press
    | Release
    | DoublePress
    | CallReady
    | PersonaSpeaking
    | UserSpeech
    | CallReconnecting
    | CallReconnected
    | CallEnded
    | CallError
    | Tick
    | ScoreReceived
    | ScoreGaveUp
    | DeviceError
    | DeviceRestored
    | Shutdown
)

INPUT_TYPES: tuple[type[Input], ...] = (
    Press,
    Release,
    DoublePress,
    CallReady,
    PersonaSpeaking,
    UserSpeech,
    CallReconnecting,
    CallReconnected,
    CallEnded,
    CallError,
    Tick,
    ScoreReceived,
    ScoreGaveUp,
    DeviceError,
    DeviceRestored,
    Shutdown,
)
