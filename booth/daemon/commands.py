"""What the booth machine decides: one frozen dataclass per kind of command.

The machine never touches a device: ``OpenMic`` means "let captured frames go to the call",
``PlayCue`` means "queue this tone on the speaker". The daemon carries each command out.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from booth.panel.patterns import LedPattern


class Cue(enum.StrEnum):
    START = "start"
    RECONNECT = "reconnect"
    END = "end"
    ERROR = "error"


@dataclass(frozen=True)
class StartCall:
    pass


@dataclass(frozen=True)
class EndCall:
    reason: str  # why the booth ended it: double_press, idle_timeout, max_duration, shutdown, …


@dataclass(frozen=True)
class OpenMic:
    pass


@dataclass(frozen=True)
class CloseMic:
    pass


@dataclass(frozen=True)
class SendTurnEnd:
    pass


@dataclass(frozen=True)
class FlushPlayback:
    pass


@dataclass(frozen=True)
class PlayCue:
    cue: Cue


@dataclass(frozen=True)
class SetLed:
    pattern: LedPattern


@dataclass(frozen=True)
class SetStatus:
    text: str


@dataclass(frozen=True)
class FetchScore:
    call_id: str


@dataclass(frozen=True)
class Log:
    level: Literal["debug", "info", "warning", "error"]
    message: str
    fields: Mapping[str, object] = field(default_factory=dict)


Command = (
    StartCall
    | EndCall
    | OpenMic
    | CloseMic
    | SendTurnEnd
    | FlushPlayback
    | PlayCue
    | SetLed
    | SetStatus
    | FetchScore
    | Log
)
