"""Playback jitter buffer: network audio in, fixed-size reads out for the output callback.

Sans-I/O and single-threaded (the playback adapter holds a lock around it). Bounded: when
full, the oldest audio is dropped so the persona never drifts further behind. Reads start
only once ``prebuffer`` samples are queued (absorbing network jitter), always return exactly
the requested size, and fill with silence on an underrun, which is counted.

A preallocated ring: writes copy into it and reads copy out of it, so the only allocation
per read is the ``bytes`` PortAudio's callback must return.

Sound cues (``write_cue``) are queued like speech, but speech that arrives while a cue is
still queued does not wait for the cue's end: it is mixed over the cue from two prebuffers
after its arrival, or from the cue's end if that comes sooner (but never less than one
prebuffer on). A 230 ms start cue queued just before the greeting delayed the whole greeting
by up to 230 ms. Two prebuffers, not one: mixed speech starts on a schedule rather than once
a prebuffer of it is queued, so it keeps the margin a greeting had behind the cue (with one, a
stall at the greeting's start became an underrun now and then).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


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
        self._size = self.capacity * self._bpf
        self._ring = bytearray(self._size)
        self._view = memoryview(self._ring)
        # Byte positions counted since the start (never wrapped): queued audio is
        # [_read, _written); a cue that speech may be mixed over is [_cue_from, _cue_to).
        self._read = 0
        self._written = 0
        self._cue_from = self._cue_to = 0
        self._mix_at: int | None = None  # where the next speech goes while over a cue
        self._playing = False
        self._ending = False
        self.confirm_underruns = confirm_underruns
        self._dry = False  # ran dry; an underrun if more audio comes before mark_end
        self.stats = JitterStats()

    @property
    def buffered(self) -> int:
        """Samples (per channel) queued."""
        return (self._written - self._read) // self._bpf

    @property
    def buffered_ms(self) -> float:
        return 1000.0 * self.buffered / self.rate

    @property
    def playing(self) -> bool:
        """True while reads return queued audio (prebuffer reached, not yet run dry)."""
        return self._playing

    @property
    def written_bytes(self) -> int:
        """Bytes queued since creation (a position: where the next write would go)."""
        return self._written

    @property
    def read_bytes(self) -> int:
        """Bytes read out or dropped since creation."""
        return self._read

    def write(self, pcm: bytes | bytearray | memoryview) -> int:
        """Queue audio; returns the number of old samples dropped to make room."""
        return self.write_at(pcm)[1]

    def write_at(self, pcm: bytes | bytearray | memoryview) -> tuple[int, int]:
        """Like write(); also returns the byte position (see ``read_bytes``) where the
        audio's first sample was placed: later than ``written_bytes`` when mixed over a cue."""
        data = memoryview(pcm).cast("B")
        n = len(data)
        if n % self._bpf:
            raise ValueError(f"{n} bytes is not a whole number of {self._bpf}-byte samples")
        self._ending = False
        if self._dry:
            self._dry = False
            self.stats.underruns += 1
        self.stats.written_samples += n // self._bpf
        if self._mix_at is None and self._cue_to > self._read and self._written == self._cue_to:
            # The first speech since the cue: at least one prebuffer on (after silence if
            # the cue ends sooner), two if the cue lasts that long, else at the cue's end.
            one = self._read + self.prebuffer * self._bpf
            two = one + self.prebuffer * self._bpf
            self._mix_at = max(self._cue_from, one, min(self._cue_to, two))
        if self._mix_at is None:
            start = self._written
            self._append(data)
        else:
            start = max(self._mix_at, self._read)  # a late chunk plays at once
            self._mix_in(start, data)
            end = start + n
            self._mix_at = end if end < self._written else None  # still inside the cue
        if self._mix_at is None:
            self._cue_from = self._cue_to = 0
        return start, self._trim()

    def write_cue(self, pcm: bytes | bytearray | memoryview) -> int:
        """Queue a sound cue: played even below the prebuffer, its end is not an underrun,
        and speech written while it is queued plays over it (see the module docstring)."""
        data = memoryview(pcm).cast("B")
        if len(data) % self._bpf:
            raise ValueError(f"{len(data)} bytes is not a whole number of samples")
        if self._dry:  # as write(): audio came after running dry
            self._dry = False
            self.stats.underruns += 1
        self.stats.written_samples += len(data) // self._bpf
        self._cue_from = self._written
        self._mix_at = None
        self._append(data)
        self._cue_to = self._written
        self._ending = True
        return self._trim()

    def mark_end(self) -> None:
        """No more audio for now: play what is queued even if below the prebuffer, and do
        not count running dry as an underrun (end of a turn, a short cue)."""
        self._ending = True
        self._dry = False

    def read(self, samples: int) -> bytes:
        """Exactly ``samples`` samples: queued audio, padded with silence when short."""
        want = samples * self._bpf
        queued = self._written - self._read
        if not self._playing:
            if queued >= max(self.prebuffer, 1) * self._bpf or (self._ending and queued):
                self._playing = True
            else:
                return bytes(want)
        take = min(want, queued)
        chunk = self._take(take)
        if take < want:
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
            chunk += bytes(want - take)
        elif self._read == self._written and self._ending:
            self._playing = False
            self._ending = False
        return chunk

    def flush(self) -> int:
        """Drop everything queued (barge-in, `interruption`); returns samples dropped."""
        dropped = self.buffered
        self._read = self._written
        self._cue_from = self._cue_to = 0
        self._mix_at = None
        self._playing = False
        self._ending = False
        self._dry = False
        self.stats.flushes += 1
        self.stats.dropped_samples += dropped
        return dropped

    # -- internals ----------------------------------------------------------------------

    def _append(self, data: memoryview) -> None:
        n = len(data)
        if n > self._size:  # more than the whole buffer: only the newest part can stay
            skipped = n - self._size
            self._written += skipped  # written and at once overwritten: _trim drops it
            data = data[skipped:]
            n = self._size
        start = self._written % self._size
        first = min(n, self._size - start)
        self._view[start : start + first] = data[:first]
        if first < n:
            self._view[: n - first] = data[first:]
        self._written += n

    def _take(self, n: int) -> bytes:
        start = self._read % self._size
        end = start + n
        if end <= self._size:
            chunk = self._view[start:end].tobytes()
        else:
            chunk = self._view[start:].tobytes() + self._view[: end - self._size]
        self._read += n
        self.stats.played_samples += n // self._bpf
        return chunk

    def _trim(self) -> int:
        """Drop the oldest audio beyond capacity; returns samples dropped."""
        excess = self._written - self._read - self._size
        if excess <= 0:
            return 0
        self._read += excess
        self.stats.overflows += 1
        self.stats.dropped_samples += excess // self._bpf
        return excess // self._bpf

    def _mix_in(self, start: int, data: memoryview) -> None:
        """Add speech into the queue from byte position ``start`` (saturating), after
        silence if the queue ends sooner; what runs past the queue's end is appended."""
        if start >= self._written:
            self._append(memoryview(bytes(start - self._written)))
            self._append(data)
            return
        overlap = min(len(data), self._written - start)
        queued = self._segment(start, overlap)
        mixed = queued.astype(np.int32) + np.frombuffer(data[:overlap], dtype="<i2")
        self._store(start, np.clip(mixed, -32768, 32767).astype("<i2").tobytes())
        self._append(data[overlap:])

    def _segment(self, pos: int, n: int) -> np.ndarray:
        """A copy of n queued bytes from byte position pos, as int16."""
        begin = pos % self._size
        first = min(n, self._size - begin)
        raw = self._view[begin : begin + first].tobytes() + self._view[: n - first].tobytes()
        return np.frombuffer(raw, dtype="<i2")

    def _store(self, pos: int, raw: bytes) -> None:
        begin = pos % self._size
        first = min(len(raw), self._size - begin)
        self._view[begin : begin + first] = raw[:first]
        self._view[: len(raw) - first] = raw[first:]
