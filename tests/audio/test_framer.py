"""The fixed-point framer: exact against a plain int64 reference, chunking-invariant,
saturating, with exact frame sizes; its filters meet the pass- and stop-band targets."""

from __future__ import annotations

import itertools
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from booth.audio.framer import Framer, _shipped, plan, shipped_pairs
from booth.audio.framer_design import design, prototype, reference_resample
from booth.audio.rates import INPUT_RATES, OUTPUT_RATES, WIRE_RATES
from booth.protocol.dialects import TRAITS

RATE_PAIRS = [(i, o) for i in INPUT_RATES for o in OUTPUT_RATES if i != o]


def _frames_array(frames: list[bytes]) -> np.ndarray:
    return np.frombuffer(b"".join(frames), dtype="<i2")


@pytest.mark.parametrize(("in_rate", "out_rate"), RATE_PAIRS)
def test_matches_int64_reference(in_rate: int, out_rate: int) -> None:
    rng = np.random.default_rng(in_rate + out_rate)
    x = rng.integers(-32768, 32768, size=in_rate // 10).astype(np.int16)
    x[:50] = 32767  # full-scale steps make the filter overshoot: saturation is exercised
    x[50:100] = -32768
    framer = Framer(in_rate, out_rate, frame_samples=16)
    got = _frames_array(framer.push(x.tobytes()))
    ref = reference_resample(framer.stages, x)
    assert got.size > 0
    assert np.array_equal(got, ref[: got.size])


@pytest.mark.parametrize(
    ("in_rate", "out_rate", "block"),
    [(48000, 16000, 960), (44100, 16000, 882), (44100, 16000, 1001), (16000, 48000, 320)],
)
def test_long_stream_in_blocks_matches_int64_reference(
    in_rate: int, out_rate: int, block: int
) -> None:
    """Two seconds in steady blocks: each stage's buffer fills and moves its history back to
    the front many times over, and the frames still equal the plain int64 reference."""
    x = np.random.default_rng(block).integers(-32768, 32768, size=2 * in_rate).astype(np.int16)
    framer = Framer(in_rate, out_rate)
    got = _frames_array([f for i in range(0, x.size, block) for f in framer.push(x[i : i + block])])
    ref = reference_resample(framer.stages, x)
    assert got.size > out_rate
    assert np.array_equal(got, ref[: got.size])


def test_short_and_general_paths_agree_whatever_comes_in() -> None:
    """Whole-sample blocks take a short path; torn bytes, memoryviews and 2-d arrays the
    general one. Mixed, with blocks of two frames, of part of a frame and of exactly one,
    the frames still equal the int64 reference and come out one frame each."""
    x = np.random.default_rng(15).integers(-32768, 32768, size=48000).astype(np.int16)
    framer = Framer(48000, 16000)
    feeds: list[bytes | memoryview | np.ndarray] = []
    at = 0
    for size, kind in [(1920, "array"), (1000, "bytes"), (961, "torn"), (1, "bytes")] * 5 + [
        (960, "view"),
        (960, "2d"),
        (960, "array"),
    ] * 5:
        block = x[at : at + size]
        at += size
        if kind == "array":
            feeds.append(block)
        elif kind == "2d":
            feeds.append(block.reshape(-1, 1))
        elif kind == "view":
            feeds.append(memoryview(block.tobytes()))
        elif kind == "bytes":
            feeds.append(block.tobytes())
        else:  # a block that ends half way through a sample, then the other half
            raw = block.tobytes()
            feeds += [raw[:-1], raw[-1:]]
    frames = [f for pcm in feeds for f in framer.push(pcm)]
    assert {len(f) for f in frames} == {640}
    got = _frames_array(frames)
    ref = reference_resample(framer.stages, x[:at])
    assert got.size == -(-at // 3) // 320 * 320  # output n needs inputs up to 3n: all frames out
    assert np.array_equal(got, ref[: got.size])
    assert framer.frames_out == len(frames)


def test_passthrough_at_same_rate() -> None:
    x = np.arange(-500, 500, dtype=np.int16)
    framer = Framer(16000, 16000, frame_samples=100)
    assert np.array_equal(_frames_array(framer.push(x)), x)


SIGNAL = np.random.default_rng(3).integers(-32768, 32768, size=9600).astype(np.int16)


@settings(max_examples=60, deadline=None)
@given(
    rate=st.sampled_from([44100, 48000, 22050, 8000]),
    out_rate=st.sampled_from([16000, 24000]),
    cuts=st.lists(st.integers(0, 2 * SIGNAL.size), max_size=30),
    as_bytes=st.booleans(),
    dc_block=st.booleans(),
    gain_db=st.sampled_from([0.0, -6.0, 12.0]),
)
def test_chunking_invariance(
    rate: int, out_rate: int, cuts: list[int], as_bytes: bool, dc_block: bool, gain_db: float
) -> None:
    """However the input is split (even mid-sample, for bytes), the frames are identical."""
    whole = Framer(rate, out_rate, dc_block=dc_block, gain_db=gain_db).push(SIGNAL.tobytes())
    framer = Framer(rate, out_rate, dc_block=dc_block, gain_db=gain_db)
    got: list[bytes] = []
    if as_bytes:
        data = SIGNAL.tobytes()
        bounds = sorted({0, len(data), *(c for c in cuts if c < len(data))})
        for a, b in itertools.pairwise(bounds):
            got += framer.push(data[a:b])
    else:
        bounds = sorted({0, SIGNAL.size, *(c // 2 for c in cuts)})
        for a, b in itertools.pairwise(bounds):
            got += framer.push(SIGNAL[a:b])
    assert got == whole
    assert got and all(len(f) == 640 for f in got)


@pytest.mark.parametrize("rate", [48000, 44100])
@pytest.mark.parametrize(("dc_block", "gain_db"), [(True, 0.0), (True, -6.0), (False, 12.0)])
def test_steady_20ms_blocks_with_post_processing_match_the_whole(
    rate: int, dc_block: bool, gain_db: float
) -> None:
    """The mic's usual blocks (one frame each, the short path) give the frames one push does,
    also when an odd block in between sends them the long way for a while."""
    whole = Framer(rate, dc_block=dc_block, gain_db=gain_db).push(SIGNAL.tobytes())
    framer = Framer(rate, dc_block=dc_block, gain_db=gain_db)
    block = rate // 50
    cuts = [*range(0, 4 * block, block), 4 * block + 7, *range(5 * block + 7, SIGNAL.size, block)]
    got: list[bytes] = []
    for a, b in itertools.pairwise([*cuts, SIGNAL.size]):
        got += framer.push(SIGNAL[a:b])
    assert got == whole and len(got) == len(whole) > 5


@settings(max_examples=40, deadline=None)
@given(
    rate=st.sampled_from([48000, 44100, 16000]),
    gain_db=st.floats(0.0, 40.0),
    level=st.sampled_from([32767, -32768]),
    period=st.integers(2, 200),
)
def test_saturation(rate: int, gain_db: float, level: int, period: int) -> None:
    """Full-scale square waves and heavy gain never wrap around: outputs clip at the rails."""
    n = rate // 10
    x = np.where((np.arange(n) // period) % 2 == 0, level, -level - (level < 0)).astype(np.int16)
    framer = Framer(rate, gain_db=gain_db, frame_samples=160)
    out = _frames_array(framer.push(x))
    assert out.size > 0
    ref = x[: out.size]
    if rate != 16000:
        ref = reference_resample(framer.stages, x)[: out.size]
        if gain_db == 0.0:
            assert np.array_equal(out, ref)
        # The sign of every sample survives amplification (no int16 wrap-around).
        big = np.abs(ref.astype(np.int32)) > 1000
        assert np.all(np.sign(out[big]) == np.sign(ref[big]))
    # Where the amplified signal would pass full scale, it clips at the rails. (A square above
    # 8 kHz is removed by the anti-alias filter, so it may never get there.)
    if np.abs(ref.astype(np.float64)).max() * 10 ** (gain_db / 20) > 32767 * 1.05:
        assert out.max() == 32767 or out.min() == -32768


def test_frames_are_exact_and_remainder_is_carried() -> None:
    framer = Framer(48000)
    # Output n needs inputs up to 3n (the filter is causal): 957 inputs make 319 outputs.
    assert framer.push(np.zeros(957, dtype=np.int16)) == []
    frames = framer.push(np.zeros(1, dtype=np.int16))
    assert [len(f) for f in frames] == [640]
    assert framer.frames_out == 1


@pytest.mark.parametrize("channels", [2, 3, 8])
def test_channels_are_downmixed_to_their_mean_rounded_half_up(channels: int) -> None:
    """Interleaved frames, as an array, a 2-d array and bytes torn mid-frame, give what
    their mean (rounded half up) gives as mono."""
    rng = np.random.default_rng(channels)
    frames = rng.integers(-32768, 32768, size=(4800, channels)).astype(np.int16)
    total = frames.astype(np.int32).sum(axis=1)
    mixed = ((total * 2 + channels) // (2 * channels)).astype(np.int16)
    want = Framer(48000).push(mixed)
    assert len(want) == 5
    assert Framer(48000, channels=channels).push(frames.reshape(-1)) == want
    assert Framer(48000, channels=channels).push(frames) == want
    framer, data = Framer(48000, channels=channels), frames.tobytes()
    cuts = [0, 1, 2 * channels + 1, 1001, 5000, len(data)]
    assert [f for a, b in itertools.pairwise(cuts) for f in framer.push(data[a:b])] == want


def test_the_run_time_path_never_imports_numpy() -> None:
    """A fresh interpreter makes a Framer for every shipped pair and pushes PCM through each,
    mono and stereo, as bytes, bytearrays and torn memoryviews: numpy (~13 MB of the
    daemon's RSS) is never loaded."""
    code = """
import sys
from booth.audio.framer import Framer, shipped_pairs
pairs = shipped_pairs()
for in_rate, out_rate in pairs:
    for channels in (1, 2):
        framer = Framer(in_rate, out_rate, channels=channels, dc_block=True, gain_db=6.0)
        block = bytes(range(256)) * (in_rate // 50 * channels * 2 // 256) + b"\\x01"
        frames = framer.push(block) + framer.push(bytearray(block))
        frames += [*framer.push(memoryview(block)[:-3]), framer.push_bytes(block)]
        assert b"".join(frames), (in_rate, out_rate, channels)
print(len(pairs), "numpy" in sys.modules)
"""
    done = subprocess.run(
        [sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [str(len(shipped_pairs())), "False"]


def test_dc_block_removes_offset() -> None:
    x = (8000 + 3000 * np.sin(np.arange(48000) * 2 * np.pi * 440 / 48000)).astype(np.int16)
    plain = _frames_array(Framer(48000).push(x))
    blocked = _frames_array(Framer(48000, dc_block=True).push(x))
    assert abs(plain[-8000:].mean() - 8000) < 50
    assert abs(blocked[-8000:].mean()) < 50
    assert blocked[-8000:].std() == pytest.approx(plain[-8000:].std(), rel=0.05)


def test_gain_scales() -> None:
    x = (1000 * np.sin(np.arange(48000) * 2 * np.pi * 300 / 48000)).astype(np.int16)
    plain = _frames_array(Framer(48000).push(x)).astype(float)
    louder = _frames_array(Framer(48000, gain_db=6.0206).push(x)).astype(float)
    assert np.abs(louder - 2 * plain).max() <= 1.0


@pytest.mark.parametrize(
    "kwargs",
    [{"in_rate": 11025}, {"in_rate": 48000, "out_rate": 12345}, {"in_rate": 48000, "channels": 0}],
)
def test_bad_arguments_are_refused(kwargs: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        Framer(**kwargs)


def test_wrong_dtype_is_refused_and_loses_nothing() -> None:
    framer = Framer(48000)
    with pytest.raises(TypeError):
        framer.push(np.zeros(10, dtype=np.float32))  # type: ignore[arg-type]
    assert framer.push(np.zeros(960, dtype=np.int16)) == Framer(48000).push(
        np.zeros(960, dtype=np.int16)
    )


def test_source_index_tracks_delay() -> None:
    framer = Framer(48000)
    # An impulse at input n shows up (peak) at output n/3 + delay.
    x = np.zeros(4800, dtype=np.int16)
    x[1500] = 30000
    out = _frames_array(framer.push(x))
    peak = int(np.argmax(out))
    assert peak == 500 + framer.delay
    assert framer.source_index(peak) == pytest.approx(1500)


@pytest.mark.parametrize("in_rate", [48000, 44100])
def test_alias_rejection_and_ripple_meet_the_targets(in_rate: int) -> None:
    """Tones from 8.5 kHz to the input Nyquist fold into the 16 kHz output at least 80 dB
    down; tones over 0.1–7 kHz pass within 0.1 dB of each other (the bench's measurement,
    on a coarser grid)."""
    from booth.bench.audio import alias_levels, available_methods, passband_gains

    framer = available_methods()["framer"]
    aliases = alias_levels(framer, in_rate, step_hz=331.0)
    gains = [g for _, g in passband_gains(framer, in_rate, step_hz=300.0)]
    assert max(level for _, level in aliases) <= -80.0
    assert max(gains) - min(gains) <= 0.1


@pytest.mark.parametrize(("in_rate", "out_rate"), [(48000, 16000), (24000, 16000), (16000, 48000)])
def test_sharp_stage_taps_meet_the_targets(in_rate: int, out_rate: int) -> None:
    """The designed (rounded) taps on a 5 Hz grid: stop band 80 dB down from 0.53125 of the
    lower rate, pass band to 0.4375 of it within 0.1 dB."""
    (stage,) = plan(in_rate, out_rate)
    proto = prototype(stage)
    rate = in_rate * stage.up
    low = min(in_rate, out_rate)
    k = np.arange(proto.size)

    def gain_db(freqs: np.ndarray) -> np.ndarray:
        resp = np.abs(np.exp(-2j * np.pi * np.outer(freqs, k) / rate) @ proto)
        return 20 * np.log10(np.maximum(resp, 1e-12))

    passband = gain_db(np.arange(0.0, 0.4375 * low + 1, 5.0))
    assert gain_db(np.arange(0.53125 * low, rate / 2, 5.0)).max() <= -80.0
    assert passband.max() - passband.min() <= 0.1
    assert abs(passband[0]) < 1e-3  # unity gain at DC


def test_the_shipped_taps_are_the_design_for_every_pair_the_booth_runs() -> None:
    """booth/data/framer_taps.bin is what ``design`` makes now (rerun scripts/framer-taps
    after changing the design), and covers every mic -> wire and wire -> device pair."""
    for dialect in TRAITS.values():
        assert dialect.wire_rate in WIRE_RATES
    for in_rate, out_rate in shipped_pairs():
        shipped, designed = _shipped(in_rate, out_rate), design(in_rate, out_rate)
        assert shipped is not None, (in_rate, out_rate)
        assert len(shipped) == len(designed)
        for got, want in zip(shipped, designed, strict=True):
            for field in ("up", "down", "width", "q", "length"):
                assert getattr(got, field) == getattr(want, field)
            assert got.taps == want.taps
    assert _shipped(8000, 22050) is None  # not a pair the booth runs: designed when asked


def test_push_bytes_is_the_frames_joined() -> None:
    framer, joined = Framer(16000, 48000, frame_samples=48), Framer(16000, 48000, frame_samples=48)
    for chunk in np.array_split(SIGNAL, 7):
        assert joined.push_bytes(chunk) == b"".join(framer.push(chunk))
    assert joined.frames_out == framer.frames_out > 0


def _signal(style: str, n: int, seed: int) -> np.ndarray:
    """Full-scale noise, rails-to-rails squares (the filters overshoot: saturation), or
    isolated full-scale impulses on silence."""
    rng = np.random.default_rng(seed)
    if style == "noise":
        return rng.integers(-32768, 32768, size=n).astype(np.int16)
    if style == "square":
        period = int(rng.integers(1, 60))
        return np.where((np.arange(n) // period) % 2 == 0, 32767, -32768).astype(np.int16)
    x = np.zeros(n, dtype=np.int16)
    if n:
        x[rng.integers(0, n, size=n // 50 + 1)] = rng.choice([32767, -32768])
    return x


@settings(max_examples=150, deadline=None)
@given(
    pair=st.sampled_from(shipped_pairs()),
    style=st.sampled_from(["noise", "square", "impulses"]),
    seed=st.integers(0, 2**32 - 1),
    length_ms=st.integers(0, 60),
    cuts=st.lists(st.floats(0.0, 1.0), max_size=12),
    frame=st.sampled_from([1, 48, 320, 777]),
    dc_block=st.booleans(),
    gain_db=st.sampled_from([0.0, -6.0, 12.0, 40.0]),
)
def test_every_shipped_pair_matches_the_reference_however_chunked(
    pair: tuple[int, int],
    style: str,
    seed: int,
    length_ms: int,
    cuts: list[float],
    frame: int,
    dc_block: bool,
    gain_db: float,
) -> None:
    """Random full-scale input in random pieces, with and without the DC blocker and gain:
    every frame out equals ``reference_resample``, and every frame the input completes is
    out (none held back)."""
    in_rate, out_rate = pair
    x = _signal(style, in_rate * length_ms // 1000, seed)
    framer = Framer(in_rate, out_rate, frame_samples=frame, dc_block=dc_block, gain_db=gain_db)
    bounds = sorted({0, x.size, *(int(c * x.size) for c in cuts)})
    got = _frames_array([f for a, b in itertools.pairwise(bounds) for f in framer.push(x[a:b])])
    ref = reference_resample(framer.stages, x, dc_block=dc_block, gain_db=gain_db)
    assert got.size == ref.size // frame * frame
    assert np.array_equal(got, ref[: got.size])
    assert framer.frames_out == got.size // frame


@pytest.mark.parametrize("dc_block", [False, True])
def test_reference_post_stages_are_the_recursion(dc_block: bool) -> None:
    """The DC blocker and gain of ``reference_resample``, written out for a stage-less plan
    (16 kHz in and out): y = (x - x_prev) + 0.995 * y_prev, times the gain, rounded half
    to even, saturated. The engine's bits are held to this."""
    x = np.array([0, 1000, 1000, -32768, 32767, 5, 5, 5, -3, 0], dtype=np.int16)
    gain = 10 ** (6.0 / 20)
    want, x_prev, y_prev = [], 0.0, 0.0
    for v in x.astype(float):
        y = (v - x_prev) + 0.995 * y_prev if dc_block else v
        x_prev, y_prev = v, y
        want.append(min(32767, max(-32768, round(y * gain))))
    assert reference_resample((), x, dc_block=dc_block, gain_db=6.0).tolist() == want
    framer = Framer(16000, 16000, frame_samples=1, dc_block=dc_block, gain_db=6.0)
    assert _frames_array(framer.push(x)).tolist() == want


def test_strided_misaligned_and_bytelike_input_is_the_same_samples() -> None:
    """A strided array, a buffer at an odd address, a bytearray and a memoryview of int16
    give what the same samples in a plain array give."""
    x = SIGNAL[:4800]
    want = Framer(48000).push(x)
    doubled = np.repeat(x, 2)[::2]  # a view with a stride of two samples
    assert not doubled.flags.c_contiguous
    odd = memoryview(b"\0" + x.tobytes())[1:]  # its data at an odd address
    for pcm in (doubled, odd, bytearray(x.tobytes()), memoryview(x.tobytes()).cast("h")):
        assert Framer(48000).push(pcm) == want
