"""Playback jitter buffer: network audio in, fixed-size reads out for the output callback.

Sans-I/O and single-threaded (the playback adapter holds a lock around it). Bounded: when
full, the oldest audio is dropped so the persona never drifts further behind. Reads start
only once ``prebuffer`` samples are queued (absorbing network jitter), always return exactly
the requested size, and fill with silence on an underrun, which is counted.

A preallocated ring: writes copy into it and reads copy out of it, so the only allocation
per read is the ``bytes`` PortAudio's callback must return.

Sound cues (``write_cue``) are queued like speech, but speech that arrives while a cue is
playing does not wait for the cue's end (a 230 ms start cue queued just before the greeting
delayed the whole greeting by up to 230 ms). It is held aside until a prebuffer of it has
come, then mixed in from the read position: the normal start rule, with the cue as
background. If the cue ends first, the held speech simply starts the normal way.

Draining (``drain=True``): a turn whose playback started late (the device read came after
the prebuffer was reached, or the prebuffer's last chunk came late while the rest came early)
keeps that excess queued for the whole turn: up to a read and the jitter's spread more
latency. Real jitter buffers adapt their playout point; this one drops near-silent 10 ms
stretches (every sample within ±QUIET) while the excess lasts, never voiced audio and never
over a cue. The excess: at the start, what is queued beyond the prebuffer; then, every
window, the lowest level before a read beyond one read and half the prebuffer.

``speech_written`` / ``speech_read`` count speech bytes (cues left out) queued and handed
to the device, so a probe can tell when a given chunk's first sample was played wherever
it was mixed in.
"""

from __future__ import annotations

from dataclasses import dataclass

from booth.audio._pcm import add_saturating, quiet_units


@dataclass
class JitterStats:
    underruns: int = 0  # reads that ran dry mid-stream (audio was cut)
    overflows: int = 0  # writes that pushed out older audio
    dropped_samples: int = 0  # samples lost to overflows and flushes
    flushes: int = 0
    written_samples: int = 0
    played_samples: int = 0  # real (non-silence) samples handed to the device
    drained_samples: int = 0  # near-silence dropped to bring a turn's latency down


#: Draining: a stretch this long whose every sample is within ±QUIET (about -50 dBFS) may be
#: dropped while the lowest level before a read over a window stays above one read plus half
#: the prebuffer (the margin left for jitter the window did not show).
DRAIN_STEP_MS = 10
DRAIN_WINDOW_MS = 500
QUIET = 100


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
        drain: bool = False,
    ) -> None:
        """``confirm_underruns``: count running dry only once more audio follows before
        :meth:`mark_end`. For a service without turn markers, whose turn end is only known
        after the fact: the natural end of persona audio is no underrun.

        ``drain``: bring the queue back down to what the jitter needs by dropping near-silent
        stretches (see the module docstring)."""
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
        # [_read, _written); the last cue is [_cue_from, _cue_to), of which
        # [_cue_from, _speech_from) carries no speech.
        self._read = 0
        self._written = 0
        self._cue_from = self._cue_to = self._speech_from = 0
        self._held = bytearray()  # speech waiting for its prebuffer over a playing cue
        self._mix_at: int | None = None  # where the next speech goes while over a cue
        self._speech_written = 0
        self._speech_read = 0
        self._playing = False
        self._ending = False
        self.confirm_underruns = confirm_underruns
        self._dry = False  # ran dry; an underrun if more audio comes before mark_end
        self.stats = JitterStats()
        self.drain = drain
        ms = rate // 1000 * self._bpf  # bytes per millisecond
        self._unit = ms
        self._step = DRAIN_STEP_MS * ms
        self._window = DRAIN_WINDOW_MS * ms
        self._margin = self.prebuffer // 2 * self._bpf
        self._excess = 0  # bytes the queue holds beyond what the jitter needs, to drain
        self._low = 0  # the lowest queue level before a read in this window
        self._seen = 0  # bytes read in this window

    @property
    def buffered(self) -> int:
        """Samples (per channel) queued, held speech included."""
        return (self._written - self._read + len(self._held)) // self._bpf

    @property
    def buffered_ms(self) -> float:
        return 1000.0 * self.buffered / self.rate

    @property
    def playing(self) -> bool:
        """True while reads return queued audio (prebuffer reached, not yet run dry)."""
        return self._playing

    @property
    def speech_written(self) -> int:
        """Bytes of speech (``write``) queued since creation: where the next one starts."""
        return self._speech_written

    @property
    def speech_read(self) -> int:
        """Bytes of speech handed out by reads (or dropped) since creation."""
        return self._speech_read

    def write(self, pcm: bytes | bytearray | memoryview) -> int:
        """Queue speech; returns the number of old samples dropped to make room."""
        data = memoryview(pcm).cast("B")
        n = len(data)
        if n % self._bpf:
            raise ValueError(f"{n} bytes is not a whole number of {self._bpf}-byte samples")
        self._settle()
        if self._dry:
            self._dry = False
            self.stats.underruns += 1
        self.stats.written_samples += n // self._bpf
        self._speech_written += n
        if self._mix_at is not None:
            # Speech already playing over the cue: go on where the last chunk ended.
            start = self._mix_at
            if start < self._read:
                # It ran dry under the cue (the cue hid the gap; read() did not see it).
                if self._read < self._written:
                    self.stats.underruns += 1
                start = self._read
            self._ending = False
            self._mix_from(start, data)
        elif self._read < self._cue_to == self._written == self._speech_from:
            # The first speech over a playing cue: wait for a prebuffer of it.
            self._held += data
            if len(self._held) < self.prebuffer * self._bpf:
                return 0
            self._release()
        else:
            self._ending = False
            self._append(data)
        return self._trim()

    def write_cue(self, pcm: bytes | bytearray | memoryview) -> int:
        """Queue a sound cue: played even below the prebuffer, its end is not an underrun,
        and speech written while it plays is mixed over it (see the module docstring)."""
        data = memoryview(pcm).cast("B")
        if len(data) % self._bpf:
            raise ValueError(f"{len(data)} bytes is not a whole number of samples")
        self._settle()
        if self._held:  # speech held over an earlier cue: it plays now, before this one
            self._release()
        if self._dry:  # as write(): audio came after running dry
            self._dry = False
            self.stats.underruns += 1
        self.stats.written_samples += len(data) // self._bpf
        self._cue_from = self._written
        self._mix_at = None
        self._append(data)
        self._cue_to = self._speech_from = self._written
        self._ending = True
        return self._trim()

    def mark_end(self) -> None:
        """No more audio for now: play what is queued even if below the prebuffer, and do
        not count running dry as an underrun (end of a turn, a short cue)."""
        self._settle()
        if self._held:
            self._release()
            self._trim()
        if self._mix_at is not None:
            # The rest of the cue carries no more speech, and the next turn over it waits
            # its own prebuffer.
            self._cue_from, self._speech_from = self._mix_at, self._cue_to
            self._mix_at = None
        self._ending = True
        self._dry = False

    def read(self, samples: int) -> bytes:
        """Exactly ``samples`` samples: queued audio, padded with silence when short."""
        self._settle()
        want = samples * self._bpf
        queued = self._written - self._read
        if not self._playing:
            if queued >= max(self.prebuffer, 1) * self._bpf or (self._ending and queued):
                self._playing = True
                # Started late (the read came after the prebuffer was reached): the excess
                # is what the jitter did not need.
                self._excess = max(0, queued - self.prebuffer * self._bpf)
                self._low, self._seen = queued, 0
            else:
                return bytes(want)
        elif self.drain:
            self._watch(queued, want)
        if self._excess >= self._step and self.drain:
            queued -= self._drain(queued, want)
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
        self._held.clear()
        self._cue_from = self._cue_to = self._speech_from = 0
        self._speech_read = self._speech_written
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
        head, tail = self._spans(self._written, n)
        head[:] = data[: len(head)]
        tail[:] = data[len(head) :]
        self._written += n

    def _take(self, n: int) -> bytes:
        head, tail = self._spans(self._read, n)
        chunk = head.tobytes() + tail if tail else head.tobytes()
        self._advance(n)
        self.stats.played_samples += n // self._bpf
        return chunk

    def _trim(self) -> int:
        """Drop the oldest audio beyond capacity; returns samples dropped."""
        excess = self._written - self._read - self._size
        if excess <= 0:
            return 0
        self._advance(excess)
        self.stats.overflows += 1
        self.stats.dropped_samples += excess // self._bpf
        return excess // self._bpf

    def _advance(self, n: int) -> None:
        """Move the read position n bytes on, counting the speech among them."""
        start, end = self._read, self._read + n
        cue = _overlap(start, end, self._cue_from, self._speech_from)
        if self._mix_at is not None:  # the cue beyond the speech mixed in so far
            cue += _overlap(start, end, self._mix_at, self._written)
        self._speech_read += n - cue
        self._read = end

    def _watch(self, queued: int, want: int) -> None:
        """Track the lowest level before a read; each window, what it keeps beyond one read
        and a margin is excess: the jitter seen did not need it."""
        self._low = min(self._low, queued)
        self._seen += want
        if self._seen >= self._window:
            self._excess = max(0, self._low - want - self._margin)
            self._low, self._seen = queued, 0

    def _drain(self, queued: int, want: int) -> int:
        """Drop one near-silent stretch from the audio this read or the next plays (never
        over a cue, never voiced audio); returns the bytes dropped."""
        if self._read < self._cue_to or self._mix_at is not None or self._held:
            return 0
        span = min(queued, want + self._step) // self._unit
        need = self._step // self._unit
        if span < need:
            return 0
        seg = self._segment(self._read, span * self._unit)
        # The first run of need quiet units: where their flags spell need ones.
        found = quiet_units(seg, self._unit // 2, QUIET).find(b"\1" * need)
        if found < 0:
            return 0
        head = found * self._unit
        if head:  # the audio before the stretch moves up to close the gap
            self._store(self._read + self._step, seg[:head])
        self._advance(self._step)
        self._excess -= self._step
        self.stats.drained_samples += self._step // self._bpf
        return self._step

    def _settle(self) -> None:
        """The cue ended before a prebuffer of held speech came: it starts the normal way,
        from an empty queue."""
        if self._held and self._read >= self._cue_to:
            self._ending = False
            with memoryview(self._held) as held:
                self._append(held)
            self._held.clear()

    def _release(self) -> None:
        """Mix the held speech in from the read position (the cue's start if speech before
        the cue is still playing): it plays from the next read."""
        start = max(self._read, self._cue_from)
        self._speech_from = start
        self._ending = False
        with memoryview(self._held) as held:
            self._mix_from(start, held)
        self._held.clear()

    def _mix_from(self, start: int, data: memoryview) -> None:
        """Add speech into the queue from byte position ``start`` (at most ``_written``,
        saturating); what runs past the queue's end is appended. Notes where the next
        chunk goes while that is still inside the queue."""
        overlap = min(len(data), self._written - start)
        head, tail = self._spans(start, overlap)
        add_saturating(head, data[: len(head)])
        add_saturating(tail, data[len(head) : overlap])
        self._append(data[overlap:])
        end = start + len(data)
        self._mix_at = end if end < self._written else None

    def _segment(self, pos: int, n: int) -> bytes:
        """A copy of n queued bytes from byte position pos."""
        head, tail = self._spans(pos, n)
        return head.tobytes() + tail

    def _store(self, pos: int, raw: bytes) -> None:
        head, tail = self._spans(pos, len(raw))
        head[:] = raw[: len(head)]
        tail[:] = raw[len(head) :]

    def _spans(self, pos: int, n: int) -> tuple[memoryview, memoryview]:
        """The ring's bytes for positions [pos, pos + n), n at most its size: from pos up to
        the ring's end, then (when they wrap) from its start."""
        begin = pos % self._size
        first = min(n, self._size - begin)
        return self._view[begin : begin + first], self._view[: n - first]


def _overlap(start: int, end: int, lo: int, hi: int) -> int:
    """Length of [start, end) within [lo, hi)."""
    return max(0, min(end, hi) - max(start, lo))
