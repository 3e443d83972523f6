"""Generated sound cues: short, clean-edged, the right pitches, at the configured volume, and
the sound the numpy formula they were first written in gives."""

from __future__ import annotations

import numpy as np
import pytest

from booth.daemon.commands import Cue
from booth.daemon.cues import FADE_S, RATE, SCORES, cue_pcm


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


def numpy_cue(cue: Cue, volume: float, rate: int) -> np.ndarray:
    """The cues as first written, in numpy: the reference for the plain-Python version."""
    notes = []
    for freq, seconds in SCORES[cue]:
        n = round(seconds * rate)
        if freq <= 0:
            notes.append(np.zeros(n))
            continue
        t = np.arange(n) / rate
        wave = np.sin(2 * np.pi * freq * t) + 0.2 * np.sin(2 * np.pi * 3 * freq * t)
        fade = min(round(FADE_S * rate), n // 2)
        ramp = 0.5 - 0.5 * np.cos(np.pi * np.arange(fade) / fade)
        wave[:fade] *= ramp
        wave[n - fade :] *= ramp[::-1]
        notes.append(wave / np.max(np.abs(wave)))
    wave = np.concatenate(notes)
    return np.clip(np.round(wave * volume * 32767.0), -32768, 32767).astype(np.int16)


@pytest.mark.parametrize("rate", [16000, 24000, 44100, 48000])
@pytest.mark.parametrize("volume", [0.0, 0.3, 1.0])
@pytest.mark.parametrize("cue", list(Cue))
def test_cue_is_the_numpy_formula_within_one_lsb(cue: Cue, volume: float, rate: int) -> None:
    """Within one step: numpy's sin and cos may round differently from libm's (on this
    machine every sample is the same)."""
    got = np.frombuffer(cue_pcm(cue, volume, rate), dtype=np.int16).astype(np.int32)
    want = numpy_cue(cue, volume, rate).astype(np.int32)
    assert len(got) == len(want)
    assert np.max(np.abs(got - want)) <= 1
