"""Speaker playback: one output stream for the whole call, fed from the jitter buffer.

Reopening a stream per utterance clips the start of speech and races other users of the
device ("device busy"), so the stream opens once and plays silence between turns. A Python
thread of our own writes it in PortAudio's blocking mode (:mod:`booth.audio.writer`: why not
callback mode, and why it waits for the device's room before it takes a block), copying each
block from the jitter buffer under a short lock. Persona audio (16 kHz) is resampled to the
device rate by the fixed-point framer when the device refuses 16 kHz; sound cues take the same
path.

A write that fails, or a device that takes nothing for ``stall_timeout`` seconds, makes
:meth:`Playback.healthy` false (the daemon then reports AUDIO_PLAYBACK_BLOCKED).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time

from booth.audio import devices
from booth.audio._pcm import to_stereo
from booth.audio.framer import Framer
from booth.audio.jitter import JitterBuffer, JitterStats
from booth.audio.probe import PlaybackProbe
from booth.audio.writer import BlockWriter
from booth.errors import BoothError, ErrorCode

log = logging.getLogger(__name__)

IN_RATE = 16000
# The device reads the jitter buffer this often. A read needs a whole block queued, so the
# block comes out of the prebuffer's margin for network jitter (20 ms leaves 60 of 80 ms).
# 10 ms was measured too: 5 ms off the wire-to-speaker p99 in the pipeline bench, no fewer
# underruns there (they follow 90-140 ms gaps, not the 40 ms spread), twice the playback
# thread's CPU.
PLAYBACK_BLOCK_MS = 20


class Playback:
    """``write(pcm16k)``, ``flush()``, ``play_cue(pcm16k)``; counters in ``stats``."""

    def __init__(
        self,
        device: str = "",
        rate: int = 0,
        *,
        prebuffer_ms: float = 60.0,
        capacity_ms: float = 1000.0,
        gain_db: float = 0.0,
        block_ms: int = PLAYBACK_BLOCK_MS,
        source_rate: int = IN_RATE,
        confirm_underruns: bool = False,
        stall_timeout: float = 1.5,
    ) -> None:
        """``source_rate``: the rate of what is written (the protocol's persona audio)."""
        self.stall_timeout = stall_timeout
        self.source_rate = source_rate
        self.confirm_underruns = confirm_underruns  # see JitterBuffer
        self.device_pattern = device
        self.configured_rate = rate
        self.prebuffer_ms = prebuffer_ms
        self.capacity_ms = capacity_ms
        self.gain_db = gain_db
        self.block_ms = block_ms
        self.device: devices.DeviceInfo | None = None
        self.rate = 0
        self.channels = 1
        self._writer: BlockWriter | None = None
        self._failed = False  # the writer's write failed
        # _lock guards what the writer reads (the jitter buffer, _idle); _framer_lock the
        # framer, which only the loop and open() use, so resampling a persona chunk never holds
        # up the writer. Taken in that order: _framer_lock, then _lock.
        self._lock = threading.Lock()
        self._framer_lock = threading.Lock()
        self._jitter = JitterBuffer(
            source_rate, prebuffer_ms, capacity_ms, confirm_underruns=confirm_underruns
        )
        self._framer: Framer | None = None
        self._early = bytearray()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._drained = asyncio.Event()
        self._drained.set()
        self._idle = True  # writer side: nothing queued or playing
        self.blocks = 0  # blocks handed to the device
        #: Native id of the thread that writes the device (for per-thread CPU figures).
        self.audio_thread: int | None = None
        self.probe: PlaybackProbe | None = None  # a bench's timing hooks

    # -- lifecycle ------------------------------------------------------------------------

    @property
    def is_open(self) -> bool:
        return self._writer is not None

    @property
    def stats(self) -> JitterStats:
        return self._jitter.stats

    @property
    def buffered_ms(self) -> float:
        with self._lock:
            return self._jitter.buffered_ms

    @property
    def playing(self) -> bool:
        with self._lock:
            return self._jitter.playing

    async def start(self) -> None:
        """Open the output device (once per call). Raises BoothError AUDIO_PLAYBACK_BLOCKED."""
        if self._writer is not None:
            return
        self._loop = asyncio.get_running_loop()
        await self._loop.run_in_executor(None, self._open)

    async def stop(self) -> None:
        await asyncio.get_running_loop().run_in_executor(None, self._close)

    def healthy(self) -> bool:
        """False once the stream has died (a write failed: device unplugged or failed) or the
        device has taken nothing for ``stall_timeout`` seconds."""
        writer = self._writer
        return (
            writer is not None
            and not self._failed
            and time.monotonic() - writer.last_io < self.stall_timeout
        )

    # -- audio in -----------------------------------------------------------------------

    def write(self, pcm16k: bytes) -> None:
        """Queue persona audio: s16le mono 16 kHz, any whole number of samples."""
        self._drained.clear()
        with self._framer_lock:
            if self._framer is None:
                # Not open yet: keep it at 16 kHz until open() knows the device rate.
                with self._lock:
                    self._idle = False
                    self._early += pcm16k
                return
            pcm = self._framer.push_bytes(pcm16k)
            with self._lock:
                self._idle = False
                position = self._jitter.speech_written
                self._queue(pcm)
                if self.probe is not None:
                    self.probe.queued(pcm16k, position, time.monotonic())

    def _queue(self, pcm: bytes, *, cue: bool = False) -> None:
        if not pcm:
            return
        if self.channels != 1:
            pcm = to_stereo(pcm)
        if cue:
            self._jitter.write_cue(pcm)
        else:
            self._jitter.write(pcm)

    async def wait_drained(self) -> None:
        """Wait until everything written so far has been handed to the device."""
        await self._drained.wait()

    def mark_end(self) -> None:
        """The turn is over: play out what is queued and do not count the drain as an
        underrun."""
        with self._framer_lock:
            tail = self._framer_tail()  # the filter's tail, which is audio of this turn …
            with self._lock:
                self._jitter.mark_end()  # first: running dry so far was the turn's end
                self._queue(tail)
                self._jitter.mark_end()  # … so its end again

    def play_cue(self, pcm16k: bytes) -> None:
        """Play a sound cue through the same stream, after anything queued; persona speech
        that arrives while it plays is mixed over it instead of waiting for its end."""
        self._drained.clear()
        with self._framer_lock:
            framer = self._framer
            pcm = b"" if framer is None else framer.push_bytes(pcm16k) + self._framer_tail()
            with self._lock:
                self._idle = False
                if framer is None:
                    self._early += pcm16k
                    self._jitter.mark_end()
                    return
                self._queue(pcm, cue=True)

    def flush(self) -> int:
        """Drop all queued audio now (barge-in, `interruption`). Returns samples dropped."""
        with self._framer_lock, self._lock:
            if self._framer is not None:
                self._framer.reset()
            dropped = len(self._early) // 2
            self._early.clear()
            dropped += self._jitter.flush()
            self._idle = True
            if self.probe is not None:
                self.probe.reset(time.monotonic())
        self._drained.set()
        return dropped

    # -- device side (worker and writer threads) ----------------------------------------

    def _framer_tail(self) -> bytes:
        framer = self._framer
        if framer is None:
            return b""
        # Push the filter's tail and any partial frame out (its delay plus one frame of
        # silence: at most 1 ms more than the audio itself).
        tail = int(framer.delay * framer.in_rate / framer.out_rate) + framer.frame_samples
        return framer.push_bytes(bytes(2 * tail))

    def _open(self) -> None:
        import pyaudio

        self._close()
        pa = devices.open_portaudio()
        try:
            dev = devices.select_device(pa, self.device_pattern, input=False)
            channels = 1
            if not any(
                devices.rate_supported(pa, dev, r, input=False, channels=1)
                for r in devices.NEGOTIATION_ORDER
            ):
                channels = 2  # some USB speakers take stereo only
            rate = devices.negotiate_rate(
                pa, dev, self.configured_rate or self.source_rate, input=False, channels=channels
            )
            block = rate * self.block_ms // 1000
            with self._framer_lock, self._lock:
                # A fresh buffer per open: one stream, and one set of counters, per call.
                self._jitter = JitterBuffer(
                    rate,
                    self.prebuffer_ms,
                    self.capacity_ms,
                    channels,
                    confirm_underruns=self.confirm_underruns,
                    drain=True,  # a late start's excess latency goes in the next pauses
                )
                self._framer = Framer(
                    self.source_rate,
                    rate,
                    frame_samples=max(1, rate // 1000),
                    gain_db=self.gain_db,
                )
                self.rate, self.channels = rate, channels
                if self.probe is not None:
                    self.probe.reset(time.monotonic())
                if self._early:
                    self._queue(self._framer.push_bytes(bytes(self._early)))
                    self._early.clear()
            try:
                stream = pa.open(
                    format=pyaudio.paInt16,
                    channels=channels,
                    rate=rate,
                    output=True,
                    output_device_index=dev.index,
                    frames_per_buffer=block,  # blocking mode: no stream_callback
                )
            except (OSError, ValueError) as exc:
                raise devices.map_open_error(exc, input=False, device=dev.name) from None
        except BoothError:
            devices.terminate(pa)
            raise
        except Exception as exc:
            devices.terminate(pa)
            raise BoothError(
                ErrorCode.AUDIO_PLAYBACK_BLOCKED, f"cannot open the speaker: {exc}"
            ) from None
        writer = BlockWriter(
            pa,
            stream,
            frames=block,
            rate=rate,
            fill=self._block,
            on_error=self._write_failed,
            device=f"speaker {dev.name!r}",
        )
        self._writer, self.device, self._failed = writer, dev, False
        try:
            writer.start()  # if it cannot start, it has closed the stream
        except BaseException:
            self._writer = None
            raise
        self.audio_thread = writer.native_id
        log.info("speaker open: %s at %d Hz, %d channel(s)", dev.name, rate, channels)

    def _close(self) -> None:
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.release()  # bounded; a stalled writer closes the stream itself

    def _write_failed(self, writer: BlockWriter, reason: str) -> None:
        if writer is self._writer:  # not an earlier, released stream's
            self._failed = True
            log.warning("%s: the write failed (%s)", writer.device, reason)

    def _block(self, frame_count: int) -> bytes:
        """The next block for the device (on the writer thread)."""
        self.blocks += 1
        with self._lock:
            out = self._jitter.read(frame_count)
            if self.probe is not None:
                jitter = self._jitter
                self.probe.read(
                    jitter.speech_read, jitter.stats.underruns, jitter.buffered_ms, time.monotonic()
                )
            drained = not self._idle and not self._jitter.playing and not self._jitter.buffered
            if drained:
                self._idle = True
        if drained and self._loop is not None:
            with contextlib.suppress(RuntimeError):  # loop already closed
                self._loop.call_soon_threadsafe(self._drained.set)
        return out
