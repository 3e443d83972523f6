"""Short generated tones for call start, reconnecting, call end and error (16 kHz s16le PCM).

Generated rather than shipped as files: nothing to install, and the volume comes from config.
Each note has a 5 ms raised-cosine fade so it starts and stops without a click. Plain
Python (math, array): a cue is computed once per volume and rate, and cached.
"""

from __future__ import annotations

import functools
import math
from array import array

from booth.daemon.commands import Cue
from booth.protocol.messages import SAMPLE_RATE as RATE

FADE_S = 0.005

# (frequency Hz or 0 for a gap, seconds): rising for start, falling for end, low for error.
SCORES: dict[Cue, tuple[tuple[float, float], ...]] = {
    Cue.START: ((660.0, 0.08), (0.0, 0.03), (880.0, 0.12)),
    Cue.RECONNECT: ((520.0, 0.07), (0.0, 0.07), (520.0, 0.07)),
    Cue.END: ((880.0, 0.1), (660.0, 0.1), (440.0, 0.16)),
    Cue.ERROR: ((300.0, 0.12), (0.0, 0.06), (300.0, 0.12), (0.0, 0.06), (300.0, 0.12)),
}


def _note(freq: float, seconds: float, rate: int) -> list[float]:
    n = round(seconds * rate)
    if freq <= 0:
        return [0.0] * n
    w1, w3 = 2 * math.pi * freq, 2 * math.pi * 3 * freq
    # A little third harmonic makes small booth speakers audible at low volume.
    wave = [math.sin(w1 * (i / rate)) + 0.2 * math.sin(w3 * (i / rate)) for i in range(n)]
    fade = min(round(FADE_S * rate), n // 2)
    for i in range(fade):
        ramp = 0.5 - 0.5 * math.cos(math.pi * i / fade)
        wave[i] *= ramp
        wave[n - 1 - i] *= ramp
    peak = max(map(abs, wave), default=0.0)
    return [x / peak for x in wave] if peak > 0 else wave


@functools.cache
def cue_pcm(cue: Cue, volume: float = 0.3, rate: int = RATE) -> bytes:
    """The cue as mono s16le PCM at ``rate`` (array's native int16: every target booth runs
    on is little-endian); ``volume`` 0..1 of full scale."""
    if not 0.0 <= volume <= 1.0:
        raise ValueError(f"cue volume must be within 0..1, got {volume}")
    pcm = array(
        "h",
        (
            max(-32768, min(32767, round(x * volume * 32767.0)))
            for freq, seconds in SCORES[cue]
            for x in _note(freq, seconds, rate)
        ),
    )
    return pcm.tobytes()
