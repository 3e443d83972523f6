"""The framer's filter design (numpy), and the plain int64 reference the framer is held to.

Not used at run time: every pair of rates the booth runs ships designed in
``booth/data/framer_taps.bin`` (``scripts/framer-taps`` writes it with ``write_taps``), and
``booth.audio.framer`` loads it with the standard library alone. A pair that is not shipped
is designed here when first asked for (``framer.plan``), which imports numpy.

The rate change is one or two polyphase FIR stages with integer taps: an integer or small
ratio (48 kHz -> 16 kHz is 3:1, 24 -> 16 kHz is 2:3) is one sharp stage; a ratio with a
large numerator (44.1 kHz -> 16 kHz is 160:441) is a cheap wide-transition stage to 3/2 of
the lower rate, then the sharp 2:3 stage (``design``).
"""

from __future__ import annotations

import functools
import math
from array import array
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt

from booth.audio.framer import DC_POLE, Stage, linear_gain, pack_taps, shipped_pairs

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

Int16Array = npt.NDArray[np.int16]
IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


def phases(stage: Stage) -> IntArray:
    """A stage's taps as an int64 array ``[phase, k]``."""
    return np.array(stage.taps, dtype=np.int64).reshape(stage.up, stage.width)


def prototype(stage: Stage) -> FloatArray:
    """A stage's prototype filter as its taps are rounded (DC gain 1), at in_rate * up."""
    return _prototype(phases(stage), stage.up, stage.q, stage.length)


def _prototype(taps: IntArray, up: int, q: int, length: int) -> FloatArray:
    real: FloatArray = taps.T.reshape(-1)[:length] / (2.0**q * up)
    return real


def _stage(up: int, down: int, taps: IntArray, q: int, length: int) -> Stage:
    # array("i") refuses (OverflowError) a tap that the shipped file's int32 could not hold.
    flat = array("i", taps.reshape(-1).tolist())
    return Stage(up, down, flat, taps.shape[1], q, length)


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
    keeps freed blocks that size in the heap, so a process that designs keeps them too."""
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
        freqs, gain = _response_db(_prototype(taps, up, SHARP_Q, n), proto_rate)
        stop = gain[freqs >= f_stop].max()
        passband = gain[freqs <= f_pass]
        ripple = passband.max() - passband.min()
        if -stop >= STOP_TARGET_DB - 1.0 and ripple <= 1.5 * RIPPLE_TARGET_DB:
            return _stage(up, down, taps, SHARP_Q, n)
        n += step


def _wide_stage(in_rate: int, out_rate: int, f_pass: float, f_stop: float, q: int) -> Stage:
    """A cheap stage that only has to stop ``f_stop`` and up (Kaiser, broad transition)."""
    g = math.gcd(in_rate, out_rate)
    up, down = out_rate // g, in_rate // g
    proto = _kaiser_lowpass(in_rate * up, f_pass, f_stop, WIDE_ATTENUATION_DB, up)
    return _stage(up, down, _split(proto, up, q), q, proto.size)


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
            bound *= float(np.abs(phases(stage)).sum(axis=1).max())
        if bound < _EXACT_LIMIT:
            return stages
    raise AssertionError("no tap precision keeps the sums exact")  # cannot for these rates


def write_taps(path: Path) -> None:
    """Design every shipped pair and write them to ``path`` (``scripts/framer-taps``)."""
    path.write_bytes(pack_taps({pair: design(*pair) for pair in shipped_pairs()}))


# -- the definition the engine is held to ---------------------------------------------


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
        taps = phases(stage)
        k = stage.width
        xs = np.concatenate((np.zeros(k - 1, dtype=np.int64), v))
        out = []
        n = 0
        while True:
            j = (n * stage.down) // stage.up  # newest input index used
            if j >= v.size:
                break
            window = xs[j : j + k][::-1]  # x[j], x[j-1], ... x[j-k+1]
            out.append(int(np.dot(taps[(n * stage.down) % stage.up], window)))
            n += 1
        v = np.array(out, dtype=np.int64)
        q += stage.q
    gain = linear_gain(gain_db)
    result = []
    if dc_block or gain != 1.0:
        x_prev = y_prev = 0.0
        for acc in v.tolist():
            w = acc / 2.0**q
            if dc_block:
                y = (w - x_prev) + DC_POLE * y_prev
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
