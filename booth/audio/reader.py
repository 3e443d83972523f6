"""A PortAudio input stream read in blocking mode on a Python thread of its own.

Why not callback mode: PyAudio wraps every callback in ``PyGILState_Ensure``/``Release``, and
PortAudio's callback thread has no Python thread state of its own, so each callback makes one
(with a fresh frame stack, mapped and unmapped every time) and frees it. A thread of ours keeps
its thread state, and ``stream.read`` releases the GIL while it waits for the device.

Lifetime: while the thread runs it is the only one that touches the stream; PortAudio must
never see a stream stopped or closed under a blocking read. :meth:`BlockReader.release` asks it
to stop and waits a bounded time for it to leave its read. PortAudio's ALSA read does not give
up on a device that delivers nothing (it polls one period at a time and, after 2048 empty polls,
restarts the PCM and polls on, pa_linux_alsa.c 19.6 to 19.7), so a stalled device can hold the
thread indefinitely: then the thread closes the stream itself when its read returns.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from booth.audio import devices

log = logging.getLogger(__name__)


class BlockReader:
    """Read ``frames`` a block from ``stream`` until released; hand each block on.

    ``on_block(data, first)``: the block's bytes and the ``time.monotonic()`` its first sample
    was captured (estimated: blocking mode has no time info). ``on_overflow()``: PortAudio
    reported lost input; the block was lost with it. ``on_error(reader, reason)``: a read
    failed; the thread ends. All three run on the reader thread.
    """

    def __init__(
        self,
        pa: Any,
        stream: Any,
        reopen: Callable[[], Any],
        *,
        frames: int,
        rate: int,
        on_block: Callable[[bytes, float], None],
        on_overflow: Callable[[], None],
        on_error: Callable[[BlockReader, str], None],
        name: str = "booth-capture",
    ) -> None:
        self._pa = pa
        self._stream = stream
        self._reopen = reopen
        self.frames = frames
        self.rate = rate
        self._on_block = on_block
        self._on_overflow = on_overflow
        self._on_error = on_error
        #: time.monotonic() of the last read that returned (or of the start).
        self.last_read = time.monotonic()
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._done = False  # the thread no longer touches the stream
        self._orphaned = False  # release() gave up waiting: the thread closes the stream
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    @property
    def native_id(self) -> int | None:
        """The reader thread's native id (for per-thread CPU figures)."""
        return self._thread.native_id

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def start(self) -> None:
        self._thread.start()

    def release(self, timeout: float) -> bool:
        """Stop reading; close the stream and end its PortAudio instance. Not from the reader
        thread. False if the reader was still inside a read after ``timeout`` seconds: it
        closes them itself once that read returns."""
        self._stopping.set()
        if self._thread.ident is not None:
            self._thread.join(timeout)
        with self._lock:
            if self._thread.ident is not None and not self._done:
                self._orphaned = True
                return False
        self._close()
        return True

    def _close(self) -> None:
        stream, pa = self._stream, self._pa
        self._stream = self._pa = None
        devices.close_stream(stream, pa)

    def _run(self) -> None:
        try:
            self._read_blocks()
        except Exception as exc:  # a bug of ours: report it as the stream's end, not silently
            log.exception("capture reader failed")
            self._on_error(self, f"the reader failed: {exc!r}")
        finally:
            with self._lock:
                self._done = True
                orphaned = self._orphaned
            if orphaned:
                self._close()
                log.info("a stalled mic stream was closed when its read returned")

    def _read_blocks(self) -> None:
        stream, frames, rate = self._stream, self.frames, self.rate
        started = time.monotonic()  # ALSA starts a blocking stream's PCM at its first read
        read = 0  # frames read since then
        while not self._stopping.is_set():
            try:
                data = stream.read(frames, exception_on_overflow=True)
                now = time.monotonic()
                queued = stream.get_read_available()
            except OSError as exc:
                if self._stopping.is_set():
                    return
                if devices.portaudio_error_code(exc) != devices.PA_INPUT_OVERFLOWED:
                    self._on_error(self, devices.portaudio_error_text(exc))
                    return
                self._on_overflow()
                # PyAudio closes the stream before it raises (PyAudio_ReadStream's error path,
                # 0.2.14): carry on with a new one on the same device.
                stream.close()
                try:
                    stream = self._stream = self._reopen()
                except (OSError, ValueError) as failed:
                    self._stream = None
                    reason = devices.portaudio_error_text(failed)
                    self._on_error(self, f"reopening after an overflow: {reason}")
                    return
                started, read = time.monotonic(), 0
                self.last_read = started
                continue
            self.last_read = now
            read += frames
            if self._stopping.is_set():
                return
            # What is queued behind the block came after it: counting it keeps a backlog (a
            # late wake-up) from making the block look younger than it is. It cannot be more
            # than the device can have delivered since the stream started, less what was read:
            # some ALSA plugins report a full buffer whatever is in it (the null slave under
            # the test and bench devices).
            behind = max(0.0, min(queued, (now - started) * rate - read))
            self._on_block(data, now - (frames + behind) / rate)
