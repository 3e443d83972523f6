"""A mic and a speaker in memory, for the demo and the daemon tests (the PyAudio-backed ones are
exercised against ALSA file devices; see ``booth.sim.alsa_devices``).

``FakeMic`` delivers a frame every 20 ms, as a real mic does: what ``say()`` queued, else a
tone while ``speaking``, else silence. ``FakeSpeaker`` keeps everything the booth played. Both
can be unplugged (``present = False``) to test device errors.
"""

from __future__ import annotations

import asyncio
import math
import struct
from collections.abc import Callable

from booth.errors import BoothError, ErrorCode
from booth.protocol.messages import FRAME_BYTES, SAMPLE_RATE

SILENCE = bytes(FRAME_BYTES)
#: One frame of a 300 Hz tone, loud enough to count as speech.
SPEECH = b"".join(
    struct.pack("<h", int(8000 * math.sin(2 * math.pi * 300 * n / SAMPLE_RATE)))
    for n in range(FRAME_BYTES // 2)
)


class FakeMic:
    def __init__(self) -> None:
        self.present = True
        self.speaking = False
        self.is_open = False
        self.opens = 0
        self.probes: list[bool] = []  # each probe's ``apart``
        self.lost = False
        self.listening = True
        self._pending = bytearray()
        #: Set while nothing ``say()`` queued is left to send.
        self.done = asyncio.Event()
        self.done.set()

    def say(self, pcm: bytes) -> None:
        """Queue speech (16 kHz s16le mono): the next frames carry it, 20 ms each."""
        self._pending += pcm
        self.done.clear()

    def unplug(self) -> None:
        self.present = False
        self.lost = True

    async def open(self) -> None:
        if not self.present:
            raise BoothError(ErrorCode.NO_MIC_AVAILABLE, "no input device")
        self.is_open = True
        self.lost = False
        self.opens += 1

    async def read(self) -> bytes:
        await asyncio.sleep(0.02)  # the pace of a real mic, not a synchronisation
        if self.lost or not self.present:
            raise BoothError(ErrorCode.MIC_DEVICE_DISCONNECTED, "mic stream stopped")
        if self._pending:
            frame = bytes(self._pending[:FRAME_BYTES]).ljust(FRAME_BYTES, b"\0")
            del self._pending[:FRAME_BYTES]
            return frame
        self.done.set()
        return SPEECH if self.speaking else SILENCE

    async def stream(self, consumer: Callable[[bytes], object]) -> None:
        while self.is_open:
            consumer(await self.read())

    async def close(self) -> None:
        self.is_open = False

    async def available(self, *, apart: bool = False) -> bool:
        self.probes.append(apart)
        return self.present

    def listen(self, on: bool) -> None:
        self.listening = on


class FakeSpeaker:
    def __init__(self) -> None:
        self.present = True
        self.is_open = False
        self.audio = bytearray()  # everything played: persona voice and cues
        self.cues = 0
        self.probes: list[bool] = []  # each probe's ``apart``
        self.flushes = 0
        self.turns_ended = 0
        self.underruns = 0
        self.alive = True

    async def open(self) -> None:
        if not self.present:
            raise BoothError(ErrorCode.AUDIO_PLAYBACK_BLOCKED, "no output device")
        self.is_open = True

    def write(self, pcm: bytes) -> None:
        self.audio += pcm

    def play_cue(self, pcm: bytes) -> None:
        self.cues += 1
        self.audio += pcm

    def flush(self) -> int:
        self.flushes += 1
        return 0

    def mark_end(self) -> None:
        self.turns_ended += 1

    def room_ms(self) -> float:
        return float("inf")  # it keeps everything

    def healthy(self) -> bool:
        return self.alive

    async def drain(self) -> None:
        return None

    async def close(self) -> None:
        self.is_open = False

    async def available(self, *, apart: bool = False) -> bool:
        self.probes.append(apart)
        return self.present
