"""Level meter and voice activity hysteresis."""

from __future__ import annotations

import numpy as np
import pytest

from booth.audio.levels import SILENCE_DBFS, VoiceActivity, level_dbfs


def tone(amplitude: float, n: int = 320) -> bytes:
    return (amplitude * np.sin(np.arange(n) * 2 * np.pi / 32)).astype("<i2").tobytes()


def test_level_dbfs() -> None:
    assert level_dbfs(bytes(640)) == SILENCE_DBFS
    assert level_dbfs(np.full(320, 32767, dtype="<i2").tobytes()) == pytest.approx(0, abs=0.01)
    assert level_dbfs(tone(32767 / 10)) == pytest.approx(-23.0, abs=0.1)  # sine: -3 dB - 20


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
