"""BlockReader against a stand-in for PyAudio's blocking input stream.

The ALSA file devices the other capture tests use never overflow (their ``null`` slave is
always ready), so PortAudio's overflow report is played here by a double that behaves as
PyAudio 0.2.14 does (``PyAudio_ReadStream``): on paInputOverflowed with
``exception_on_overflow=True`` it closes the stream, then raises ``OSError(text, -9981)``.
"""

from __future__ import annotations

import threading

from booth.audio import devices
from booth.audio.reader import BlockReader
from tests.support.portaudio import FakePortAudio, FakeStream

Script = list[bytes | OSError]


class ScriptedStream(FakeStream):
    def __init__(self, script: Script) -> None:
        super().__init__()
        self.script = script

    def read(self, frames: int, exception_on_overflow: bool = True) -> bytes:
        assert exception_on_overflow  # overflows must be seen, not silently ignored
        if self.closed:
            raise OSError("Stream closed", -9988)
        item = self.script.pop(0)
        if isinstance(item, OSError):
            self.closed = True  # PyAudioStream_Cleanup, before the exception
            raise item
        return item

    def get_read_available(self) -> int:
        return 0


def test_an_overflow_is_counted_and_reading_goes_on_on_a_new_stream() -> None:
    overflow = OSError("Input overflowed", devices.PA_INPUT_OVERFLOWED)
    first = ScriptedStream([b"a" * 4, b"b" * 4, overflow])
    second = ScriptedStream(
        [b"c" * 4, OSError("Device unavailable", devices.PA_DEVICE_UNAVAILABLE)]
    )
    reopened: list[ScriptedStream] = []
    blocks: list[bytes] = []
    overflows: list[None] = []
    errors: list[str] = []
    ended = threading.Event()

    def reopen() -> ScriptedStream:
        reopened.append(second)
        return second

    def on_error(_reader: BlockReader, reason: str) -> None:
        errors.append(reason)
        ended.set()

    pa = FakePortAudio()
    reader = BlockReader(
        pa,
        first,
        reopen,
        frames=2,
        rate=16000,
        on_block=lambda data, _first: blocks.append(data),
        on_overflow=lambda: overflows.append(None),
        on_error=on_error,
    )
    reader.start()
    assert ended.wait(10)  # the second stream's failure ends the reader
    assert reader.release(10)
    assert blocks == [b"a" * 4, b"b" * 4, b"c" * 4]  # the overflowed read's block is lost
    assert len(overflows) == 1 and reopened == [second]
    assert errors == ["PortAudio error -9985: Device unavailable"]
    assert first.closed and second.closed and second.stopped and pa.terminated
    assert not reader.alive


class PacedStream(ScriptedStream):
    """Each read takes ``period`` seconds, as a device's would; then ``queued`` frames are
    reported waiting behind the block."""

    def __init__(self, script: Script, period: float, queued: int) -> None:
        super().__init__(script)
        self.period, self.queued = period, queued
        self.pace = threading.Event()  # never set: the device's own pace

    def read(self, frames: int, exception_on_overflow: bool = True) -> bytes:
        self.pace.wait(self.period)
        return super().read(frames, exception_on_overflow)

    def get_read_available(self) -> int:
        return self.queued


def stamps_of(stream: PacedStream, frames: int) -> tuple[list[float], BlockReader]:
    """The first-sample times the reader gives ``stream``'s blocks (until it fails)."""
    stamps: list[float] = []
    done = threading.Event()
    reader = BlockReader(
        FakePortAudio(),
        stream,
        lambda: stream,
        frames=frames,
        rate=16000,
        on_block=lambda _data, first: stamps.append(first),
        on_overflow=lambda: None,
        on_error=lambda _reader, _reason: done.set(),
    )
    reader.start()
    assert done.wait(10)
    assert reader.release(10)
    return stamps, reader


def test_a_block_is_stamped_behind_what_is_queued_after_it() -> None:
    """Blocking mode has no time info: a block's first sample came (block + what is queued
    behind it) / rate before the read returned."""
    fail = OSError("Device unavailable", devices.PA_DEVICE_UNAVAILABLE)
    # 200 ms in one read: the device can have delivered the block and the 100 ms behind it.
    stamps, reader = stamps_of(PacedStream([b"x" * 640, fail], period=0.2, queued=1600), 320)
    # last_io: when that read returned (the failing second one does not set it).
    assert stamps == [reader.last_io - (320 + 1600) / 16000]


def test_a_full_buffer_reported_at_once_is_not_believed() -> None:
    """A plugin that reports a full buffer whatever is in it (ALSA's null slave: always ready)
    does not age a block beyond what the device can have delivered since the stream started:
    a 1 s block read at once is taken as just filled."""
    fail = OSError("Device unavailable", devices.PA_DEVICE_UNAVAILABLE)
    stamps, reader = stamps_of(PacedStream([b"x" * 32000, fail], period=0.0, queued=10**9), 16000)
    assert stamps == [reader.last_io - 1.0]
