"""Fixed-point resampler and framer: any supported mic rate in, exact 20 ms int16 frames out.

Sans-I/O and deterministic. A Q15 polyphase FIR (Kaiser-windowed sinc designed at
construction) converts ``in_rate`` to ``out_rate`` by the reduced ratio L/M. Every output
sample is ``sum(q15_tap * sample) / 2**15`` rounded half to even and saturated to int16:
integer products, exact integer accumulation. Filter history and the output remainder are
carried across calls, so the frames are bit-identical however the input is chunked.

Why the accumulation runs in float64: a product of an int16 sample and a Q15 tap is an
integer below 2**30 and a sum of K of them stays below 2**53 for any K < 2**23, so float64
holds every partial sum exactly. Float64 arithmetic on those integers is therefore the same
integer arithmetic as int64, and it lets numpy hand the filter to BLAS as one matrix product.
``reference_resample`` below is a plain int64 implementation that the tests hold it to.

Optional stages, applied per whole output frame (so they are chunking-invariant too): a
one-pole DC blocker (~13 Hz corner) and a gain, then rounding and saturation again.
"""

from __future__ import annotations

import functools
import math
import sys
from collections.abc import Callable
from typing import Final

import numpy as np
import numpy.typing as npt

from booth.audio.rates import INPUT_RATES, OUTPUT_RATES

Q: Final = 15
ONE_Q15: Final = 1 << Q
# Pass band to 0.4375·min rate (7 kHz at 16 kHz out), stop band from 0.53125·min rate
# (8.5 kHz): tones above 8.5 kHz cannot alias into the band; 8–8.5 kHz folds above 7.5 kHz.
PASS_EDGE: Final = 0.4375
STOP_EDGE: Final = 0.53125
# Kaiser design target; Q15 tap rounding (see _shaped_rounder) then sets the real floor:
# -73 dB or lower over 8.5–24 kHz for 48 kHz in (-68 dB for 96 kHz in: twice the taps).
KAISER_ATTENUATION_DB: Final = 80.0
# Outputs computed per matrix row; a multiple of L. Small keeps the wasted zero taps few.
_GROUP_TARGET: Final = 16
_DC_POLE: Final = 0.995
# Weight of pass-band error against stop-band error when rounding taps (_shaped_rounder):
# 0.1 keeps ripple ~0.005 dB (SNR vs soxr VHQ ~69 dB) and the stop band below -73 dB.
_PASS_WEIGHT: Final = 0.1
_LITTLE_ENDIAN: Final = sys.byteorder == "little"
# 0-d bounds and the raw ufunc: np.clip's wrapper costs more than the clipping itself.
_LO: Final = np.array(-32768.0)
_HI: Final = np.array(32767.0)
try:
    from numpy._core.umath import clip as _clip  # type: ignore[attr-defined,unused-ignore]
except ImportError:  # numpy < 2
    from numpy.core.umath import clip as _clip  # type: ignore[attr-defined,no-redef,unused-ignore]

Int16Array = npt.NDArray[np.int16]
FloatArray = npt.NDArray[np.float64]


@functools.lru_cache(maxsize=32)
def design_filter(in_rate: int, out_rate: int) -> tuple[npt.NDArray[np.int64], int, int, int]:
    """Q15 polyphase taps for in_rate -> out_rate (cached: the design costs ~0.1 s).

    Returns ``(taps, L, M, N)``: ``taps[p, k]`` is phase p's k-th tap (each phase sums to
    exactly 1.0 in Q15, so DC passes unchanged and no phase is louder than another),
    L/M the reduced ratio and N the prototype length before padding.
    """
    g = math.gcd(in_rate, out_rate)
    up, down = out_rate // g, in_rate // g
    proto_rate = in_rate * up
    base = min(in_rate, out_rate)
    f_pass, f_stop = PASS_EDGE * base, STOP_EDGE * base
    width = 2 * math.pi * (f_stop - f_pass) / proto_rate
    atten = KAISER_ATTENUATION_DB
    beta = 0.1102 * (atten - 8.7)
    n = math.ceil((atten - 7.95) / (2.285 * width)) + 1
    # Odd length with (N-1)/2 a multiple of M: the group delay is a whole number of output
    # samples, so the output lines up with the input sample grid (and with soxr in the bench).
    half = math.ceil((n - 1) / 2 / down) * down
    n = 2 * half + 1
    cutoff = (f_pass + f_stop) / 2 / proto_rate  # cycles per prototype sample
    t = np.arange(n) - half
    proto = 2 * cutoff * np.sinc(2 * cutoff * t) * np.kaiser(n, beta) * up
    k = -(-n // up)
    padded = np.zeros(k * up)
    padded[:n] = proto
    phases = padded.reshape(k, up).T * ONE_Q15  # phases[p, k] = proto[p + k*up]
    if f_stop < in_rate / 2:
        quantize = _shaped_rounder(k, in_rate, f_pass, f_stop)
        taps = np.stack([quantize(row) for row in phases])
    else:
        # Interpolation: every input frequency matters equally, so plain rounding is best.
        taps = np.rint(phases).astype(np.int64)
    for p in range(up):
        # Put the rounding residue on the largest tap: exact unity DC gain per phase.
        taps[p, int(np.argmax(np.abs(taps[p])))] += ONE_Q15 - int(taps[p].sum())
    if np.abs(taps).max() >= ONE_Q15:
        raise AssertionError("a Q15 tap overflowed")  # cannot happen for these ratios
    return taps, up, down, n


def _shaped_rounder(
    k: int, rate: int, f_pass: float, f_stop: float
) -> Callable[[FloatArray], npt.NDArray[np.int64]]:
    """Round taps to integers so the rounding error lands outside the stop band.

    Plain rounding of ~170 Q15 taps leaves a stop-band floor between -66 and -72 dB,
    depending on luck. Rounding one tap at a time and spreading its error over the taps not
    yet rounded, weighted by the inverse Hessian of the weighted error energy (optimal brain
    surgeon / GPTQ), steers that error away from the stop band, into the pass band (which
    has ripple to spare) and the transition band, and keeps the stop band below -73 dB.
    """
    stop = np.linspace(f_stop, rate / 2, 8 * k)
    pas = np.linspace(0.0, f_pass, 4 * k)
    omega = 2 * np.pi * np.concatenate((stop, pas, [0.0])) / rate
    weight = np.concatenate((np.ones(stop.size), np.full(pas.size, _PASS_WEIGHT), [100.0 * k]))
    idx = np.arange(k)
    cos, sin = np.cos(np.outer(omega, idx)), np.sin(np.outer(omega, idx))
    hess = (cos.T * weight) @ cos + (sin.T * weight) @ sin
    hess += np.eye(k) * 1e-3 * float(np.mean(np.diag(hess)))
    upper = np.linalg.cholesky(np.linalg.inv(hess)).T

    def quantize(row: FloatArray) -> npt.NDArray[np.int64]:
        w = row.astype(np.float64, copy=True)
        q = np.zeros(k)
        for i in range(k):
            q[i] = np.rint(w[i])
            w[i + 1 :] -= (w[i] - q[i]) / upper[i, i] * upper[i, i + 1 :]
        return q.astype(np.int64)

    return quantize


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
        self._bypass = in_rate == out_rate
        if self._bypass:
            self.up, self.down, self.taps_len, k = 1, 1, 1, 1
            self._taps = np.full((1, 1), ONE_Q15, dtype=np.int64)
        else:
            self._taps, self.up, self.down, self.taps_len = design_filter(in_rate, out_rate)
            k = self._taps.shape[1]
        self._k = k
        # One matrix row makes `group` outputs from `row_len` inputs, `advance` inputs apart.
        group = self.up * max(1, -(-_GROUP_TARGET // self.up))
        self._group = group
        self._advance = group * self.down // self.up
        offsets = (np.arange(group) * self.down) // self.up  # newest input used by output t
        self._row_len = int(offsets[-1]) + k
        big = np.zeros((self._row_len, group))
        for t in range(group):
            phase = (t * self.down) % self.up
            # Row position r holds input (offset_t - (k-1) + r): taps reversed.
            big[offsets[t] : offsets[t] + k, t] = self._taps[phase, ::-1]
        self._matrix = big / ONE_Q15
        self._strides = (self._advance * 8, 8)
        self._views: dict[int, tuple[FloatArray, FloatArray]] = {}
        self.reset()

    # -- public -------------------------------------------------------------------------

    @property
    def delay(self) -> float:
        """Filter delay in output samples (a whole number for every supported ratio)."""
        return 0.0 if self._bypass else (self.taps_len - 1) / 2 / self.down

    def source_index(self, out_index: int) -> float:
        """Input sample index (per channel) whose sound output sample ``out_index`` carries."""
        return (out_index - self.delay) * self.in_rate / self.out_rate

    @property
    def frames_out(self) -> int:
        """Frames returned by push() since the last reset()."""
        return self._frames_out

    def reset(self) -> None:
        """Forget all history: as if just constructed."""
        self._k_hist = self._k - 1
        self._buf: FloatArray = np.zeros(max(4 * self._row_len, 8192))
        self._views = {}
        self._fill = self._k_hist  # zeros stand for the silence before the first sample
        self._out: Int16Array = np.zeros(max(4 * self.frame_samples, 4096), dtype=np.int16)
        self._out_fill = 0
        self._partial = b""
        self._frames_out = 0
        self._dc_x = 0.0
        self._dc_y = 0.0

    def push(self, pcm: bytes | bytearray | memoryview | npt.NDArray[np.int16]) -> list[bytes]:
        """Feed int16 PCM (interleaved when channels > 1); return the frames now complete."""
        x = self._as_samples(pcm)
        if self.channels != 1:
            x = self._downmix(x)
        if x.size:
            self._resample(x)
        if self._out_fill < self.frame_samples:
            return []
        return self._cut_frames()

    def process(self, pcm: bytes | bytearray | memoryview | npt.NDArray[np.int16]) -> Int16Array:
        """Like push() but return the completed frames as one int16 array."""
        frames = self.push(pcm)
        if not frames:
            return np.zeros(0, dtype=np.int16)
        return np.frombuffer(b"".join(frames), dtype="<i2").astype(np.int16)

    # -- internals ----------------------------------------------------------------------

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
        data = self._partial + bytes(pcm) if self._partial else bytes(pcm)
        whole = len(data) - len(data) % (2 * self.channels)
        # A torn sample (odd byte count) waits for its other half instead of being lost.
        self._partial = data[whole:]
        return np.frombuffer(data[:whole], dtype="<i2").astype(np.int16, copy=False)

    def _downmix(self, samples: Int16Array) -> Int16Array:
        if self.channels == 1:
            return samples
        total = samples.reshape(-1, self.channels).astype(np.int32).sum(axis=1)
        # Mean rounded half up; the mean of int16s always fits int16.
        mixed: Int16Array = ((total * 2 + self.channels) // (2 * self.channels)).astype(np.int16)
        return mixed

    def _resample(self, x: Int16Array) -> None:
        """Filter x into the output buffer (self._out[: self._out_fill])."""
        n = x.size
        if self._bypass:
            self._append_out(x)
            return
        if self._fill + n > self._buf.size:
            grown = np.zeros(max(2 * self._buf.size, self._fill + n + self._row_len))
            grown[: self._fill] = self._buf[: self._fill]
            self._buf = grown
            self._views.clear()  # they look at the old buffer
        self._buf[self._fill : self._fill + n] = x
        self._fill += n
        if self._fill < self._row_len:
            return
        rows = (self._fill - self._row_len) // self._advance + 1
        cached = self._views.get(rows)
        if cached is None:
            if len(self._views) >= 8:
                self._views.clear()  # odd block sizes: keep the cache small
            # Overlapping rows straight over the input buffer (no copy); a block size
            # recurs, so each (view, output) pair is built once per buffer.
            view = np.ndarray(
                (rows, self._row_len), dtype=np.float64, buffer=self._buf, strides=self._strides
            )
            cached = self._views[rows] = (view, np.empty((rows, self._group)))
        view, acc = cached
        # The matrix holds taps/2**15 (exact: a power-of-two scale), so acc is the exact
        # integer sum over 2**15; saturate, then round half to even.
        np.matmul(view, self._matrix, out=acc)
        _clip(acc, _LO, _HI, out=acc)
        np.rint(acc, out=acc)
        self._append_out(acc.reshape(-1))
        used = rows * self._advance
        keep = self._fill - used
        self._buf[:keep] = self._buf[used : self._fill]
        self._fill = keep

    def _append_out(self, y: npt.NDArray[np.float64] | Int16Array) -> None:
        end = self._out_fill + y.size
        if end > self._out.size:
            grown = np.zeros(max(2 * self._out.size, end), dtype=np.int16)
            grown[: self._out_fill] = self._out[: self._out_fill]
            self._out = grown
        self._out[self._out_fill : end] = y  # float -> int16: values are already integers
        self._out_fill = end

    def _cut_frames(self) -> list[bytes]:
        fs = self.frame_samples
        count = self._out_fill // fs
        used = count * fs
        block = self._out[:used]
        if self.dc_block or self._gain != 1.0:
            block = self._post(block.reshape(count, fs)).reshape(-1)
        raw = block.tobytes() if _LITTLE_ENDIAN else block.astype("<i2").tobytes()
        rest = self._out_fill - used
        self._out[:rest] = self._out[used : self._out_fill]
        self._out_fill = rest
        self._frames_out += count
        fb = self.frame_bytes
        if count == 1:
            return [raw]
        return [raw[i * fb : (i + 1) * fb] for i in range(count)]

    def _post(self, frames: Int16Array) -> Int16Array:
        out = np.empty(frames.shape, dtype=np.int16)
        fs = self.frame_samples
        powers = _DC_POLE ** np.arange(fs)
        for i, frame in enumerate(frames):
            v = frame.astype(np.float64)
            if self.dc_block:
                # y[n] = x[n] - x[n-1] + a·y[n-1], solved for the whole frame at once:
                # y[n] = a^n · (a·y0 + sum_{k<=n} a^-k · d[k]).
                d = np.diff(v, prepend=self._dc_x)
                self._dc_x = float(v[-1])
                y = powers * (_DC_POLE * self._dc_y + np.cumsum(d / powers))
                self._dc_y = float(y[-1])
                v = y
            v = np.rint(v * self._gain)
            out[i] = np.clip(v, -32768, 32767).astype(np.int16)
        return out


def reference_resample(
    taps: npt.NDArray[np.int64], up: int, down: int, x: Int16Array
) -> Int16Array:
    """Plain int64 polyphase FIR, one output at a time: the definition Framer must match."""
    k = taps.shape[1]
    xs = np.concatenate((np.zeros(k - 1, dtype=np.int64), x.astype(np.int64)))
    out = []
    n = 0
    while True:
        j = (n * down) // up  # newest input index used
        if j >= x.size:
            break
        phase = (n * down) % up
        window = xs[j : j + k][::-1]  # x[j], x[j-1], ... x[j-k+1]
        acc = int(np.dot(taps[phase], window))
        quot, rem = divmod(acc, ONE_Q15)  # floor division: rem in [0, 2**15)
        half = ONE_Q15 >> 1
        if rem > half or (rem == half and quot % 2):
            quot += 1  # round half to even
        out.append(min(32767, max(-32768, quot)))
        n += 1
    return np.array(out, dtype=np.int16)
