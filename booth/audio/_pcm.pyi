"""Small exact int16 PCM operations, in C (booth/audio/_pcm.c): the daemon's per-block work
without numpy. PCM is native-endian int16: bytes, bytearray, a memoryview of bytes, or a
contiguous 1-d int16 buffer."""

from typing_extensions import Buffer

def sum_squares(pcm: Buffer, /) -> int:
    """The exact sum of the squares of the samples (0 for none)."""

def add_saturating(dst: Buffer, src: Buffer, /) -> None:
    """Add src into dst (writable, as long as src) in place, saturating at the int16 rails."""

def quiet_units(pcm: Buffer, unit: int, limit: int, /) -> bytes:
    """One byte a run of ``unit`` samples: 1 if every sample is within -limit..limit."""

def to_stereo(mono: Buffer, /) -> bytes:
    """Interleaved stereo with each sample in both channels."""
