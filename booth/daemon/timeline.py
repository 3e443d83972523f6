"""The booth's timeline: what a person at the booth would see and hear, as typed events.

``BoothApp.events`` reports each one to the callbacks given to ``subscribe``; the demo prints
them and the tests assert on them. Nothing here drives the booth.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from booth.daemon.summary import CallSummary
from booth.panel.patterns import LedPattern

log = logging.getLogger("booth.daemon")


@dataclass(frozen=True)
class BoothEvent:
    name: ClassVar[str] = ""


@dataclass(frozen=True)
class StateChanged(BoothEvent):
    """The machine changed state (reported after the new state's LED and status are out)."""

    name: ClassVar[str] = "state"
    state: str
    previous: str


@dataclass(frozen=True)
class LedShown(BoothEvent):
    name: ClassVar[str] = "led"
    pattern: LedPattern


@dataclass(frozen=True)
class StatusShown(BoothEvent):
    name: ClassVar[str] = "status"
    text: str


@dataclass(frozen=True)
class ButtonSeen(BoothEvent):
    name: ClassVar[str] = "button"
    kind: str


@dataclass(frozen=True)
class CueQueued(BoothEvent):
    name: ClassVar[str] = "cue"
    cue: str


@dataclass(frozen=True)
class PlaybackFlushed(BoothEvent):
    """Barge-in: the persona's queued audio was dropped."""

    name: ClassVar[str] = "flush"
    dropped: int


@dataclass(frozen=True)
class ScoreArrived(BoothEvent):
    name: ClassVar[str] = "score"
    call_id: str
    score: int


@dataclass(frozen=True)
class SummaryWritten(BoothEvent):
    name: ClassVar[str] = "summary"
    summary: CallSummary


Subscriber = Callable[[BoothEvent], object]


class Timeline:
    """``subscribe(cb)`` returns the unsubscribe function; a failing callback never stops others."""

    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        self._subscribers.append(callback)

        def unsubscribe() -> None:
            if callback in self._subscribers:
                self._subscribers.remove(callback)

        return unsubscribe

    def emit(self, event: BoothEvent) -> None:
        for callback in list(self._subscribers):
            try:
                callback(event)
            except Exception:
                log.exception("timeline subscriber failed on %s", event.name)
