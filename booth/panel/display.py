"""What the LEDs show for a booth state: the pattern per state, the error blink codes, the
score bands. Pure, like ``patterns``; the machine asks ``led_for`` on every state change."""

from __future__ import annotations

from booth.errors import (
    ACCOUNT_CODES,
    MIC_CODES,
    NETWORK_OR_SERVICE,
    REQUEST_CODES,
    SPEAKER_CODES,
)
from booth.panel import patterns
from booth.panel.patterns import ColourName, LedPattern

#: Blink count per error class: how many red blinks an operator counts on the LED.
ERROR_CLASSES: tuple[tuple[int, str, frozenset[str]], ...] = (
    (1, "network or service", NETWORK_OR_SERVICE),
    (2, "microphone", MIC_CODES),
    (3, "speaker", SPEAKER_CODES),
    (4, "account (needs a person)", ACCOUNT_CODES),
    (5, "drill or request", REQUEST_CODES),
)
OTHER_ERROR_BLINKS = 6

#: The pattern of each booth state (by the state's name) that shows one pattern throughout.
_STATE_PATTERNS: dict[str, LedPattern] = {
    "idle": patterns.IDLE,
    "connecting": patterns.CONNECTING,
    "listening": patterns.LISTENING,
    "talking": patterns.TALKING,
    "reconnecting": patterns.RECONNECTING,
    "scoring": patterns.SCORING,
    "stopped": patterns.OFF,
}


def error_blinks(code: str) -> int:
    for blinks, _label, codes in ERROR_CLASSES:
        if code in codes:
            return blinks
    return OTHER_ERROR_BLINKS


def score_band(score: int) -> ColourName:
    """Green from 75, amber from 50, red below."""
    if score >= 75:
        return "green"
    if score >= 50:
        return "amber"
    return "red"


def led_for(state: str, *, persona_speaking: bool = False, error_code: str = "") -> LedPattern:
    """The pattern for ``state``: listening shows the persona speaking, error its blink code."""
    if state == "listening" and persona_speaking:
        return patterns.PERSONA_SPEAKING
    if state == "error":
        return patterns.error(error_blinks(error_code))
    return _STATE_PATTERNS[state]


def score_led(score: int) -> LedPattern:
    """The score shown in its band's colour."""
    return patterns.score(score_band(score))
