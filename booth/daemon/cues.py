"""Short generated tones for call start, reconnecting, call end and error (16 kHz s16le PCM).

Generated rather than shipped as files: nothing to install, and the volume comes from config.
Each note has a 5 ms raised-cosine fade so it starts and stops without a click.
"""

from __future__ import annotations

import functools

import numpy as np

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


def _note(freq: float, seconds: float, rate: int) -> np.ndarray:
    n = round(seconds * rate)
    if freq <= 0:
        return np.zeros(n)
    t = np.arange(n) / rate
    # A little third harmonic makes small booth speakers audible at low volume.
    wave = np.sin(2 * np.pi * freq * t) + 0.2 * np.sin(2 * np.pi * 3 * freq * t)
    fade = min(round(FADE_S * rate), n // 2)
    if fade:
        ramp = 0.5 - 0.5 * np.cos(np.pi * np.arange(fade) / fade)
        wave[:fade] *= ramp
        wave[n - fade :] *= ramp[::-1]
    peak = float(np.max(np.abs(wave)))
    return wave / peak if peak > 0 else wave


@functools.cache
def cue_pcm(cue: Cue, volume: float = 0.3, rate: int = RATE) -> bytes:
    """The cue as mono s16le PCM at ``rate``; ``volume`` 0..1 of full scale."""
    if not 0.0 <= volume <= 1.0:
        raise ValueError(f"cue volume must be within 0..1, got {volume}")
    wave = np.concatenate([_note(f, s, rate) for f, s in SCORES[cue]])
    pcm = np.clip(np.round(wave * volume * 32767.0), -32768, 32767).astype("<i2")
    return pcm.tobytes()
