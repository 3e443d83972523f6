"""Press / release / double-press / hold from raw button edges with timestamps. Pure.

Pin factories disagree on debounce and hold (lgpio filters glitches in the kernel, the
native factory polls, the mock factory does neither), so the booth does its own from the
edges: the adapter passes every edge with the time it saw it, and calls ``settle`` after
the bounce window so an edge swallowed by the debounce cannot leave the state wrong.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ButtonKind = Literal["press", "release", "double_press", "hold"]


@dataclass(frozen=True)
class ButtonEvent:
    kind: ButtonKind
    at: float


class ButtonDetector:
    """Debounced button state and gestures.

    A press within ``double_press`` seconds of the previous press is reported as
    ``double_press`` instead of ``press`` (the first press has already acted; ptt must not
    wait to find out whether a second one follows). A third quick press is a plain press.
    """

    def __init__(self, bounce: float = 0.02, double_press: float = 0.4, hold: float = 1.0) -> None:
        self.bounce = bounce
        self.double_press = double_press
        self.hold = hold
        self.pressed = False
        self._last_edge = float("-inf")
        self._last_press: float | None = None
        self._last_was_double = False
        self._hold_sent = True

    def edge(self, pressed: bool, at: float, *, settled: bool = False) -> list[ButtonEvent]:
        """A raw edge (or a level read by ``settle``). Returns the gestures it completes."""
        if pressed == self.pressed:
            return []
        if not settled and at - self._last_edge < self.bounce:
            return []  # contact bounce; the adapter calls settle() once the window has passed
        self.pressed = pressed
        self._last_edge = at
        if not pressed:
            return [ButtonEvent("release", at)]
        quick = self._last_press is not None and at - self._last_press <= self.double_press
        double = quick and not self._last_was_double
        self._last_press = at
        self._last_was_double = double
        self._hold_sent = False
        return [ButtonEvent("double_press" if double else "press", at)]

    def settle(self, level: bool, at: float) -> list[ButtonEvent]:
        """The pin's real level once the bounce window is over."""
        return self.edge(level, max(at, self._last_edge + self.bounce), settled=True)

    def settle_due(self) -> float:
        """When a ``settle`` read is meaningful after the last accepted edge."""
        return self._last_edge + self.bounce

    def tick(self, at: float) -> list[ButtonEvent]:
        """Report ``hold`` once the button has been down ``hold`` seconds."""
        last = self._last_press
        if self.pressed and not self._hold_sent and last is not None and at - last >= self.hold:
            self._hold_sent = True
            return [ButtonEvent("hold", at)]
        return []
