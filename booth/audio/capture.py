"""Microphone capture: PortAudio blocking reads on a thread of ours, 20 ms 16 kHz frames out on
the event loop.

A Python thread of our own reads the stream in PortAudio's blocking mode (``stream.read``
releases the GIL while it waits). It is not callback mode because PyAudio wraps every callback
in ``PyGILState_Ensure``/``Release`` on PortAudio's thread, which has no Python thread state of
its own: each callback made and freed one (a fresh frame stack mapped and unmapped each time),
about a quarter of that thread's CPU. The reader only resamples and frames (tens of microseconds
a block) and hands a block's finished frames to the loop with one ``loop.call_soon_threadsafe``;
nothing here ever blocks the loop. On the loop they go to a queue (``get()``) or, while a
consumer ``stream()``s them, straight to it within that one wake-up (no task switch per frame).
Each frame carries the monotonic time its first sample reached the microphone, so the pipeline
bench can measure mic-to-wire latency.

A read that fails, or a device that delivers nothing for ``stall_timeout`` seconds, is reported
as MIC_DEVICE_DISCONNECTED. ``start()`` after that reopens (with a fresh device scan, so a
replugged USB mic is picked up).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

from booth.audio import devices
from booth.audio.framer import Framer
from booth.audio.reader import BlockReader
from booth.errors import BoothError, ErrorCode
from booth.wakeups import sleep_on_grid

log = logging.getLogger(__name__)

OUT_RATE = 16000
FRAME_SAMPLES = 320


class CapturedFrame(NamedTuple):
    pcm: bytes  # 20 ms of s16le mono at the capture's out_rate (640 bytes at 16 kHz)
    captured_at: float  # time.monotonic() when its first sample reached the mic
    seq: int  # frame number since start()


@dataclass
class CaptureStats:
    blocks: int = 0  # device reads
    frames: int = 0
    dropped_frames: int = 0  # consumer too slow: oldest frames dropped
    input_overflows: int = 0  # PortAudio reported lost input (paInputOverflowed)
    block_errors: int = 0  # blocks that failed to frame
    consumer_errors: int = 0  # frames a consumer (stream() or on_frame) raised on


FrameProcessor = Callable[[bytes], bytes]


class Capture:
    """Open the mic, deliver CapturedFrames to an asyncio queue and/or a callback."""

    def __init__(
        self,
        device: str = "",
        rate: int = 0,
        channels: int = 1,
        *,
        dc_block: bool = False,
        gain_db: float = 0.0,
        block_ms: int = 20,
        queue_frames: int = 50,
        stall_timeout: float = 1.5,
        on_frame: Callable[[CapturedFrame], object] | None = None,
        on_error: Callable[[BoothError], object] | None = None,
        processor: FrameProcessor | None = None,
        out_rate: int = OUT_RATE,
    ) -> None:
        """``out_rate``: the rate of the frames (the protocol's; 20 ms each whatever it is)."""
        if processor is not None and out_rate != OUT_RATE:
            raise ValueError("the frame processor (webrtc) works at 16 kHz only")
        self.out_rate = out_rate
        self.frame_samples = out_rate // 50
        self.device_pattern = device
        self.configured_rate = rate
        self.channels = channels
        self.dc_block = dc_block
        self.gain_db = gain_db
        self.block_ms = block_ms
        self.stall_timeout = stall_timeout
        self.on_frame = on_frame
        self.on_error = on_error
        self.processor = processor
        # queue_frames=0: no queue, frames go to on_frame only (errors to on_error).
        self.use_queue = queue_frames > 0
        self.queue: asyncio.Queue[CapturedFrame | BoothError] = asyncio.Queue(max(queue_frames, 1))
        self.stats = CaptureStats()
        self.device: devices.DeviceInfo | None = None
        self.rate = 0
        self.error: BoothError | None = None
        self._reader: BlockReader | None = None
        self._framer: Framer | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._watchdog: asyncio.Task[None] | None = None
        self._lock = threading.Lock()
        #: Native id of the thread that reads the device (for per-thread CPU figures).
        self.audio_thread: int | None = None
        self._in_index = 0
        self._paused = False
        self._restart = False
        self._framer_base = 0  # the input index the framer's sample 0 is
        self._seq = 0
        self._anchors: collections.deque[tuple[int, float]] = collections.deque(maxlen=16)
        self._running = False
        self._closing: asyncio.Future[None] | None = None
        # stream(): the consumer frames go to instead of the queue, and what its caller awaits.
        self._consumer: Callable[[CapturedFrame], object] | None = None
        self._streaming: asyncio.Future[None] | None = None

    # -- lifecycle ------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._running

    async def start(self) -> None:
        """Open the device and start delivering frames. Raises BoothError."""
        if self._running:
            return
        self._loop = asyncio.get_running_loop()
        if self._closing is not None:
            await self._closing  # the failed stream is still being released
            self._closing = None
        self.error = None
        # Frames (or an error) left from the last stream must not leak into this one.
        while not self.queue.empty():
            self.queue.get_nowait()
        # Running before the stream opens: its first frames may reach the loop before
        # this coroutine resumes.
        self._running = True
        try:
            # Device scan and open can take ~100 ms: keep them off the loop.
            await self._loop.run_in_executor(None, self._open)
        except BaseException:
            self._running = False
            raise
        self._watchdog = asyncio.create_task(self._watch(), name="capture-watchdog")

    async def stop(self) -> None:
        self._running = False
        self._end_stream(None)
        if self._closing is not None:
            await self._closing
            self._closing = None
        if self._watchdog is not None:
            self._watchdog.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watchdog
            self._watchdog = None
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, self._close)

    async def get(self) -> CapturedFrame:
        """Next frame; raises the BoothError if the mic died. Needs queue_frames > 0."""
        if not self.use_queue:
            raise RuntimeError("this Capture delivers to on_frame only (queue_frames=0)")
        item = await self.queue.get()
        if isinstance(item, BoothError):
            raise item
        return item

    async def stream(self, consumer: Callable[[CapturedFrame], object]) -> None:
        """Hand each frame to ``consumer`` on the loop, in the wake-up that brought it, instead
        of queueing it (what the queue already holds first); returns when the capture stops
        (at once if it is not running) or another ``stream()`` takes over, raises the
        BoothError if the mic dies. Cancel it to go back to the queue."""
        while not self.queue.empty():
            item = self.queue.get_nowait()
            if isinstance(item, BoothError):
                raise item
            self._hand(consumer, item)
        if not self._running:
            return
        self._end_stream(None)
        streaming = self._streaming = asyncio.get_running_loop().create_future()
        self._consumer = consumer
        try:
            await streaming
        finally:
            if self._streaming is streaming:
                self._streaming = self._consumer = None

    def _end_stream(self, error: BoothError | None) -> None:
        streaming, self._streaming, self._consumer = self._streaming, None, None
        if streaming is not None and not streaming.done():
            if error is None:
                streaming.set_result(None)
            else:
                streaming.set_exception(error)

    def pause(self) -> None:
        """Keep the stream running but frame and deliver nothing (a muted call's mic)."""
        with self._lock:
            self._paused = True

    def resume(self) -> None:
        """Frame and deliver again, from the next block (the framer starts afresh)."""
        with self._lock:
            if self._paused:
                self._paused = False
                self._restart = True

    # -- PortAudio side (worker / reader threads) ---------------------------------------

    def _open(self) -> None:
        import pyaudio

        self._close()
        pa = devices.open_portaudio()
        try:
            dev = devices.select_device(pa, self.device_pattern, input=True)
            channels = min(self.channels, dev.max_input_channels)
            rate = devices.negotiate_rate(
                pa, dev, self.configured_rate, input=True, channels=channels
            )
            self._framer = Framer(
                rate,
                self.out_rate,
                channels=channels,
                frame_samples=self.frame_samples,
                dc_block=self.dc_block,
                gain_db=self.gain_db,
            )
            self.rate = rate
            self._in_index = 0
            self._framer_base = self._seq = 0
            self._restart = False
            self._anchors.clear()
            frames = rate * self.block_ms // 1000
            params: dict[str, Any] = {
                "format": pyaudio.paInt16,
                "channels": channels,
                "rate": rate,
                "input": True,
                "input_device_index": dev.index,
                "frames_per_buffer": frames,
            }
            try:
                stream = pa.open(**params)  # blocking mode: no stream_callback
            except (OSError, ValueError) as exc:
                raise devices.map_open_error(exc, input=True, device=dev.name) from None
        except BaseException:
            devices.terminate(pa)
            raise
        reader = BlockReader(
            pa,
            stream,
            lambda: pa.open(**params),
            frames=frames,
            rate=rate,
            on_block=self._block,
            on_overflow=self._overflowed,
            on_error=self._read_failed,
            device=f"microphone {dev.name!r}",
        )
        # Known before it runs: a read that fails at once is reported against this stream.
        self._reader, self.device = reader, dev
        try:
            reader.start()  # if it cannot start, it has closed the stream
        except BaseException:
            self._reader = None
            raise
        self.audio_thread = reader.native_id
        log.info("mic open: %s at %d Hz, %d channel(s)", dev.name, rate, channels)

    def _close(self) -> None:
        reader, self._reader = self._reader, None
        if reader is not None:
            reader.release()  # bounded; a stalled reader closes the stream itself

    def _overflowed(self) -> None:
        self.stats.input_overflows += 1

    def _read_failed(self, reader: BlockReader, reason: str) -> None:
        loop = self._loop
        if loop is not None:
            with contextlib.suppress(RuntimeError):  # loop closed during shutdown
                loop.call_soon_threadsafe(self._lost, reader, reason)

    def _block(self, data: bytes, first: float) -> None:
        """A block read from the device, its first sample captured at ``first``."""
        self.stats.blocks += 1
        try:
            self._frame(data, first)
        except Exception:
            # Said once: a framing bug must not flood the journal, and the mic goes on.
            self.stats.block_errors += 1
            if self.stats.block_errors == 1:
                log.exception("capture block failed")

    def _frame(self, data: bytes, first: float) -> None:
        framer = self._framer
        loop = self._loop
        if framer is None or loop is None:
            return
        frame_count = len(data) // (2 * framer.channels)
        with self._lock:
            self._anchors.append((self._in_index, first))
            block_start = self._in_index
            self._in_index += frame_count
            if self._paused:
                return  # muted: timing kept, nothing framed or handed over
            if self._restart:
                # Unmuted again: frame from this block on, as from a fresh stream.
                framer.reset()
                self._framer_base = block_start
                self._restart = False
            start = framer.frames_out
            frames = framer.push(data)
            out = []
            for i, raw in enumerate(frames):
                src = self._framer_base + framer.source_index((start + i) * self.frame_samples)
                pcm = raw if self.processor is None else self.processor(raw)
                out.append(CapturedFrame(pcm, self._time_of(src), self._seq))
                self._seq += 1
        if out:
            with contextlib.suppress(RuntimeError):  # loop closed during shutdown
                loop.call_soon_threadsafe(self._deliver, out)

    def _time_of(self, input_index: float) -> float:
        if input_index < 0:
            input_index = 0.0
        base, t = self._anchors[0]
        for anchor_index, anchor_time in self._anchors:
            if anchor_index <= input_index:
                base, t = anchor_index, anchor_time
        return t + (input_index - base) / self.rate

    # -- loop side ----------------------------------------------------------------------

    def _deliver(self, frames: list[CapturedFrame]) -> None:
        if not self._running:
            return
        consumer = self._consumer
        for frame in frames:
            self.stats.frames += 1
            if consumer is None:
                if self.use_queue:
                    self._enqueue(frame)
            else:
                self._hand(consumer, frame)
            if self.on_frame is not None:
                self._hand(self.on_frame, frame)

    def _hand(self, consumer: Callable[[CapturedFrame], object], frame: CapturedFrame) -> None:
        try:
            consumer(frame)
        except Exception:
            # Said once: a consumer that fails on every frame must not flood the journal.
            self.stats.consumer_errors += 1
            if self.stats.consumer_errors == 1:
                log.exception("capture frame consumer failed")

    def _enqueue(self, item: CapturedFrame | BoothError) -> None:
        if self.queue.full():
            # Old audio is worth less than new: drop the oldest, keep going.
            with contextlib.suppress(asyncio.QueueEmpty):
                self.queue.get_nowait()
            self.stats.dropped_frames += 1
        self.queue.put_nowait(item)

    async def _watch(self) -> None:
        interval = min(0.25, self.stall_timeout / 3)
        while self._running:
            await sleep_on_grid(interval)
            reader = self._reader
            if reader is None:
                self._fail(self._disconnected("the stream is gone"))
                return
            silent_for = time.monotonic() - reader.last_io
            if silent_for > self.stall_timeout:
                self._fail(self._disconnected(f"no audio from the device for {silent_for:.1f} s"))
                return

    def _lost(self, reader: BlockReader, reason: str) -> None:
        if reader is self._reader and self._running:  # not an earlier, released stream's
            self._fail(self._disconnected(f"the read failed ({reason})"))

    def _disconnected(self, reason: str) -> BoothError:
        return BoothError(
            ErrorCode.MIC_DEVICE_DISCONNECTED,
            f"microphone {self.device.name if self.device else '?'!r}: {reason}",
        )

    def _fail(self, error: BoothError) -> None:
        self.error = error
        self._running = False
        log.warning("%s", error)
        if self.use_queue:
            self._enqueue(error)
        self._end_stream(error)
        if self.on_error is not None:
            try:
                self.on_error(error)
            except Exception:
                log.exception("capture error handler failed")
        assert self._loop is not None
        # Release the device so it can be reopened (or replugged) cleanly.
        self._closing = self._loop.run_in_executor(None, self._close)
