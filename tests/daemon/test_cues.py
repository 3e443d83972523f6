"""Generated sound cues: short, clean-edged, the right pitches, at the configured volume."""

from __future__ import annotations

import numpy as np
import pytest

from booth.daemon.commands import Cue
from booth.daemon.cues import RATE, cue_pcm


def samples(cue: Cue, volume: float = 0.3) -> np.ndarray:
    return np.frombuffer(cue_pcm(cue, volume), dtype="<i2").astype(np.float64)


def dominant_hz(x: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.argmax(spectrum) * RATE / len(x))


@pytest.mark.parametrize("cue", list(Cue))
def test_cue_is_short_loud_enough_and_clickless(cue: Cue) -> None:
    x = samples(cue, 0.5)
    assert 0.1 <= len(x) / RATE <= 0.6
    assert 0.4 * 32767 <= np.max(np.abs(x)) <= 0.5 * 32767 + 1
    assert abs(x[0]) < 200 and abs(x[-1]) < 200  # faded: no click at either end
    assert len(cue_pcm(cue)) % 2 == 0


def test_start_rises_and_end_falls() -> None:
    start = samples(Cue.START)
    end = samples(Cue.END)
    assert dominant_hz(start[: int(0.08 * RATE)]) == pytest.approx(660, abs=15)
    assert dominant_hz(start[-int(0.12 * RATE) :]) == pytest.approx(880, abs=15)
    assert dominant_hz(end[: int(0.1 * RATE)]) == pytest.approx(880, abs=15)
    assert dominant_hz(end[-int(0.16 * RATE) :]) == pytest.approx(440, abs=15)


def test_cues_differ_and_volume_scales() -> None:
    assert len({cue_pcm(c) for c in Cue}) == len(Cue)
    assert not np.any(samples(Cue.ERROR, 0.0))
    loud, quiet = samples(Cue.ERROR, 1.0), samples(Cue.ERROR, 0.1)
    assert np.max(np.abs(loud)) == pytest.approx(10 * np.max(np.abs(quiet)), rel=0.01)
    with pytest.raises(ValueError, match="volume"):
        cue_pcm(Cue.START, 1.5)
