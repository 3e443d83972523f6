"""A PortAudio input stream read in blocking mode on a Python thread of its own (why, and the
thread's lifetime: :mod:`booth.audio.streamthread`)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Self

from booth.audio import devices
from booth.audio.streamthread import StreamThread


class BlockReader(StreamThread):
    """Read ``frames`` a block from ``stream`` until released; hand each block on.

    ``on_block(data, first)``: the block's bytes and the ``time.monotonic()`` its first sample
    was captured (estimated: blocking mode has no time info). ``on_overflow()``: PortAudio
    reported lost input; the block was lost with it. ``on_error(reader, reason)``: a read
    failed; the thread ends. All three run on the reader thread.
    """

    call = "read"

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
        on_error: Callable[[Self, str], None],
        name: str = "booth-capture",
        device: str = "microphone",
    ) -> None:
        super().__init__(
            pa, stream, frames=frames, rate=rate, on_error=on_error, name=name, device=device
        )
        self._reopen = reopen
        self._on_block = on_block
        self._on_overflow = on_overflow

    def _transfer(self) -> None:
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
                self.last_io = started
                continue
            self.last_io = now
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
