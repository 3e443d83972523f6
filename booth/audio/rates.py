"""The sample rates the booth handles, once: what a mic may capture at, what the framer may put
out, and so what a device is probed for. Plain data: config and the CLI read it without numpy."""

from __future__ import annotations

from typing import Final

#: Mic (capture) rates the framer resamples from.
INPUT_RATES: Final = (8000, 16000, 22050, 32000, 44100, 48000, 96000)
#: Rates the framer resamples to (the wire's 16 kHz, and playback devices' own).
OUTPUT_RATES: Final = (16000, 24000, 48000)
#: Rates on the wire (every dialect's ``wire_rate``): what capture frames to, playback gets.
WIRE_RATES: Final = (16000, 24000)
#: Every rate a device is asked about.
PROBE_RATES: Final = tuple(sorted({*INPUT_RATES, *OUTPUT_RATES}))
