"""A PortAudio output stream written in blocking mode on a Python thread of its own (why, and
the thread's lifetime: :mod:`booth.audio.streamthread`).

When the block is made matters: ``fill`` reads the jitter buffer. PortAudio's callback thread
waits for room, then asks for the block; a blocking write waits for room *after* it was handed
the block, so filling it right after the last write returned would take it a whole block before
the device needs it (a block more latency, and a block less in the jitter buffer to ride out
network jitter). So the writer first waits for the room the device reports
(``get_write_available``): it sleeps for the time the device takes to play the missing frames,
then fills and writes the block, which then goes in at once or, after an early wake-up, waits
the rest of the way. The device's own report sets each wait, so the writer never drifts from
its clock.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Self

from booth.audio import devices
from booth.audio.streamthread import StreamThread


class BlockWriter(StreamThread):
    """Write ``frames`` a block to ``stream`` until released.

    ``fill(frames)``: the next block's bytes, asked for when the device has room for it.
    ``on_error(writer, reason)``: a write failed; the thread ends. Both run on the writer
    thread.
    """

    call = "write"

    def __init__(
        self,
        pa: Any,
        stream: Any,
        *,
        frames: int,
        rate: int,
        fill: Callable[[int], bytes],
        on_error: Callable[[Self, str], None],
        name: str = "booth-playback",
        device: str = "speaker",
    ) -> None:
        super().__init__(
            pa, stream, frames=frames, rate=rate, on_error=on_error, name=name, device=device
        )
        self._fill = fill

    def _transfer(self) -> None:
        stream, frames, rate, fill = self._stream, self.frames, self.rate, self._fill
        while not self._stopping.is_set():
            try:
                room = stream.get_write_available()
                # A negative count is PortAudio's error code: the write below reports it.
                if 0 <= room < frames:
                    time.sleep((frames - room) / rate)
                    if self._stopping.is_set():
                        return
                stream.write(fill(frames), frames)
            except OSError as exc:
                if not self._stopping.is_set():
                    self._on_error(self, devices.portaudio_error_text(exc))
                return
            self.last_io = time.monotonic()
