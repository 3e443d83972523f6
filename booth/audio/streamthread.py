"""A PortAudio stream driven in blocking mode by a Python thread of its own (capture's reader,
playback's writer): the lifetime both share.

Why not callback mode: PyAudio wraps every callback in ``PyGILState_Ensure``/``Release``, and
PortAudio's callback thread has no Python thread state of its own, so each callback makes one
(with a fresh frame stack, mapped and unmapped every time) and frees it. A thread of ours keeps
its thread state, and ``stream.read``/``stream.write`` release the GIL while they wait for the
device.

Lifetime: while the thread runs it is the only one that touches the stream; PortAudio must
never see a stream stopped or closed under a blocking read or write. :meth:`release` asks the
thread to stop and waits a bounded time for it to leave its call. PortAudio's ALSA read and
write do not give up on a device that takes or delivers nothing (they poll one period at a time
and, after 2048 empty polls, restart the PCM and poll on, pa_linux_alsa.c 19.6 to 19.7), so a
stalled device can hold the thread indefinitely: then the thread closes the stream itself when
its call returns.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, Self

from booth.audio import devices

log = logging.getLogger(__name__)

#: How long a stop waits for the thread to leave its read or write (a block is 20 ms). A thread
#: stuck longer (a stalled device) is left to close the stream itself when its call returns.
RELEASE_TIMEOUT = 1.0


class StreamThread:
    """Run :meth:`_transfer` on a thread of its own until released or failed.

    ``on_error(thread, reason)``: a read or write failed; the thread ends. It runs on the
    thread. ``device``: what the stream is, for log lines (``"microphone 'USB Mic'"``)."""

    #: What the thread's blocking call is called, for log lines: "read" or "write".
    call = "transfer"

    def __init__(
        self,
        pa: Any,
        stream: Any,
        *,
        frames: int,
        rate: int,
        on_error: Callable[[Self, str], None],
        name: str,
        device: str,
    ) -> None:
        self._pa = pa
        self._stream = stream
        self.frames = frames  # a block, per read or write
        self.rate = rate
        # Any: called with self, whose type Self names only in signatures.
        self._on_error: Callable[[Any, str], None] = on_error
        self.device = device
        #: time.monotonic() of the last read or write that returned (or of the start).
        self.last_io = time.monotonic()
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._done = False  # the thread no longer touches the stream
        self._orphaned = False  # release() gave up waiting: the thread closes the stream
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    @property
    def native_id(self) -> int | None:
        """The thread's native id (for per-thread CPU figures)."""
        return self._thread.native_id

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def start(self) -> None:
        """Start the thread; if it cannot start, close the stream and its PortAudio here
        (nothing else would) and raise."""
        try:
            self._thread.start()
        except BaseException:
            self.release(0.0)
            raise

    def release(self, timeout: float = RELEASE_TIMEOUT) -> bool:
        """Stop; close the stream and end its PortAudio instance. Not from the thread itself.
        False if the thread was still inside a read or write after ``timeout`` seconds: it
        closes them itself once that call returns."""
        self._stopping.set()
        if self._thread.ident is not None:
            self._thread.join(timeout)
        with self._lock:
            if self._thread.ident is not None and not self._done:
                self._orphaned = True
                log.warning(
                    "%s: the %s did not return within %.1f s; "
                    "its stream will be closed when it does",
                    self.device,
                    self.call,
                    timeout,
                )
                return False
        self._close()
        return True

    def _close(self) -> None:
        stream, pa = self._stream, self._pa
        self._stream = self._pa = None
        devices.close_stream(stream, pa)

    def _run(self) -> None:
        try:
            self._transfer()
        except Exception as exc:  # a bug of ours: report it as the stream's end, not silently
            log.exception("%s: the %s thread failed", self.device, self.call)
            self._on_error(self, f"the {self.call} thread failed: {exc!r}")
        finally:
            with self._lock:
                self._done = True
                orphaned = self._orphaned
            if orphaned:
                self._close()
                log.info(
                    "%s: a stalled stream was closed when its %s returned", self.device, self.call
                )

    def _transfer(self) -> None:
        """Read or write blocks until ``_stopping`` is set or the stream fails."""
        raise NotImplementedError
