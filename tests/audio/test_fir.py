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
    channels: int = 1,
) -> _fir.Chain:
    return _fir.Chain(stages, frame, dc_block, pole, gain, channels)


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


@pytest.mark.parametrize("channels", [0, -1, 9])
def test_channels_out_of_range_are_refused(channels: int) -> None:
    with pytest.raises(ValueError, match="channels"):
        chain(channels=channels)


@pytest.mark.parametrize(
    ("pcm", "error"),
    [
        (np.zeros(8, dtype=np.float32), TypeError),
        (np.zeros(8, dtype=np.int32), TypeError),
        (np.zeros(8, dtype=np.uint8), TypeError),  # bytes only as bytes, not uint8 arrays
        (np.zeros(8, dtype=">i2"), TypeError),  # not the native byte order
        (np.zeros((4, 2), dtype=np.int16), ValueError),  # 2-d with two channels, not one
        (np.zeros((2, 2, 1), dtype=np.int16), TypeError),  # 3-d
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


def test_channels_are_mixed_to_their_mean_rounded_half_up() -> None:
    """By hand, with no stages (the mix goes straight to the output): halves round up, also
    below zero (-1.5 -> -1), thirds to the nearest, the rails stay the rails."""
    rows = [
        ([1, 2], 2),
        ([-1, -2], -1),
        ([3, -4], 0),  # -0.5 -> 0
        ([-32768, -32768], -32768),
        ([32767, 32767], 32767),
        ([32767, -32768], 0),
    ]
    stereo = chain((), frame=1, channels=2)
    pcm = np.array([v for row, _ in rows for v in row], dtype=np.int16)
    assert np.frombuffer(stereo.push(pcm), np.int16).tolist() == [want for _, want in rows]
    three = chain((), frame=1, channels=3)
    pcm = np.array([1, 0, 0, 2, 0, 0, -1, 0, 0, -2, 0, 0, -3, 0, 0], dtype=np.int16)
    assert np.frombuffer(three.push(pcm), np.int16).tolist() == [0, 1, 0, -1, -1]


def test_interleaved_bytes_columns_and_strided_frames_are_the_same_input() -> None:
    """Two channels as interleaved bytes, a 1-d array, a 2-d array (a column a channel,
    C or Fortran order) and a strided 2-d view give the same frames."""
    rng = np.random.default_rng(4)
    left, right = (rng.integers(-32768, 32768, 500).astype(np.int16) for _ in range(2))
    frames = np.column_stack((left, right))
    want = chain(dc_block=True, channels=2).push(frames.reshape(-1))
    assert len(want) == 2 * 500 // 4 * 4
    wide = np.zeros((500, 5), dtype=np.int16)
    wide[:, 1], wide[:, 3] = left, right
    for pcm in (frames.tobytes(), frames, np.asfortranarray(frames), wide[:, 1::2]):
        assert chain(dc_block=True, channels=2).push(pcm) == want


@pytest.mark.parametrize(
    "pcm",
    [
        np.zeros(5, dtype=np.int16),  # not a whole number of frames
        b"\0" * 6,
        np.zeros((4, 3), dtype=np.int16),  # three channels, not two
    ],
)
def test_partial_frames_are_refused_and_take_nothing(pcm: Any) -> None:
    x = np.arange(-40, 40, dtype=np.int16) * 400
    engine, fresh = chain(channels=2), chain(channels=2)
    first = engine.push(x[:30])
    with pytest.raises(ValueError):
        engine.push(pcm)
    assert first + engine.push(x[30:]) == fresh.push(x)
