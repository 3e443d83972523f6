"""Fixed-point resampler and framer: any supported mic rate in, exact int16 frames out.

Sans-I/O and deterministic. The rate change is one or two polyphase FIR stages with integer
taps (``Stage``; ``booth.audio.framer_design`` designs them). The arithmetic is integer
throughout: int16 samples times integer taps, summed exactly, with no rounding between
stages; only the final sum is divided by 2**(sum of the stages' tap fraction bits), rounded
half to even and saturated to int16. Filter history and the output remainder are carried
across calls, so the frames are bit-identical however the input is chunked.

The engine is ``booth.audio._fir`` (C, built with the package): one call a block mixes the
channels down (their mean, rounded half up), runs the stages, the optional stages below,
rounding and framing. Its sums run in float64: every partial sum is an integer multiple of
2**-q below 2**16 (checked when a plan is designed: the worst case is under 2**53 units), so
float64 holds each one exactly and the result is the same integer arithmetic as int64 in any
summation order, SIMD lanes and fused multiply-adds included. ``reference_resample`` in
``framer_design`` is a plain int64 implementation that the tests hold the framer to.

Optional stages on the unrounded output, sample by sample (so chunking-invariant too): a
one-pole DC blocker (~13 Hz corner) and a gain, in float64 with each operation rounded as
written (``reference_resample`` defines them), then rounding and saturation.

This module runs in the daemon and uses the standard library and the engine only: the taps
of every pair the booth runs are shipped (``TAPS_FILE``), and numpy arrays come in through
the buffer protocol. Only a pair that is not shipped imports the design (and numpy).
"""

from __future__ import annotations

import functools
import struct
import sys
from array import array
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

from booth.audio import _fir
from booth.audio.rates import INPUT_RATES, OUTPUT_RATES, WIRE_RATES

if TYPE_CHECKING:
    from typing import TypeAlias

    import numpy as np
    import numpy.typing as npt

    Int16Array: TypeAlias = npt.NDArray[np.int16]
    #: PCM as push() takes it: bytes of little-endian int16, or an int16 array (1-d, or 2-d
    #: with a column a channel).
    Pcm: TypeAlias = bytes | bytearray | memoryview | Int16Array

#: The DC blocker's pole: y = (x - x_prev) + DC_POLE * y_prev, a ~13 Hz corner at 16 kHz.
DC_POLE: Final = 0.995
_LITTLE_ENDIAN: Final = sys.byteorder == "little"
_BYTES: Final = (bytes, bytearray, memoryview)


@dataclass(frozen=True, eq=False)
class Stage:
    """One polyphase FIR stage: ``up``/``down`` and integer taps in units of 2**-q, phase-major:
    ``taps[p * width + k]`` is tap k of phase p.

    Output n is ``sum_k tap(p, k) * x[j - k]`` with ``j = n*down // up`` the newest input
    it uses and ``p = n*down % up`` its phase. ``length`` is the prototype's length before
    it was split into phases (odd, linear phase: its delay is (length-1)/2 prototype samples).
    """

    up: int
    down: int
    taps: array[int]
    width: int  # taps a phase
    q: int
    length: int

    @property
    def delay(self) -> float:
        """Group delay in this stage's output samples."""
        return (self.length - 1) / 2 / self.down


# -- the shipped plans ------------------------------------------------------------------

#: The designs for every pair of supported rates (``shipped_pairs``), made by
#: ``framer_design.design`` and written by ``scripts/framer-taps``: a design at run time costs
#: up to ~0.5 s of CPU here (seconds on a Pi Zero) at the first call, and numpy's ~13 MB of
#: the daemon's RSS for good. tests/audio/test_framer.py holds the file equal to ``design``.
TAPS_FILE: Final = Path(__file__).resolve().parent.parent / "data" / "framer_taps.bin"

# The file's layout (our own: read with struct and array, no foreign format's parser).
# _MAGIC names it and its version; the rest is zlib-compressed, all little-endian: for each
# pair _PAIR (in rate, out rate, stages), then for each stage _STAGE (up, down, q, length,
# width) and up * width int32 taps, phase-major. A new layout gets a new magic.
_MAGIC: Final = b"booth framer taps 1\n"
_PAIR: Final = struct.Struct("<3I")
_STAGE: Final = struct.Struct("<5I")


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
    if shipped is not None:
        return shipped
    from booth.audio.framer_design import design  # numpy: only for a pair not shipped

    return design(in_rate, out_rate)


def _shipped(in_rate: int, out_rate: int) -> tuple[Stage, ...] | None:
    try:
        data = TAPS_FILE.read_bytes()
    except OSError:  # not installed with the package: design it
        return None
    return unpack_taps(data, (in_rate, out_rate)).get((in_rate, out_rate))


def pack_taps(plans: Mapping[tuple[int, int], tuple[Stage, ...]]) -> bytes:
    """Plans in ``TAPS_FILE``'s layout."""
    body = bytearray()
    for (in_rate, out_rate), stages in plans.items():
        body += _PAIR.pack(in_rate, out_rate, len(stages))
        for stage in stages:
            body += _STAGE.pack(stage.up, stage.down, stage.q, stage.length, stage.width)
            taps = array("i", stage.taps)
            if not _LITTLE_ENDIAN:
                taps.byteswap()
            body += taps.tobytes()
    import zlib  # here, not at the top: ~160 kB of RSS the idle daemon need not have

    return _MAGIC + zlib.compress(bytes(body), 9)


def unpack_taps(
    data: bytes, only: tuple[int, int] | None = None
) -> dict[tuple[int, int], tuple[Stage, ...]]:
    """The plans in ``data`` (``pack_taps``' layout): all, or only the pair ``only``."""
    if not data.startswith(_MAGIC) or array("i").itemsize != 4:
        raise ValueError("not a framer taps file of this version")
    import zlib  # a Framer is made at a call, and the call's WebSocket stack loads it too

    body = memoryview(zlib.decompress(data[len(_MAGIC) :]))
    plans: dict[tuple[int, int], tuple[Stage, ...]] = {}
    at = 0
    while at < len(body):
        in_rate, out_rate, count = _PAIR.unpack_from(body, at)
        at += _PAIR.size
        stages = []
        for _ in range(count):
            up, down, q, length, width = _STAGE.unpack_from(body, at)
            at += _STAGE.size
            end = at + 4 * up * width
            if only is None or only == (in_rate, out_rate):
                taps = array("i")
                taps.frombytes(body[at:end])
                if not _LITTLE_ENDIAN:
                    taps.byteswap()
                stages.append(Stage(up, down, taps, width, q, length))
            at = end
        if only is None or only == (in_rate, out_rate):
            plans[in_rate, out_rate] = tuple(stages)
    return plans


def linear_gain(gain_db: float) -> float:
    """A gain in dB as the factor the engine multiplies by."""
    return float(10.0 ** (gain_db / 20.0))


# -- the streaming engine ---------------------------------------------------------------


@functools.lru_cache(maxsize=32)
def _engine_stage(stage: Stage) -> tuple[bytes, int, int, int]:
    """A stage as ``booth.audio._fir.Chain`` takes it: (taps, up, down, taps a phase), the
    taps phase-major float64 in signal units (times 2**-q, a power of two: exact)."""
    scale = 2.0**-stage.q
    taps = array("d", [tap * scale for tap in stage.taps])
    return taps.tobytes(), stage.up, stage.down, stage.width


class Framer:
    """Resample int16 PCM to ``out_rate`` and cut it into frames of ``frame_samples``.

    The work is one call into ``booth.audio._fir`` a block (downmix, stages, DC blocker,
    gain, rounding, framing); this class holds torn frames of bytes back until they are
    whole, swaps byte order on a big-endian machine, and keeps the counts."""

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
            DC_POLE,
            linear_gain(gain_db),
            channels,
        )
        self._unit = 2 * channels  # bytes an input frame
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

    def push(self, pcm: Pcm) -> list[bytes]:
        """Feed int16 PCM (``Pcm``: interleaved when channels > 1); return the frames now
        complete."""
        raw, count = self._feed(pcm)
        if count <= 1:
            return [raw] if count else []
        fb = self.frame_bytes
        return [raw[i * fb : (i + 1) * fb] for i in range(count)]

    def push_bytes(self, pcm: Pcm) -> bytes:
        """Like push() but the completed frames joined into one bytes object (playback wants
        a stream, not 1 ms frames one by one)."""
        return self._feed(pcm)[0]

    def process(self, pcm: Pcm) -> Int16Array:
        """Like push() but return the completed frames as one int16 array (tests, benches)."""
        import numpy as np  # not on the daemon's path: it pushes bytes

        return np.frombuffer(self.push_bytes(pcm), dtype="<i2").astype(np.int16)

    # -- internals ----------------------------------------------------------------------

    def _feed(self, pcm: Pcm) -> tuple[bytes, int]:
        """Resample pcm; the frames now complete, as one bytes object, and their count.

        The path of every block: each Python call and attribute lookup is a visible part of
        its cost, so whole-frame bytes go straight to the engine, and so does anything not
        bytes-like (arrays: the engine reads any int16 buffer and refuses the rest, with
        TypeError or ValueError, taking nothing)."""
        if type(pcm) is bytes and not (self._partial or len(pcm) % self._unit) and _LITTLE_ENDIAN:
            raw = self._engine.push(pcm)
        else:
            raw = self._engine.push(self._whole(pcm) if isinstance(pcm, _BYTES) else pcm)
            if not _LITTLE_ENDIAN:
                raw = _swapped(raw)
        count = len(raw) // self.frame_bytes
        self._frames_out += count
        return raw, count

    def _whole(self, pcm: bytes | bytearray | memoryview) -> bytes | bytearray | memoryview:
        """Little-endian PCM bytes as whole frames of native int16: a torn frame (an odd
        byte, or a sample short of all channels) waits for the rest."""
        if isinstance(pcm, memoryview):
            pcm = pcm.cast("B")
        if self._partial or len(pcm) % self._unit:
            data = self._partial + bytes(pcm)
            whole = len(data) - len(data) % self._unit
            self._partial = data[whole:]
            pcm = memoryview(data)[:whole]
        return pcm if _LITTLE_ENDIAN else _swapped(pcm)


def _swapped(pcm: bytes | bytearray | memoryview) -> bytes:
    """int16 PCM with each sample's bytes swapped (little-endian <-> native, big-endian)."""
    samples = array("h")
    samples.frombytes(pcm)
    samples.byteswap()
    return samples.tobytes()
