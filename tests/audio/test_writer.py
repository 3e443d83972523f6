"""BlockWriter against a stand-in for a sound card's blocking output stream.

The ALSA file devices the playback tests use pace in the pipe behind the device (their ``null``
slave always reports room), so a sound card's timing, a buffer the hardware drains at its rate
while PortAudio's write waits for room, is played here by a double that keeps a device clock.
"""

from __future__ import annotations

import threading
import time

import pytest

from booth.audio import devices
from booth.audio.writer import BlockWriter
from tests.support.portaudio import FakePortAudio, FakeStream


class CardStream(FakeStream):
    """A ``buffer``-frame device buffer drained at ``rate`` from the first write on; ``write``
    waits for room as PortAudio's does. Ends (a failed write) after ``blocks`` writes."""

    def __init__(self, rate: int, buffer: int, blocks: int) -> None:
        super().__init__()
        self.rate, self.buffer, self.blocks = rate, buffer, blocks
        self.written = 0
        self.started: float | None = None
        self.data: list[bytes] = []
        self.clock = threading.Event()  # never set: the device's own pace

    def room(self) -> int:
        played = 0 if self.started is None else int((time.monotonic() - self.started) * self.rate)
        return self.buffer - (self.written - min(played, self.written))

    def get_write_available(self) -> int:
        return self.room()

    def write(self, data: bytes, frames: int) -> None:
        if len(self.data) == self.blocks:
            raise OSError("Device unavailable", devices.PA_DEVICE_UNAVAILABLE)
        while self.room() < frames:
            self.clock.wait(0.0005)
        if self.started is None:
            self.started = time.monotonic()
        self.data.append(data)
        self.written += frames


def test_each_block_is_taken_when_the_device_has_room_for_it() -> None:
    """Not a block early: a block filled when the previous write returned (the buffer full)
    would wait a whole block in the writer, a block more latency. Every block is filled
    when the device has room for it, and reaches the device in order; a failed write ends
    the writer with the error."""
    frames, rate = 160, 16000  # 10 ms blocks into a 30 ms buffer
    stream = CardStream(rate, buffer=3 * frames, blocks=20)
    room_at_fill: list[int] = []
    errors: list[str] = []
    done = threading.Event()

    def fill(count: int) -> bytes:
        room_at_fill.append(stream.room())
        return len(room_at_fill).to_bytes(2, "little") * count

    def on_error(_writer: BlockWriter, reason: str) -> None:
        errors.append(reason)
        done.set()

    pa = FakePortAudio()
    writer = BlockWriter(pa, stream, frames=frames, rate=rate, fill=fill, on_error=on_error)
    writer.start()
    assert done.wait(10)
    assert writer.release(10)
    assert len(room_at_fill) == 21  # the failed write's block was filled too
    assert min(room_at_fill) >= frames - 1  # a frame's rounding between clock and sleep
    assert stream.data == [n.to_bytes(2, "little") * frames for n in range(1, 21)]
    assert errors == ["PortAudio error -9985: Device unavailable"]
    assert stream.closed and stream.stopped and pa.terminated
    assert not writer.alive


def test_a_thread_that_cannot_start_closes_its_stream() -> None:
    """No thread means nobody else will close the stream: ``start`` does it, then raises."""
    stream, pa = FakeStream(), FakePortAudio()
    writer = BlockWriter(pa, stream, frames=960, rate=48000, fill=bytes, on_error=lambda w, r: None)

    def no_thread() -> None:
        raise RuntimeError("can't start new thread")  # what threading says at a thread limit

    writer._thread.start = no_thread  # type: ignore[method-assign]
    with pytest.raises(RuntimeError, match="new thread"):
        writer.start()
    assert stream.stopped and stream.closed and pa.terminated
