"""The daemon's int16 PCM helpers in C equal the numpy code they replaced, sample for sample,
at the rails too; they take every PCM buffer the daemon passes and refuse the rest with an
exception (they run in the daemon: a stray read would take the booth down)."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given
from hypothesis import strategies as st

from booth.audio import _pcm

RAILS = np.array([-32768, -32767, -1, 0, 1, 32766, 32767], dtype=np.int16)
samples = st.lists(st.integers(-32768, 32767), max_size=300).map(
    lambda xs: np.array(xs, dtype=np.int16)
)


def forms(x: npt.NDArray[np.int16]) -> list[Any]:
    """The same PCM as every buffer type the daemon passes."""
    raw = x.tobytes()
    return [raw, bytearray(raw), memoryview(raw), x, memoryview(b"\0" + raw)[1:]]


@given(samples)
def test_sum_squares_is_the_exact_integer_sum(x: npt.NDArray[np.int16]) -> None:
    want = int(np.sum(x.astype(np.int64) ** 2))
    for pcm in forms(x):
        assert _pcm.sum_squares(pcm) == want


def test_sum_squares_at_the_rails_and_empty() -> None:
    assert _pcm.sum_squares(b"") == 0
    assert _pcm.sum_squares(np.full(1000, -32768, dtype=np.int16)) == 1000 * 2**30
    assert _pcm.sum_squares(RAILS) == int(np.sum(RAILS.astype(np.int64) ** 2))


@given(samples, st.data())
def test_add_saturating_is_numpys_clipped_sum(x: npt.NDArray[np.int16], data: Any) -> None:
    y = np.array(data.draw(st.lists(st.integers(-32768, 32767), min_size=len(x), max_size=len(x))))
    y = y.astype(np.int16)
    want = np.clip(x.astype(np.int32) + y, -32768, 32767).astype("<i2").tobytes()
    for src in forms(y):
        dst = bytearray(x.tobytes())
        _pcm.add_saturating(dst, src)
        assert bytes(dst) == want
    array = x.copy()
    _pcm.add_saturating(array, y)
    assert array.tobytes() == want


def test_add_saturating_saturates_both_ways_and_writes_through_a_slice() -> None:
    ring = bytearray(np.array([7, 32767, -32768, 32000, -32000, 9], dtype=np.int16).tobytes())
    src = np.array([1, -1, 32767, -32768, 0], dtype=np.int16)
    _pcm.add_saturating(memoryview(ring)[2:10], src[:4])  # samples 1..4 only
    assert np.frombuffer(ring, np.int16).tolist() == [7, 32767, -32768, 32767, -32768, 9]
    _pcm.add_saturating(memoryview(ring)[2:10], np.full(4, 32767, dtype=np.int16))
    assert np.frombuffer(ring, np.int16).tolist() == [7, 32767, -1, 32767, -1, 9]
    _pcm.add_saturating(memoryview(ring)[2:10], np.array([-2, 1, -32768, 0], dtype=np.int16))
    assert np.frombuffer(ring, np.int16).tolist() == [7, 32765, 0, -1, -1, 9]
    _pcm.add_saturating(bytearray(), b"")  # nothing to do


@given(samples, st.integers(1, 20), st.integers(0, 32768))
def test_quiet_units_are_numpys_all_within(x: npt.NDArray[np.int16], unit: int, limit: int) -> None:
    x = x[: len(x) // unit * unit]
    within = (x >= -limit) & (x <= limit)
    want = within.reshape(-1, unit).all(axis=1).astype(np.uint8).tobytes()
    for pcm in forms(x):
        assert _pcm.quiet_units(pcm, unit, limit) == want


def test_quiet_units_edges() -> None:
    x = np.array([100, -100, 101, 0, -101, 0, -32768, 32767], dtype=np.int16)
    assert _pcm.quiet_units(x, 1, 100) == bytes([1, 1, 0, 1, 0, 1, 0, 0])
    assert _pcm.quiet_units(x, 2, 100) == bytes([1, 0, 0, 0])
    assert _pcm.quiet_units(x, 2, 32768) == bytes([1, 1, 1, 1])
    assert _pcm.quiet_units(x, 8, 0) == b"\0"
    assert _pcm.quiet_units(b"", 160, 100) == b""


@given(samples)
def test_to_stereo_is_numpys_repeat(x: npt.NDArray[np.int16]) -> None:
    want = np.repeat(x, 2).astype("<i2").tobytes()
    for pcm in forms(x):
        assert _pcm.to_stereo(pcm) == want


BAD_PCM: list[tuple[Any, type[Exception]]] = [
    (np.zeros(8, dtype=np.float32), TypeError),
    (np.zeros(8, dtype=np.int32), TypeError),  # another item size
    (np.zeros(8, dtype=np.uint16), TypeError),
    (np.zeros(8, dtype=np.uint8), TypeError),  # bytes only as bytes, not uint8 arrays
    (np.zeros(8, dtype=">i2"), TypeError),  # not the native byte order
    (np.zeros((4, 2), dtype=np.int16), TypeError),  # 2-d
    (np.zeros(8, dtype=np.int16)[::2], ValueError),  # strided
    (memoryview(bytes(8))[::2], ValueError),
    ("text", TypeError),
    ([1, 2, 3], TypeError),
    (None, TypeError),
    (b"\x01\x02\x03", ValueError),  # a torn sample
    (bytearray(b"\x01"), ValueError),
    (memoryview(b"\x01\x02\x03"), ValueError),
]


@pytest.mark.parametrize(("pcm", "error"), BAD_PCM)
def test_bad_pcm_is_refused_by_every_function(pcm: Any, error: type[Exception]) -> None:
    with pytest.raises(error):
        _pcm.sum_squares(pcm)
    with pytest.raises(error):
        _pcm.to_stereo(pcm)
    with pytest.raises(error):
        _pcm.quiet_units(pcm, 1, 100)
    with pytest.raises(error):
        _pcm.add_saturating(bytearray(len(pcm) if isinstance(pcm, bytes | bytearray) else 2), pcm)


def test_add_saturating_refuses_a_readonly_or_mismatched_dst_and_leaves_it() -> None:
    src = np.array([1, 2], dtype=np.int16)
    with pytest.raises(TypeError):  # read-only
        _pcm.add_saturating(bytes(4), src)
    with pytest.raises(TypeError):
        _pcm.add_saturating(np.zeros(2, dtype=np.int32), src)
    dst = bytearray(6)
    with pytest.raises(ValueError, match="3 samples, src 2"):
        _pcm.add_saturating(dst, src)
    with pytest.raises(ValueError):
        _pcm.add_saturating(bytearray(3), b"\0\0\0")
    assert dst == bytearray(6)
    with pytest.raises(TypeError):
        _pcm.add_saturating(dst)  # type: ignore[call-arg]


@pytest.mark.parametrize(("unit", "limit"), [(0, 100), (-1, 100), (2, -1), (2, 32769)])
def test_quiet_units_refuses_bad_sizes(unit: int, limit: int) -> None:
    with pytest.raises(ValueError):
        _pcm.quiet_units(bytes(8), unit, limit)


def test_quiet_units_refuses_a_partial_unit() -> None:
    with pytest.raises(ValueError, match="whole units"):
        _pcm.quiet_units(bytes(6), 2, 100)
    with pytest.raises(TypeError):
        _pcm.quiet_units(bytes(8), "2", 100)  # type: ignore[arg-type]
    with pytest.raises(OverflowError):
        _pcm.quiet_units(bytes(8), 2, 1 << 80)
