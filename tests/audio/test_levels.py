"""Level meter and voice activity hysteresis."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from booth.audio.levels import SILENCE_DBFS, VoiceActivity, level_dbfs, rms
from booth.ops import doctor


def tone(amplitude: float, n: int = 320) -> bytes:
    return (amplitude * np.sin(np.arange(n) * 2 * np.pi / 32)).astype("<i2").tobytes()


def test_level_dbfs() -> None:
    assert level_dbfs(bytes(640)) == SILENCE_DBFS
    assert level_dbfs(np.full(320, 32767, dtype="<i2").tobytes()) == pytest.approx(0, abs=0.01)
    assert level_dbfs(tone(32767 / 10)) == pytest.approx(-23.0, abs=0.1)  # sine: -3 dB - 20


@given(arrays(np.int16, st.integers(0, 2000)))
def test_level_is_the_numpy_formula(x: npt.NDArray[np.int16]) -> None:
    """The exact sum of squares gives numpy's float64 RMS to the bit (its sum is exact too
    below 2**53), so the level meter and doctor read as they did."""
    data = x.astype(np.float64)
    want = float(np.sqrt(np.mean(data * data))) if x.size else 0.0
    assert rms(x.tobytes()) == want
    dbfs = 20.0 * math.log10(want / 32768.0) if want > 0 else -math.inf
    assert level_dbfs(x.tobytes()) == pytest.approx(max(SILENCE_DBFS, dbfs), abs=1e-9)
    assert doctor.level_dbfs(x.tobytes()) == pytest.approx(dbfs, abs=1e-9)


def test_level_at_full_scale_and_of_a_view() -> None:
    rail = np.full(320, -32768, dtype=np.int16).tobytes()
    assert level_dbfs(rail) == 0.0
    assert level_dbfs(memoryview(b"\0" + rail)[1:]) == 0.0
    assert level_dbfs(b"") == SILENCE_DBFS
    assert doctor.level_dbfs(b"") == -math.inf
    with pytest.raises(ValueError):
        level_dbfs(b"\0\0\0")


def test_hysteresis_and_hold() -> None:
    vad = VoiceActivity(on_dbfs=-40, off_dbfs=-50, attack_ms=40, release_ms=100)
    loud, mid, quiet = tone(3000), tone(32767 * 10 ** (-45 / 20) * 1.414), bytes(640)
    assert vad.update(loud) is None  # 20 ms: not yet
    assert vad.update(loud) is True  # 40 ms of voice
    for _ in range(20):  # between the thresholds: stays on
        assert vad.update(mid) is None
    assert vad.speaking
    for _ in range(4):
        assert vad.update(quiet) is None
    assert vad.update(loud) is None  # a word resets the release timer
    for _ in range(4):
        assert vad.update(quiet) is None
    assert vad.update(quiet) is False  # 100 ms of quiet
    for _ in range(20):  # between thresholds: stays off
        assert vad.update(mid) is None


def test_thresholds_must_be_ordered() -> None:
    with pytest.raises(ValueError):
        VoiceActivity(on_dbfs=-50, off_dbfs=-40)
