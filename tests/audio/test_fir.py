"""The framer's C engine refuses bad arguments with an exception (it runs in the daemon: a
crash or a stray read would take the booth down), and a refused push leaves it unchanged."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from booth.audio import _fir

TAPS = np.array([[0.25, 0.5, 0.25]]).tobytes()  # one phase, three taps
GOOD = ((TAPS, 1, 1, 3),)


def chain(
    stages: Any = GOOD,
    frame: int = 4,
    dc_block: bool = False,
    pole: float = 0.995,
    gain: float = 1.0,
) -> _fir.Chain:
    return _fir.Chain(stages, frame, dc_block, pole, gain)


@pytest.mark.parametrize(
    ("stages", "frame", "pole", "gain", "error"),
    [
        ([(TAPS, 1, 1, 3)], 4, 0.995, 1.0, TypeError),  # stages not a tuple
        (("taps",), 4, 0.995, 1.0, TypeError),  # a stage not a tuple
        (((TAPS, 1, 1),), 4, 0.995, 1.0, TypeError),  # too few fields
        (((TAPS, 1, 1, 4),), 4, 0.995, 1.0, ValueError),  # taps shorter than up * k
        (((TAPS, 3, 1, 3),), 4, 0.995, 1.0, ValueError),
        (((TAPS, 0, 1, 3),), 4, 0.995, 1.0, ValueError),  # up, down, k out of range
        (((TAPS, 1, 0, 3),), 4, 0.995, 1.0, ValueError),
        (((TAPS, 1, -1, 3),), 4, 0.995, 1.0, ValueError),
        (((TAPS, 1, 1, 0),), 4, 0.995, 1.0, ValueError),
        (((TAPS, 1 << 40, 1, 3),), 4, 0.995, 1.0, ValueError),
        (((b"", 1 << 20, 1, 1 << 20),), 4, 0.995, 1.0, ValueError),
        (((np.array([1.0, np.nan, 0.0]).tobytes(), 1, 1, 3),), 4, 0.995, 1.0, ValueError),
        (((np.array([1.0, np.inf, 0.0]).tobytes(), 1, 1, 3),), 4, 0.995, 1.0, ValueError),
        (GOOD * 3, 4, 0.995, 1.0, ValueError),  # more stages than the engine takes
        (GOOD, 0, 0.995, 1.0, ValueError),  # frame
        (GOOD, -1, 0.995, 1.0, ValueError),
        (GOOD, 4, 1.0, 1.0, ValueError),  # an unstable pole
        (GOOD, 4, float("nan"), 1.0, ValueError),
        (GOOD, 4, 0.995, float("nan"), ValueError),
        (GOOD, 4, 0.995, -1.0, ValueError),
    ],
)
def test_bad_construction_raises(
    stages: Any, frame: int, pole: float, gain: float, error: type[Exception]
) -> None:
    with pytest.raises(error):
        chain(stages, frame, pole=pole, gain=gain)


@pytest.mark.parametrize(
    ("pcm", "error"),
    [
        (np.zeros(8, dtype=np.float32), TypeError),
        (np.zeros(8, dtype=np.int32), TypeError),
        (np.zeros(8, dtype=np.uint8), TypeError),  # bytes only as bytes, not uint8 arrays
        (np.zeros(8, dtype=">i2"), TypeError),  # not the native byte order
        (np.zeros((4, 2), dtype=np.int16), TypeError),  # 2-d
        ("text", TypeError),
        ([1, 2, 3], TypeError),
        (None, TypeError),
        (b"\x01\x02\x03", ValueError),  # a torn sample
        (memoryview(b"\x01\x02\x03"), ValueError),
    ],
)
def test_bad_push_raises_and_takes_nothing(pcm: Any, error: type[Exception]) -> None:
    x = np.arange(-40, 40, dtype=np.int16) * 400
    engine, fresh = chain(dc_block=True), chain(dc_block=True)
    first = engine.push(x[:30])
    with pytest.raises(error):
        engine.push(pcm)
    assert first + engine.push(x[30:]) == fresh.push(x)


def test_the_engine_is_the_polyphase_sum_rounded_and_framed() -> None:
    """By hand: y[n] = x[n]/4 + x[n-1]/2 + x[n-2]/4 (zeros before the first), rounded half
    to even; frames of 4 come out whole, the rest waits for the next push."""
    engine = chain()
    x = np.array([4, 8, -8, 2, 6, 1], dtype=np.int16)
    # 1, 4, 3, -1.5 -> -2 (even); then 0.5 -> 0 (even) and 3.75 -> 4 wait
    assert np.frombuffer(engine.push(x), dtype=np.int16).tolist() == [1, 4, 3, -2]
    assert engine.push(b"") == b""
    # two zeros in: 0.5 + 1.5 = 2, then 0.25 -> 0
    assert np.frombuffer(engine.push(np.zeros(2, np.int16)), np.int16).tolist() == [0, 4, 2, 0]


def test_huge_input_is_refused_or_done_never_overrun() -> None:
    """Outputs far beyond the inputs (an upsampling stage, frames of one sample) all fit."""
    up = np.full((4, 3), 0.25).tobytes()
    engine = chain(((up, 4, 1, 3),), frame=1)
    out = engine.push(np.full(10_000, 1000, dtype=np.int16))
    assert len(out) == 2 * 40_000
    assert set(np.frombuffer(out, np.int16)[8:].tolist()) == {750}
