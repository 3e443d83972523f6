"""LED patterns as data: which colours light, and how bright, at time t since the pattern began.

Pure and clock-free: the adapter asks ``frame(t)`` and drives the pins. Colours are named
components (``green`` solid plus ``blue`` pulsing, say) so one RGB LED can mix them and a
board of separate LEDs can light each on its own LED.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from booth.wakeups import GRID

ColourName = Literal["red", "green", "blue", "amber", "white"]
COLOURS: tuple[ColourName, ...] = ("red", "green", "blue", "amber", "white")

#: How each named colour mixes on one RGB LED (amber needs less green than red to read as amber).
RGB_MIX: dict[ColourName, tuple[float, float, float]] = {
    "red": (1.0, 0.0, 0.0),
    "green": (0.0, 1.0, 0.0),
    "blue": (0.0, 0.0, 1.0),
    "amber": (1.0, 0.4, 0.0),
    "white": (1.0, 1.0, 1.0),
}


@dataclass(frozen=True)
class Wave:
    """Brightness over time, 0..1: solid, breathe (cosine), blink, or code (N blinks, pause)."""

    kind: Literal["solid", "breathe", "blink", "code"]
    period: float = 1.0  # breathe: full cycle; blink: on + off
    duty: float = 0.5  # blink: fraction of the period that is on
    count: int = 0  # code: blinks per group

    def level(self, t: float) -> float:
        if self.kind == "solid":
            return 1.0
        if self.kind == "breathe":
            return 0.5 - 0.5 * math.cos(2.0 * math.pi * (t % self.period) / self.period)
        if self.kind == "blink":
            return 1.0 if (t % self.period) < self.duty * self.period else 0.0
        # code: N blinks of 0.2 s on / 0.3 s off, then a 1.5 s pause, so N can be counted.
        cycle = self.count * 0.5 + 1.5
        phase = t % cycle
        if phase >= self.count * 0.5:
            return 0.0
        return 1.0 if (phase % 0.5) < 0.2 else 0.0

    @property
    def animated(self) -> bool:
        return self.kind != "solid"

    def next_change(self, t: float) -> float | None:
        """When (after ``t``) the level next needs drawing: a blink's next edge, a
        breathe's next step, never for solid."""
        if self.kind == "solid":
            return None
        if self.kind == "breathe":
            # ~32 steps a cycle is smooth to the eye; 20 frames a second at most (a 1 s
            # breathe: the wake-up grid's step, booth.wakeups), 8 for the 4 s idle breathe.
            return t + min(max(self.period / 32, MIN_STEP), MAX_STEP)
        if self.kind == "blink":
            edges: tuple[float, ...] = (self.duty * self.period, self.period)
            cycle = self.period
        else:
            edges = tuple(e for i in range(self.count) for e in (0.5 * i + 0.2, 0.5 * i + 0.5))
            cycle = self.count * 0.5 + 1.5
            edges = (*edges[:-1], cycle) if edges else (cycle,)
        start = t - t % cycle
        phase = t - start
        return start + next((e for e in edges if e > phase + 1e-9), cycle + edges[0])


SOLID = Wave("solid")
MIN_STEP = GRID
MAX_STEP = 0.125


@dataclass(frozen=True)
class LedPattern:
    """A named pattern: one or more colour components, each with its own wave."""

    name: str
    components: tuple[tuple[ColourName, Wave], ...] = ()
    blinks: int = 0  # error patterns: the blink code

    def frame(self, t: float) -> dict[ColourName, float]:
        """Brightness of each named colour at ``t`` seconds after the pattern started."""
        out: dict[ColourName, float] = {}
        for colour, wave in self.components:
            out[colour] = max(out.get(colour, 0.0), wave.level(t))
        return out

    @property
    def colour(self) -> str:
        """The colours it shows, e.g. ``green+blue``; ``off`` when dark."""
        return "+".join(c for c, _ in self.components) or "off"

    @property
    def animated(self) -> bool:
        return any(w.animated for _, w in self.components)

    def next_change(self, t: float) -> float | None:
        """The soonest time after ``t`` a component changes; None for a steady pattern."""
        times = [w.next_change(t) for _, w in self.components]
        return min((x for x in times if x is not None), default=None)


def rgb_of(frame: dict[ColourName, float]) -> tuple[float, float, float]:
    """Mix a frame onto one RGB LED (sum of components, clipped to 1)."""
    r = g = b = 0.0
    for colour, level in frame.items():
        mr, mg, mb = RGB_MIX[colour]
        r, g, b = r + mr * level, g + mg * level, b + mb * level
    return (min(r, 1.0), min(g, 1.0), min(b, 1.0))


def separate_of(
    frame: dict[ColourName, float], fitted: frozenset[ColourName]
) -> dict[ColourName, float]:
    """Map a frame onto separate LEDs: amber/white light red+green(+blue) when not fitted."""
    out: dict[ColourName, float] = dict.fromkeys(fitted, 0.0)
    for colour, level in frame.items():
        if colour in fitted:
            targets: tuple[ColourName, ...] = (colour,)
        elif colour == "amber":
            targets = ("red", "green")
        elif colour == "white":
            targets = ("red", "green", "blue")
        else:
            targets = ()
        for target in targets:
            if target in fitted:
                out[target] = max(out[target], level)
    return out


# The patterns of the README's "What the rep sees" table.
OFF = LedPattern("off")
IDLE = LedPattern("idle", (("green", Wave("breathe", period=4.0)),))
CONNECTING = LedPattern("connecting", (("amber", Wave("blink", period=1.0)),))
LISTENING = LedPattern("listening", (("green", SOLID),))
PERSONA_SPEAKING = LedPattern(
    "persona_speaking", (("green", SOLID), ("blue", Wave("breathe", period=1.0)))
)
TALKING = LedPattern("talking", (("red", SOLID),))
RECONNECTING = LedPattern("reconnecting", (("amber", Wave("blink", period=0.25)),))
SCORING = LedPattern("scoring", (("white", Wave("breathe", period=1.5)),))


def score(band: ColourName) -> LedPattern:
    """The score shown as its band colour, solid."""
    return LedPattern("score", ((band, SOLID),))


def error(blinks: int) -> LedPattern:
    """Red, ``blinks`` blinks then a pause, repeated: the error class."""
    return LedPattern("error", (("red", Wave("code", count=blinks)),), blinks=blinks)
