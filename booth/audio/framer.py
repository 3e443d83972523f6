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

The engine is ``booth.audio._fir`` (C, built with the package): one call a block runs the
stages, the optional stages below, rounding and framing. Its sums run in float64: every
partial sum is an integer multiple of 2**-q below 2**16 (checked when a plan is made: the
worst case is under 2**53 units), so float64 holds each one exactly and the result is the
same integer arithmetic as int64 in any summation order, SIMD lanes and fused multiply-adds
included. ``reference_resample`` below is a plain int64 implementation that the tests hold
the framer to.

Optional stages on the unrounded output, sample by sample (so chunking-invariant too): a
one-pole DC blocker (~13 Hz corner) and a gain, in float64 with each operation rounded as
written (``reference_resample`` defines them), then rounding and saturation.
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

from booth.audio import _fir
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
# A stage with a numerator above this is split (see design()): one sharp stage would run its
# prototype at in_rate * up, a table of up phases (160 for 44.1 -> 16 kHz, ~125 taps each).
MAX_SHARP_UP: Final = 4
_EXACT_LIMIT: Final = 2**53
_DC_POLE: Final = 0.995
_LITTLE_ENDIAN: Final = sys.byteorder == "little"
_INT16: Final = np.dtype(np.int16)

Int16Array = npt.NDArray[np.int16]
IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


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


@functools.lru_cache(maxsize=32)
def _engine_stage(stage: Stage) -> tuple[bytes, int, int, int]:
    """A stage as ``booth.audio._fir.Chain`` takes it: (taps, up, down, taps a phase), the
    taps phase-major float64 in signal units (times 2**-q, a power of two: exact)."""
    taps = np.ascontiguousarray(stage.taps * 2.0**-stage.q, dtype=np.float64)
    return taps.tobytes(), stage.up, stage.down, stage.taps.shape[1]


class Framer:
    """Resample int16 PCM to ``out_rate`` and cut it into frames of ``frame_samples``.

    The work is one call into ``booth.audio._fir`` a block (stages, DC blocker, gain,
    rounding, framing); this class checks and normalises what comes in (torn samples,
    channels, byte order) and keeps the counts."""

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
        self.stages = plan(in_rate, out_rate)
        self._engine_args = (
            tuple(_engine_stage(stage) for stage in self.stages),
            frame_samples,
            dc_block,
            _DC_POLE,
            _gain(gain_db),
        )
        # The common case goes to the engine as it comes: mono, and PCM whose bytes are
        # already the engine's native int16 (little-endian, the wire's order).
        self._direct = channels == 1 and _LITTLE_ENDIAN
        rate, delay = in_rate, 0.0
        for stage in self.stages:
            rate = rate * stage.up // stage.down
            delay = delay * stage.up / stage.down + stage.delay
        self._delay = delay
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
        self._engine = _fir.Chain(*self._engine_args)
        self._partial = b""
        self._frames_out = 0

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

        The path of every block: each Python call and attribute lookup is a visible part of
        its cost, so whole-sample bytes and 1-d arrays go straight to the engine, which
        refuses (TypeError, taking nothing) an array that is not int16."""
        if (
            self._direct
            and not self._partial
            and (
                (type(pcm) is bytes and not len(pcm) & 1)
                or (type(pcm) is np.ndarray and pcm.ndim == 1)
            )
        ):
            raw = self._engine.push(pcm)
        else:
            raw = self._engine.push(self._samples(pcm))
            if not _LITTLE_ENDIAN:
                raw = np.frombuffer(raw, dtype=np.int16).astype("<i2").tobytes()
        count = len(raw) // self.frame_bytes
        self._frames_out += count
        return raw, count

    def _samples(self, pcm: bytes | bytearray | memoryview | npt.NDArray[np.int16]) -> Int16Array:
        """Any accepted PCM as mono native int16 (a torn sample waits for its other half)."""
        x = self._as_samples(pcm)
        if self.channels != 1:
            return self._downmix(x)
        if x.dtype != _INT16:  # '<i2' on a big-endian machine
            return x.astype(np.int16)
        return x

    def _as_samples(
        self, pcm: bytes | bytearray | memoryview | npt.NDArray[np.int16]
    ) -> Int16Array:
        if isinstance(pcm, np.ndarray):
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
            return np.frombuffer(pcm, dtype="<i2")  # no copy
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


def _gain(gain_db: float) -> float:
    return float(10.0 ** (gain_db / 20.0))


def reference_resample(
    stages: tuple[Stage, ...], x: Int16Array, dc_block: bool = False, gain_db: float = 0.0
) -> Int16Array:
    """Plain int64 polyphase FIR stages, one output at a time: the definition Framer must
    match (no rounding between stages; the final sum over 2**q rounds half to even).

    With a DC blocker or gain, the exact sums (over 2**q, as floats: exact, being below
    2**53) go through them one sample at a time in Python floats, each operation rounded as
    written, then round half to even: the engine's arithmetic, bit for bit."""
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
    gain = _gain(gain_db)
    result = []
    if dc_block or gain != 1.0:
        x_prev = y_prev = 0.0
        for acc in v.tolist():
            w = acc / 2.0**q
            if dc_block:
                y = (w - x_prev) + _DC_POLE * y_prev
                x_prev, y_prev = w, y
                w = y
            w *= gain  # exact for a gain of 1
            result.append(min(32767, max(-32768, round(w))))  # round(): half to even
        return np.array(result, dtype=np.int16)
    half = (1 << q) >> 1
    for acc in v.tolist():
        quot, rem = divmod(acc, 1 << q)  # floor division: rem in [0, 2**q)
        if q and (rem > half or (rem == half and quot % 2)):
            quot += 1  # round half to even
        result.append(min(32767, max(-32768, quot)))
    return np.array(result, dtype=np.int16)
