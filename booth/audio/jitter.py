"""Playback jitter buffer: network audio in, fixed-size reads out for the output callback.

Sans-I/O and single-threaded (the playback adapter holds a lock around it). Bounded: when
full, the oldest audio is dropped so the persona never drifts further behind. Reads start
only once ``prebuffer`` samples are queued (absorbing network jitter), always return exactly
the requested size, and fill with silence on an underrun, which is counted.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class JitterStats:
    underruns: int = 0  # reads that ran dry mid-stream (audio was cut)
    overflows: int = 0  # writes that pushed out older audio
    dropped_samples: int = 0  # samples lost to overflows and flushes
    flushes: int = 0
    written_samples: int = 0
    played_samples: int = 0  # real (non-silence) samples handed to the device


class JitterBuffer:
    """Bounded FIFO of int16 PCM with a prebuffer, silence on underrun and flush()."""

    def __init__(
        self,
        rate: int = 16000,
        prebuffer_ms: float = 60.0,
        capacity_ms: float = 1000.0,
        channels: int = 1,
        *,
        confirm_underruns: bool = False,
    ) -> None:
        """``confirm_underruns``: count running dry only once more audio follows before
        :meth:`mark_end`. For a service without turn markers, whose turn end is only known
        after the fact: the natural end of persona audio is no underrun."""
        if rate <= 0 or channels <= 0:
            raise ValueError("rate and channels must be positive")
        self.rate = rate
        self.channels = channels
        self._bpf = 2 * channels  # bytes per sample frame
        self.prebuffer = round(rate * prebuffer_ms / 1000)
        self.capacity = round(rate * capacity_ms / 1000)
        if self.capacity < 1 or self.prebuffer > self.capacity:
            raise ValueError(
                f"need 0 <= prebuffer ({prebuffer_ms} ms) <= capacity ({capacity_ms} ms)"
            )
        self._buf = bytearray()
        self._playing = False
        self._ending = False
        self.confirm_underruns = confirm_underruns
        self._dry = False  # ran dry; an underrun if more audio comes before mark_end
        self.stats = JitterStats()

    @property
    def buffered(self) -> int:
        """Samples (per channel) queued."""
        return len(self._buf) // self._bpf

    @property
    def buffered_ms(self) -> float:
        return 1000.0 * self.buffered / self.rate

    @property
    def playing(self) -> bool:
        """True while reads return queued audio (prebuffer reached, not yet run dry)."""
        return self._playing

    def write(self, pcm: bytes | bytearray | memoryview) -> int:
        """Queue audio; returns the number of old samples dropped to make room."""
        data = bytes(pcm)
        if len(data) % self._bpf:
            raise ValueError(f"{len(data)} bytes is not a whole number of {self._bpf}-byte samples")
        self._buf += data
        self._ending = False
        if self._dry:
            self._dry = False
            self.stats.underruns += 1
        self.stats.written_samples += len(data) // self._bpf
        excess = len(self._buf) // self._bpf - self.capacity
        if excess <= 0:
            return 0
        del self._buf[: excess * self._bpf]
        self.stats.overflows += 1
        self.stats.dropped_samples += excess
        return excess

    def mark_end(self) -> None:
        """No more audio for now: play what is queued even if below the prebuffer, and do
        not count running dry as an underrun (end of a turn, a short cue)."""
        self._ending = True
        self._dry = False

    def read(self, samples: int) -> bytes:
        """Exactly ``samples`` samples: queued audio, padded with silence when short."""
        want = samples * self._bpf
        if not self._playing:
            if self.buffered >= max(self.prebuffer, 1) or (self._ending and self._buf):
                self._playing = True
            else:
                return bytes(want)
        chunk = bytes(self._buf[:want])
        del self._buf[:want]
        self.stats.played_samples += len(chunk) // self._bpf
        if len(chunk) < want:
            if self._ending:
                pass
            elif self.confirm_underruns:
                self._dry = True
            else:
                self.stats.underruns += 1
            # Build the prebuffer again before resuming, so one late packet does not
            # turn into a stutter of many short gaps.
            self._playing = False
            self._ending = False
            chunk += bytes(want - len(chunk))
        elif not self._buf and self._ending:
            self._playing = False
            self._ending = False
        return chunk

    def flush(self) -> int:
        """Drop everything queued (barge-in, `interruption`); returns samples dropped."""
        dropped = self.buffered
        self._buf.clear()
        self._playing = False
        self._ending = False
        self._dry = False
        self.stats.flushes += 1
        self.stats.dropped_samples += dropped
        return dropped
