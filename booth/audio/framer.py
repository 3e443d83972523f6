"""Fixed-point resampler and framer: any supported mic rate in, exact int16 frames out.

Sans-I/O and deterministic. The rate change is one or two polyphase FIR stages with integer
taps (``Stage``): an integer or small ratio (48 kHz -> 16 kHz is 3:1, 24 -> 16 kHz is 2:3)
is one sharp stage; a ratio with a large numerator (44.1 kHz -> 16 kHz is 160:441) is a
cheap wide-transition stage to 3/2 of the lower rate, then the sharp 2:3 stage. The
arithmetic is integer throughout: int16 samples times integer taps, summed exactly, with
no rounding between stages; only the final sum is divided by 2**(sum of the stages' tap
fraction bits), rounded half to even and saturated to int16. Filter history and the output
remainder are carried across calls, so the frames are bit-identical however the input is
chunked.

Why the sums run in float64: every partial sum is an integer multiple of 2**-q below 2**16
(checked when a plan is made: the worst case is under 2**53 units), so float64 holds each
one exactly and the result is the same integer arithmetic as int64 in any summation order;
float64 lets numpy hand a stage to BLAS as one matrix product. ``reference_resample`` below
is a plain int64 implementation that the tests hold the framer to.

Optional stages, applied per whole output frame (so they are chunking-invariant too): a
one-pole DC blocker (~13 Hz corner) and a gain, then rounding and saturation again.
"""

from __future__ import annotations

import functools
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt

from booth.audio.rates import INPUT_RATES, OUTPUT_RATES, WIRE_RATES

# Pass band to 0.4375·lower rate (7 kHz at 16 kHz out), stop band from 0.53125·lower rate
# (8.5 kHz): tones above 8.5 kHz cannot alias into the band; 8–8.5 kHz folds above 7.5 kHz.
PASS_EDGE: Final = 0.4375
STOP_EDGE: Final = 0.53125
# The sharp stage is designed minimax (below) to these, after its taps are rounded.
# Ripple is a linear error: 0.08 dB peak to peak already caps the SNR against an ideal
# resampler at 44 dB on speech; 0.01 dB keeps it above 60 dB for ~15 % more taps.
RIPPLE_TARGET_DB: Final = 0.01  # peak to peak over the pass band (budget 0.1 dB)
STOP_TARGET_DB: Final = 85.0  # worst stop-band gain, negated (budget 80 dB)
# Tap fraction bits. Q15 rounding alone leaves a -70 dB floor over ~120 taps; Q20 keeps the
# sharp stage within 1 dB of its design. The wide stage has ~30 taps a phase and a 90 dB
# Kaiser design, for which Q16 suffices; 15 + 16 + 20 bits of magnitude stay under 2**53.
SHARP_Q: Final = 20
WIDE_Q: Final = 16
WIDE_ATTENUATION_DB: Final = 90.0
# A stage with a numerator above this is split (see plan()): its single-stage matrix would
# be mostly zeros.
MAX_SHARP_UP: Final = 4
# Outputs per matrix column group: small keeps the zero taps of the banded matrix few,
# large keeps BLAS efficient; 8 is the fastest here for 48 -> 16 kHz.
_GROUP_TARGET: Final = 8
_EXACT_LIMIT: Final = 2**53
_DC_POLE: Final = 0.995
_LITTLE_ENDIAN: Final = sys.byteorder == "little"
# Rounding without a float -> int16 cast (the slowest numpy call a block made): adding
# 1.5 * 2**52 to a float64 below 2**51 in magnitude rounds it half to even (IEEE's default
# mode) to a whole number that sits, in two's complement, in the low bits of the mantissa.
# Saturating there (the bounds are whole numbers too) leaves the int16 result in the low
# 16 bits of each float64: a strided int16 view reads it, with no conversion at all.
_MAGIC: Final = 1.5 * 2.0**52
# 0-d operands and the raw ufunc: a Python float operand and np.clip's wrapper each cost
# more than the arithmetic itself.
_MAGIC0: Final = np.array(_MAGIC)
_LO: Final = np.array(_MAGIC - 32768.0)
_HI: Final = np.array(_MAGIC + 32767.0)
_LOW16: Final = 0 if _LITTLE_ENDIAN else 3  # where a float64's low 16 bits are, in int16s
_PCM: Final = np.dtype("<i2")
_INT16: Final = np.dtype(np.int16)
try:
    from numpy._core.umath import clip as _clip  # type: ignore[attr-defined,unused-ignore]
except ImportError:  # numpy < 2
    from numpy.core.umath import clip as _clip  # type: ignore[attr-defined,no-redef,unused-ignore]

Int16Array = npt.NDArray[np.int16]
IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


def _round_saturate(acc: FloatArray) -> None:
    """acc (exact sums over 2**q) rounded half to even and saturated to int16, in place:
    afterwards ``_low16(acc)`` holds the results."""
    np.add(acc, _MAGIC0, out=acc)
    _clip(acc, _LO, _HI, out=acc)


def _low16(acc: FloatArray) -> Int16Array:
    """The int16 view of a float64 array that ``_round_saturate`` has been through."""
    view: Int16Array = acc.view(np.int16)[_LOW16::4]
    return view


@dataclass(frozen=True, eq=False)
class Stage:
    """One polyphase FIR stage: ``up``/``down`` and ``taps[p, k]`` in units of 2**-q.

    Output n is ``sum_k taps[p, k] * x[j - k]`` with ``j = n*down // up`` the newest input
    it uses and ``p = n*down % up`` its phase. ``length`` is the prototype's length before
    it was split into phases (odd, linear phase: its delay is (length-1)/2 prototype samples).
    """

    up: int
    down: int
    taps: IntArray
    q: int
    length: int

    @property
    def delay(self) -> float:
        """Group delay in this stage's output samples."""
        return (self.length - 1) / 2 / self.down


# -- filter design ----------------------------------------------------------------------


def _minimax_lowpass(n: int, rate: float, f_pass: float, f_stop: float) -> FloatArray:
    """Odd-length linear-phase lowpass, equiripple-like (Lawson's iteratively reweighted
    least squares): ``RIPPLE_TARGET_DB`` against ``STOP_TARGET_DB`` weighting."""
    m = (n - 1) // 2
    grid = np.concatenate((np.linspace(0.0, f_pass, 6 * m), np.linspace(f_stop, rate / 2, 12 * m)))
    in_pass = grid <= f_pass
    basis = np.cos(np.outer(2 * np.pi * grid / rate, np.arange(m + 1)))
    want = in_pass.astype(np.float64)
    delta_pass = 10 ** (RIPPLE_TARGET_DB / 40) - 1  # half the peak-to-peak ripple
    importance = np.where(in_pass, 1.0, delta_pass / 10 ** (-STOP_TARGET_DB / 20))
    weight = np.full(grid.size, 1.0 / grid.size)
    coef = np.zeros(m + 1)
    for _ in range(30):
        wb = basis * weight[:, None]
        coef = np.linalg.solve(basis.T @ wb, wb.T @ want)
        err = np.abs(basis @ coef - want) * importance
        weight *= err
        weight /= weight.sum()
    return np.concatenate((coef[:0:-1] / 2, coef[:1], coef[1:] / 2))


def _kaiser_lowpass(
    rate: float, f_pass: float, f_stop: float, atten: float, gain: float
) -> FloatArray:
    width = 2 * math.pi * (f_stop - f_pass) / rate
    n = math.ceil((atten - 7.95) / (2.285 * width)) + 1
    n += 1 - n % 2  # odd: linear phase about a whole prototype sample
    cutoff = (f_pass + f_stop) / 2 / rate
    t = np.arange(n) - (n - 1) / 2
    proto: FloatArray = 2 * cutoff * np.sinc(2 * cutoff * t) * np.kaiser(n, 0.1102 * (atten - 8.7))
    return proto * gain


def _response_db(proto: FloatArray, rate: float) -> tuple[FloatArray, FloatArray]:
    """(frequencies, gain dB) on a grid 64 points per tap-length: finer than any lobe.

    An FFT, not a matrix of complex exponentials: that was 9 MB for 139 taps, and glibc
    keeps freed blocks that size in the heap, so the daemon's RSS kept them too."""
    n = 1 << (64 * proto.size - 1).bit_length()
    gain = np.abs(np.fft.rfft(proto, n))
    freqs = np.asarray(np.fft.rfftfreq(n, 1.0 / rate), dtype=np.float64)
    return freqs, np.asarray(20 * np.log10(np.maximum(gain, 1e-12)), dtype=np.float64)


def _split(proto: FloatArray, up: int, q: int) -> IntArray:
    """A prototype's phases as integers in units of 2**-q, DC gain scaled to exactly 1.

    No residue is forced onto a tap to make a phase sum exactly 2**q: for a minimax design
    that moves one tap by the pass-band ripple (~0.005) and lifts the stop band by 40 dB.
    Plain rounding leaves the DC gain within ~1e-5 of unity.
    """
    k = -(-proto.size // up)
    padded = np.zeros(k * up)
    padded[: proto.size] = proto * (up / proto.sum())
    taps: IntArray = np.rint(padded.reshape(k, up).T * 2**q).astype(np.int64)
    return taps


@functools.lru_cache(maxsize=16)
def _sharp_stage(in_rate: int, out_rate: int) -> Stage:
    """The stage that sets the pass band and the stop band (minimax, Q20)."""
    g = math.gcd(in_rate, out_rate)
    up, down = out_rate // g, in_rate // g
    proto_rate = in_rate * up
    low = min(in_rate, out_rate)
    f_pass, f_stop = PASS_EDGE * low, STOP_EDGE * low
    # Length estimate for an equiripple filter (Kaiser's formula), then the shortest
    # odd length from there whose rounded taps meet the targets. (n-1)/2 a multiple of
    # `down` makes the delay a whole number of output samples.
    d_pass = 10 ** (RIPPLE_TARGET_DB / 40) - 1
    d_stop = 10 ** (-STOP_TARGET_DB / 20)
    est = (-10 * math.log10(d_pass * d_stop) - 13) / (14.6 * (f_stop - f_pass) / proto_rate)
    step = 2 * down
    n = max(step + 1, (int(est) // step) * step + 1)
    while True:
        proto = _minimax_lowpass(n, proto_rate, f_pass, f_stop) * up
        taps = _split(proto, up, SHARP_Q)
        real = taps.T.reshape(-1)[:n] / (2.0**SHARP_Q * up)  # the prototype as rounded
        freqs, gain = _response_db(real, proto_rate)
        stop = gain[freqs >= f_stop].max()
        passband = gain[freqs <= f_pass]
        ripple = passband.max() - passband.min()
        if -stop >= STOP_TARGET_DB - 1.0 and ripple <= 1.5 * RIPPLE_TARGET_DB:
            return Stage(up, down, taps, SHARP_Q, n)
        n += step


def _wide_stage(in_rate: int, out_rate: int, f_pass: float, f_stop: float, q: int) -> Stage:
    """A cheap stage that only has to stop ``f_stop`` and up (Kaiser, broad transition)."""
    g = math.gcd(in_rate, out_rate)
    up, down = out_rate // g, in_rate // g
    proto = _kaiser_lowpass(in_rate * up, f_pass, f_stop, WIDE_ATTENUATION_DB, up)
    return Stage(up, down, _split(proto, up, q), q, proto.size)


#: The designs for every pair of supported rates (``shipped_pairs``), made by ``design`` and
#: written by ``scripts/framer-taps``: a design at run time costs up to ~0.5 s of CPU here
#: (seconds on a Pi Zero) at the first call, and ~2 MB of the daemon's RSS for good (numpy.fft,
#: the design's scratch). tests/audio/test_framer.py holds the file equal to ``design``.
TAPS_FILE: Final = Path(__file__).resolve().parent.parent / "data" / "framer_taps.npz"


def shipped_pairs() -> list[tuple[int, int]]:
    """(in, out) for every mic rate to every wire rate, and every wire rate to every device
    rate playback may open."""
    capture = [(i, o) for i in INPUT_RATES for o in WIRE_RATES]
    playback = [(i, o) for i in WIRE_RATES for o in OUTPUT_RATES]
    return [(i, o) for i, o in dict.fromkeys([*capture, *playback]) if i != o]


@functools.lru_cache(maxsize=32)
def plan(in_rate: int, out_rate: int) -> tuple[Stage, ...]:
    """The stages for in_rate -> out_rate: shipped in ``TAPS_FILE``, else designed now."""
    shipped = _shipped(in_rate, out_rate)
    return shipped if shipped is not None else design(in_rate, out_rate)


def _shipped(in_rate: int, out_rate: int) -> tuple[Stage, ...] | None:
    key = f"{in_rate}_{out_rate}"
    try:
        with np.load(TAPS_FILE) as table:
            if f"{key}_stages" not in table.files:
                return None
            stages = []
            for i in range(int(table[f"{key}_stages"])):
                up, down, q, length = (int(v) for v in table[f"{key}_{i}_meta"])
                taps: IntArray = table[f"{key}_{i}_taps"].astype(np.int64)
                stages.append(Stage(up, down, taps, q, length))
    except OSError:  # not installed with the package: design it
        return None
    return tuple(stages)


def write_taps(path: Path) -> None:
    """Design every shipped pair and write them to ``path`` (``scripts/framer-taps``)."""
    arrays: dict[str, npt.NDArray[np.int32] | npt.NDArray[np.int64]] = {}
    for in_rate, out_rate in shipped_pairs():
        key = f"{in_rate}_{out_rate}"
        stages = design(in_rate, out_rate)
        arrays[f"{key}_stages"] = np.array(len(stages), dtype=np.int64)
        for i, stage in enumerate(stages):
            assert np.abs(stage.taps).max() < 2**31
            arrays[f"{key}_{i}_taps"] = stage.taps.astype(np.int32)
            arrays[f"{key}_{i}_meta"] = np.array(
                [stage.up, stage.down, stage.q, stage.length], dtype=np.int64
            )
    np.savez_compressed(path, **arrays)  # type: ignore[arg-type]


def design(in_rate: int, out_rate: int) -> tuple[Stage, ...]:
    """The stages for in_rate -> out_rate, designed (up to ~0.5 s here).

    One sharp stage when the reduced ratio's numerator is small. Otherwise the sharp stage
    runs between the lower rate and ``mid`` = 3/2 of it (a 2:3 ratio), and a wide stage
    bridges ``mid`` and the other rate: the sharp stage removes everything from the stop
    edge to mid/2, so the wide one only has to keep out what would land below the stop
    edge, i.e. from ``mid - stop edge`` up, leaving it a broad transition band and few taps.
    """
    if in_rate == out_rate:
        return ()
    g = math.gcd(in_rate, out_rate)
    if out_rate // g <= MAX_SHARP_UP or in_rate % out_rate == 0 or out_rate % in_rate == 0:
        return (_sharp_stage(in_rate, out_rate),)
    low = min(in_rate, out_rate)
    mid = low * 3 // 2
    f_pass, f_stop = PASS_EDGE * low, STOP_EDGE * low
    for q in range(WIDE_Q, 0, -1):
        if in_rate > out_rate:
            # Wide first: what lands below f_stop at mid must go; the rest the sharp one takes.
            stages = (
                _wide_stage(in_rate, mid, f_pass, mid - f_stop, q),
                _sharp_stage(mid, out_rate),
            )
        else:
            # Wide last: also its own images of the band must go (nothing follows it).
            stages = (
                _sharp_stage(in_rate, mid),
                _wide_stage(mid, out_rate, f_pass, min(mid, out_rate) - f_stop, q),
            )
        # Worst-case |sum| in units of 2**-q must stay exact in float64 (and int64).
        bound = 32768.0
        for stage in stages:
            bound *= float(np.abs(stage.taps).sum(axis=1).max())
        if bound < _EXACT_LIMIT:
            return stages
    raise AssertionError("no tap precision keeps the sums exact")  # cannot for these rates


# -- the streaming engine ---------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class _Layout:
    """A stage as banded matrices (see ``_StageRunner``); made once per stage and shared
    by every framer that runs it: filling the matrices costs more than a call's setup."""

    k: int
    outs: int
    advance: int
    positions: int
    group: int
    step: int
    row_len: int
    need: int
    mats: FloatArray


@functools.lru_cache(maxsize=32)
def _layout(stage: Stage) -> _Layout:
    up, down, k = stage.up, stage.down, stage.taps.shape[1]
    if up < _GROUP_TARGET:
        periods = -(-_GROUP_TARGET // up)
        group, positions = up * periods, 1
    else:
        periods = 1
        group = next((d for d in range(_GROUP_TARGET, 4 * _GROUP_TARGET) if up % d == 0), up)
        positions = up // group
    outs = up * periods
    step = group * down // up if positions > 1 else 0  # window start between positions
    newest = [(t * down) // up for t in range(outs)]
    row_len = max(newest[s * group + group - 1] - s * step for s in range(positions)) + k
    mats = np.zeros((positions, row_len, group))
    scale = 2.0**-stage.q  # exact: a power of two
    for t in range(outs):
        s = t // group
        o = newest[t] - s * step
        mats[s, o : o + k, t % group] = stage.taps[(t * down) % up, ::-1] * scale
    mats.flags.writeable = False
    need = (positions - 1) * step + row_len
    return _Layout(k, outs, down * periods, positions, group, step, row_len, need, mats)


class _StageRunner:
    """One stage over a float64 input buffer, as banded matrix products.

    A row of the input (``need`` samples, rows ``advance`` apart, overlapping: a strided
    view, no copy) times a fixed matrix gives ``outs`` consecutive outputs. When ``up`` is
    large one matrix would be mostly zeros, so a row's outputs are split into ``positions``
    groups of ``group``, each with its own matrix over its own window, as one batched
    product.
    """

    def __init__(self, stage: Stage) -> None:
        layout = _layout(stage)
        self.k, self.outs, self.advance, self.need = (
            layout.k,
            layout.outs,
            layout.advance,
            layout.need,
        )
        self._positions, self._group, self._step, self._row_len = (
            layout.positions,
            layout.group,
            layout.step,
            layout.row_len,
        )
        self._mats = layout.mats
        self._mat2d = layout.mats[0]
        # Room for many blocks: the rows' start moves forward through the buffer, and the
        # history still needed moves back to the front only when the end is reached (one
        # copy per buffer, not per call). The start stays a multiple of ``advance``, so the
        # rows of any call are a slice of one strided view of the whole buffer.
        self._size = max(16 * self.need, 8192)
        self.buf: FloatArray = np.zeros(0)
        self._rows: FloatArray = self.buf
        self.first = 0  # the next row to run: it starts at sample first * advance
        self.fill = 0
        self._outputs: dict[int, tuple[FloatArray, FloatArray, Int16Array]] = {}
        self.reset()

    def reset(self) -> None:
        self._use(np.zeros(self._size))
        self.first = 0
        self.fill = self.k - 1  # zeros stand for the silence before the first sample

    def _use(self, buf: FloatArray) -> None:
        self.buf = buf
        count = (buf.size - self.need) // self.advance + 1
        if self._positions == 1:
            shape: tuple[int, ...] = (count, self._row_len)
            strides: tuple[int, ...] = (self.advance * 8, 8)
        else:
            shape = (self._positions, count, self._row_len)
            strides = (self._step * 8, self.advance * 8, 8)
        self._rows = np.ndarray(shape, np.float64, buf, 0, strides)

    def step(self, x: Int16Array | FloatArray) -> tuple[FloatArray, FloatArray, Int16Array] | None:
        """Append input samples and run the rows now ready: None, or the outputs as arrays
        of the runner's, reused: (flat, shaped for the product, the int16 view that
        ``_round_saturate`` fills).

        The path of every block, in one call with locals: each Python call and attribute
        lookup is a visible part of a block's cost."""
        fill = self.fill
        end = fill + x.size
        if end > self._size:
            fill = self._make_room(x.size)
            end = fill + x.size
        self.buf[fill:end] = x  # an item assignment: np.copyto's dispatch costs more
        self.fill = end
        first = self.first
        rows = (end - first * self.advance - self.need) // self.advance + 1
        if rows <= 0:
            return None
        out = self._outputs.get(rows) or self._output(rows)
        if self._positions == 1:
            # The method: np.dot's dispatch costs more.
            self._rows[first : first + rows].dot(self._mat2d, out=out[1])
        else:
            np.matmul(self._rows[:, first : first + rows], self._mats, out=out[1])
        self.first = first + rows
        return out

    def _make_room(self, n: int) -> int:
        """Move the history still needed to the front, growing the buffer if n more samples
        would not fit after it; the new fill."""
        start = self.first * self.advance
        keep = self.fill - start
        if keep + n > self._size:
            self._size = max(2 * self._size, keep + n + self.need)
            grown = np.zeros(self._size)
            grown[:keep] = self.buf[start : self.fill]
            self._use(grown)
        else:
            self.buf[:keep] = self.buf[start : self.fill]
        self.first, self.fill = 0, keep
        return keep

    def _output(self, rows: int) -> tuple[FloatArray, FloatArray, Int16Array]:
        if len(self._outputs) >= 8:  # odd block sizes: keep the cache small
            self._outputs = {}
        flat = np.empty(rows * self.outs)
        entry = self._outputs[rows] = (flat, self._shaped(flat, rows), _low16(flat))
        return entry

    def _shaped(self, flat: FloatArray, rows: int) -> FloatArray:
        if self._positions == 1:
            return flat.reshape(rows, self._group)
        # Output order is row, position, column: the product's (position, row, column).
        return flat.reshape(rows, self._positions, self._group).transpose(1, 0, 2)


class Framer:
    """Resample int16 PCM to ``out_rate`` and cut it into frames of ``frame_samples``."""

    def __init__(  # noqa: PLR0917 - the positional signature is the public contract
        self,
        in_rate: int,
        out_rate: int = 16000,
        channels: int = 1,
        frame_samples: int = 320,
        dc_block: bool = False,
        gain_db: float = 0.0,
    ) -> None:
        if in_rate not in INPUT_RATES and in_rate not in OUTPUT_RATES:
            raise ValueError(f"input rate {in_rate} Hz is not supported (use one of {INPUT_RATES})")
        if out_rate not in OUTPUT_RATES and out_rate not in INPUT_RATES:
            raise ValueError(f"output rate {out_rate} Hz is not supported ({OUTPUT_RATES})")
        if not 1 <= channels <= 8:
            raise ValueError(f"channels must be 1 to 8, got {channels}")
        if frame_samples < 1:
            raise ValueError(f"frame_samples must be positive, got {frame_samples}")
        if not -60.0 <= gain_db <= 60.0:
            raise ValueError(f"gain_db must be within ±60 dB, got {gain_db}")
        self.in_rate = in_rate
        self.out_rate = out_rate
        self.channels = channels
        self.frame_samples = frame_samples
        self.frame_bytes = 2 * frame_samples
        self.dc_block = dc_block
        self.gain_db = gain_db
        self._gain = 10.0 ** (gain_db / 20.0)
        self._post_needed = dc_block or self._gain != 1.0
        self.stages = plan(in_rate, out_rate)
        # The common case, which _feed takes the short way: mono, stages, and int16 results
        # that are already the wire's byte order (a DC blocker or gain too, for a block that
        # makes exactly one frame: the mic's usual 20 ms).
        self._lean = channels == 1 and bool(self.stages) and _LITTLE_ENDIAN
        self._runners = [_StageRunner(stage) for stage in self.stages]
        rate, delay = in_rate, 0.0
        for stage in self.stages:
            rate = rate * stage.up // stage.down
            delay = delay * stage.up / stage.down + stage.delay
        self._delay = delay
        powers = _DC_POLE ** np.arange(frame_samples)
        self._dc_powers = powers
        self._dc_inverse = 1.0 / powers
        self._dc_buf = np.empty(frame_samples)
        self._dc_low = _low16(self._dc_buf)
        self.reset()

    # -- public -------------------------------------------------------------------------

    @property
    def delay(self) -> float:
        """Filter delay in output samples (a whole number for integer ratios)."""
        return self._delay

    def source_index(self, out_index: int) -> float:
        """Input sample index (per channel) whose sound output sample ``out_index`` carries."""
        return (out_index - self._delay) * self.in_rate / self.out_rate

    @property
    def frames_out(self) -> int:
        """Frames returned by push() since the last reset()."""
        return self._frames_out

    def reset(self) -> None:
        """Forget all history: as if just constructed."""
        for runner in self._runners:
            runner.reset()
        size = max(4 * self.frame_samples, 4096)
        self._out: Int16Array = np.zeros(size, dtype=np.int16)
        # With a DC blocker or gain, outputs wait here unrounded (the exact sums over 2**q)
        # until a whole frame is there; it is rounded once, after them.
        self._fout: FloatArray = np.zeros(size if self._post_needed else 0)
        self._out_fill = 0  # output samples waiting (in _fout with post-processing, else _out)
        self._partial = b""
        self._frames_out = 0
        self._dc_x = 0.0
        self._dc_y = 0.0

    def push(self, pcm: bytes | bytearray | memoryview | npt.NDArray[np.int16]) -> list[bytes]:
        """Feed int16 PCM (interleaved when channels > 1); return the frames now complete."""
        raw, count = self._feed(pcm)
        if count <= 1:
            return [raw] if count else []
        fb = self.frame_bytes
        return [raw[i * fb : (i + 1) * fb] for i in range(count)]

    def push_bytes(self, pcm: bytes | bytearray | memoryview | npt.NDArray[np.int16]) -> bytes:
        """Like push() but the completed frames joined into one bytes object (playback wants
        a stream, not 1 ms frames one by one)."""
        return self._feed(pcm)[0]

    def process(self, pcm: bytes | bytearray | memoryview | npt.NDArray[np.int16]) -> Int16Array:
        """Like push() but return the completed frames as one int16 array."""
        frames = self.push(pcm)
        if not frames:
            return np.zeros(0, dtype=np.int16)
        return np.frombuffer(b"".join(frames), dtype="<i2").astype(np.int16)

    # -- internals ----------------------------------------------------------------------

    def _feed(
        self, pcm: bytes | bytearray | memoryview | npt.NDArray[np.int16]
    ) -> tuple[bytes, int]:
        """Resample pcm; the frames now complete, as one bytes object, and their count.

        The path of every block, so the common case (mono, no post-processing, whole
        samples) is tried first and kept short: each Python call and attribute lookup is a
        visible part of a block's cost, and each numpy call costs ~5x its warm time in the
        daemon, where a block comes every 20 ms to a cold cache."""
        x: Int16Array | FloatArray
        if not self._lean or self._partial:
            return self._feed_any(pcm)
        if type(pcm) is np.ndarray:
            if pcm.ndim != 1 or pcm.dtype != _INT16:
                return self._feed_any(pcm)
            x = pcm
        elif type(pcm) is bytes and not len(pcm) & 1:
            x = np.frombuffer(pcm, _PCM)
        else:
            return self._feed_any(pcm)
        for runner in self._runners:
            out = runner.step(x)
            if out is None:
                return b"", 0  # fewer than a frame is waiting: that stays so after every call
            x = out[0]
        assert out is not None  # a lean framer has stages
        flat, _, low = out
        if self._post_needed:
            if self._out_fill or flat.size != self.frame_samples:
                self._reserve_float(flat.size)[...] = flat  # as _resample does
                return self._complete_frames()
            self._post_frame(flat)
            self._frames_out += 1
            return self._dc_low.tobytes(), 1
        np.add(flat, _MAGIC0, out=flat)  # _round_saturate, inline
        _clip(flat, _LO, _HI, out=flat)
        count, rest = divmod(low.size, self.frame_samples)
        if rest or self._out_fill:
            self._reserve_out(low.size)[...] = low
            return self._take_frames()
        # Whole frames and nothing waiting (a steady block size): the bytes straight from
        # the last product's output, no output buffer.
        self._frames_out += count
        return low.tobytes(), count

    def _feed_any(
        self, pcm: bytes | bytearray | memoryview | npt.NDArray[np.int16]
    ) -> tuple[bytes, int]:
        """``_feed`` for any input and any framer."""
        x = self._as_samples(pcm)
        if self.channels != 1:
            x = self._downmix(x)
        if x.size:
            low = self._resample(x)
            if low is not None:
                np.copyto(self._reserve_out(low.size), low)
        return self._complete_frames()

    def _as_samples(
        self, pcm: bytes | bytearray | memoryview | npt.NDArray[np.int16]
    ) -> Int16Array:
        if isinstance(pcm, np.ndarray):
            if pcm.ndim == 1 and pcm.dtype == np.int16 and self.channels == 1:
                return pcm  # the common case first
            if pcm.dtype != np.int16:
                raise TypeError(f"PCM arrays must be int16, got {pcm.dtype}")
            if pcm.ndim == 2 and pcm.shape[1] != self.channels:
                raise ValueError(f"expected {self.channels} channels, got {pcm.shape[1]}")
            flat: Int16Array = pcm.reshape(-1)
            if flat.size % self.channels:
                raise ValueError(
                    f"{flat.size} samples is not a whole number of {self.channels}-channel frames"
                )
            return flat
        if isinstance(pcm, memoryview):
            pcm = pcm.cast("B")
        if self._partial:
            data = self._partial + bytes(pcm)
        elif len(pcm) % (2 * self.channels) == 0:
            return np.frombuffer(pcm, dtype="<i2")  # the common case: no copy
        else:
            data = bytes(pcm)
        whole = len(data) - len(data) % (2 * self.channels)
        # A torn sample (odd byte count) waits for its other half instead of being lost.
        self._partial = data[whole:]
        return np.frombuffer(data[:whole], dtype="<i2")

    def _downmix(self, samples: Int16Array) -> Int16Array:
        total = samples.reshape(-1, self.channels).astype(np.int32).sum(axis=1)
        # Mean rounded half up; the mean of int16s always fits int16.
        mixed: Int16Array = ((total * 2 + self.channels) // (2 * self.channels)).astype(np.int16)
        return mixed

    def _resample(self, x: Int16Array) -> Int16Array | None:
        """Run x through the stages: the new int16 outputs, or None when there are none or
        they went to the output buffers (post-processing, or no stages)."""
        y: Int16Array | FloatArray = x
        out = None
        for runner in self._runners:
            out = runner.step(y)
            if out is None:
                return None
            y = out[0]
        if self._post_needed:
            self._reserve_float(y.size)[:] = y
            return None
        if out is None:
            return x  # no stages
        _round_saturate(out[0])
        return out[2]

    def _reserve_out(self, n: int) -> Int16Array:
        end = self._out_fill + n
        if end > self._out.size:
            grown = np.zeros(max(2 * self._out.size, end), dtype=np.int16)
            grown[: self._out_fill] = self._out[: self._out_fill]
            self._out = grown
        start = self._out_fill
        self._out_fill = end
        return self._out[start:end]

    def _reserve_float(self, n: int) -> FloatArray:
        end = self._out_fill + n
        if end > self._fout.size:
            grown = np.zeros(max(2 * self._fout.size, end))
            grown[: self._out_fill] = self._fout[: self._out_fill]
            self._fout = grown
        start = self._out_fill
        self._out_fill = end
        return self._fout[start:end]

    def _complete_frames(self) -> tuple[bytes, int]:
        """The frames now whole in the output buffers, if there are any."""
        if self._out_fill < self.frame_samples:
            return b"", 0
        return self._take_frames()

    def _take_frames(self) -> tuple[bytes, int]:
        """The complete frames in the output buffer, as one bytes object, and their count."""
        fs = self.frame_samples
        count = self._out_fill // fs
        used = count * fs
        rest = self._out_fill - used
        if self._post_needed:
            if used > self._out.size:
                self._out = np.zeros(used, dtype=np.int16)
            block = self._out[:used]
            self._post(self._fout[:used].reshape(count, fs), block.reshape(count, fs))
            if rest:
                self._fout[:rest] = self._fout[used : self._out_fill]
        else:
            block = self._out[:used]
        raw = block.tobytes() if _LITTLE_ENDIAN else block.astype("<i2").tobytes()
        if rest and not self._post_needed:
            self._out[:rest] = self._out[used : self._out_fill]
        self._out_fill = rest
        self._frames_out += count
        return raw, count

    def _post(self, frames: FloatArray, out: Int16Array) -> None:
        """DC blocker and gain on whole frames of unrounded outputs, rounded into ``out``."""
        for frame, dest in zip(frames, out, strict=True):
            self._post_frame(frame)
            np.copyto(dest, self._dc_low)

    def _post_frame(self, frame: FloatArray) -> None:
        """DC blocker and gain on one frame of unrounded outputs; the rounded result is left
        in ``self._dc_low``."""
        v = self._dc_buf
        if self.dc_block:
            # y[n] = x[n] - x[n-1] + a·y[n-1], solved for the whole frame at once:
            # y[n] = a^n · (a·y0 + sum_{k<=n} a^-k · d[k]).
            np.subtract(frame[1:], frame[:-1], out=v[1:])
            v[0] = float(frame[0]) - self._dc_x
            self._dc_x = float(frame[-1])
            np.multiply(v, self._dc_inverse, out=v)
            np.cumsum(v, out=v)
            v += _DC_POLE * self._dc_y
            np.multiply(v, self._dc_powers, out=v)
            self._dc_y = float(v[-1])
            if self._gain != 1.0:
                v *= self._gain
        else:
            np.multiply(frame, self._gain, out=v)
        _round_saturate(v)


def reference_resample(stages: tuple[Stage, ...], x: Int16Array) -> Int16Array:
    """Plain int64 polyphase FIR stages, one output at a time: the definition Framer must
    match (no rounding between stages; the final sum over 2**q rounds half to even)."""
    v = x.astype(np.int64)
    q = 0
    for stage in stages:
        k = stage.taps.shape[1]
        xs = np.concatenate((np.zeros(k - 1, dtype=np.int64), v))
        out = []
        n = 0
        while True:
            j = (n * stage.down) // stage.up  # newest input index used
            if j >= v.size:
                break
            window = xs[j : j + k][::-1]  # x[j], x[j-1], ... x[j-k+1]
            out.append(int(np.dot(stage.taps[(n * stage.down) % stage.up], window)))
            n += 1
        v = np.array(out, dtype=np.int64)
        q += stage.q
    if q == 0:
        return v.astype(np.int16)
    result = []
    half = 1 << (q - 1)
    for acc in v.tolist():
        quot, rem = divmod(acc, 1 << q)  # floor division: rem in [0, 2**q)
        if rem > half or (rem == half and quot % 2):
            quot += 1  # round half to even
        result.append(min(32767, max(-32768, quot)))
    return np.array(result, dtype=np.int16)
