"""What the daemon needs from the audio devices, as two small protocols.

The daemon only ever sees 640-byte 16 kHz s16le frames from the mic and writes 16 kHz s16le PCM
to the speaker; opening devices by name, negotiating rates, resampling and the jitter buffer
belong to ``booth.audio``. Device failures surface as :class:`booth.errors.BoothError` with the
device codes (``NO_MIC_AVAILABLE``, ``MIC_DEVICE_DISCONNECTED``, ``MIC_PERMISSION_DENIED``,
``AUDIO_PLAYBACK_BLOCKED``), which the daemon feeds to the state machine as device errors.
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import Callable
from typing import Any, Protocol

from booth.config import AudioSection, Config
from booth.protocol.dialects import traits


class Microphone(Protocol):
    async def open(self) -> None:
        """Open the capture stream; BoothError NO_MIC_AVAILABLE / MIC_PERMISSION_DENIED."""

    async def stream(self, consumer: Callable[[bytes], object]) -> None:
        """Hand each 20 ms frame to ``consumer``, on the loop, as it arrives, until cancelled
        (or the mic is closed); BoothError MIC_DEVICE_DISCONNECTED when the mic is lost."""

    async def close(self) -> None: ...

    async def available(self, *, apart: bool = False) -> bool:
        """Whether a mic could be opened now (a replugged USB mic comes back here); ``apart``:
        found out without leaving anything behind in this process (the start-up check)."""

    def listen(self, on: bool) -> None:
        """Frame and deliver the mic's audio (True), or, while the call's mic is muted, only
        keep the stream running (False): no resampling, no hand-off to the loop."""


class Speaker(Protocol):
    async def open(self) -> None:
        """Open the output stream for a call; BoothError AUDIO_PLAYBACK_BLOCKED."""

    @property
    def is_open(self) -> bool: ...

    def write(self, pcm: bytes) -> None:
        """Queue 16 kHz s16le mono PCM (persona voice or a cue); never blocks."""

    def play_cue(self, pcm: bytes) -> None:
        """Queue a sound cue after anything already queued (its tail is not an underrun);
        speech written while it plays is mixed over it rather than queued behind it."""

    def mark_end(self) -> None:
        """The persona's turn is over: play out what is queued; the gap is no underrun."""

    def room_ms(self) -> float:
        """How much more audio it takes before it must drop the oldest: persona audio that
        comes faster than real time (Atoms) waits for room instead."""

    def flush(self) -> int:
        """Drop queued audio now (barge-in); returns how much was dropped."""

    def healthy(self) -> bool:
        """False once an open stream has died (device unplugged)."""

    async def drain(self) -> None:
        """Wait until the queued audio has played (callers bound it with asyncio.timeout)."""

    async def close(self) -> None: ...

    @property
    def underruns(self) -> int:
        """Underruns counted since the process started."""

    async def available(self, *, apart: bool = False) -> bool:
        """As :meth:`Microphone.available`."""


# ── the real devices, through booth.audio (PyAudio / PortAudio) ───────────────────────────


# PortAudio's initialise/terminate and device scans are not thread-safe: two at once from
# executor threads (a probe while the speaker opens for a cue) crash the process. Every open,
# close and probe the daemon makes goes through this lock, one at a time; a probe in a child
# process too, so that its scan never holds a device the daemon is opening.
_LOCKS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
    weakref.WeakKeyDictionary()
)

#: A probe not answered by then (a sound server that hangs) counts as failed.
PROBE_TIMEOUT_S = 30.0


def portaudio_lock() -> asyncio.Lock:
    loop = asyncio.get_running_loop()
    lock = _LOCKS.get(loop)
    if lock is None:
        lock = _LOCKS[loop] = asyncio.Lock()
    return lock


async def _probe(pattern: str, *, input: bool, apart: bool) -> bool:
    """Whether a device could be opened now: a fresh PortAudio scan, so that a replugged USB
    device is seen. ``apart``: in a child process, since a scan leaves ~2 MB behind in the
    process that makes it (booth.audio.presence); else in this one, off the loop (~5 ms of CPU
    here against ~70 for a child)."""
    from booth.audio import devices, presence

    def scan_here() -> bool:
        with devices.portaudio() as pa:
            return presence.there(pa, pattern, input=input)

    async with portaudio_lock():
        if apart:
            return (await _scan_in_child([(pattern, input)]))[0]
        return await asyncio.get_running_loop().run_in_executor(None, scan_here)


async def _scan_in_child(wanted: list[tuple[str, bool]]) -> list[bool]:
    """booth.audio.presence's answers; RuntimeError when the child fails (its last line of
    stderr), TimeoutError when it does not answer."""
    from booth.audio import presence

    child = await asyncio.create_subprocess_exec(
        *presence.command(wanted),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with asyncio.timeout(PROBE_TIMEOUT_S):
            out, err = await child.communicate()
    finally:
        if child.returncode is None:  # timed out, or cancelled (the daemon stopping)
            child.kill()
            await child.wait()
    if child.returncode != 0:
        last = err.decode(errors="replace").strip().splitlines()[-1:] or [""]
        raise RuntimeError(f"device probe exited with {child.returncode}: {last[0]}")
    return presence.parse(out, len(wanted))


def _prepare(cfg: AudioSection) -> None:
    """Before PortAudio's first scan: ALSA without the plugin PCMs these devices don't need,
    and PyAudio loaded (PortAudio starts only when a call opens a stream)."""
    from booth.audio import alsaconf, devices

    alsaconf.install((cfg.input_device, cfg.output_device))
    devices.load_portaudio()


def devices_for(config: Config) -> tuple[PyAudioMic, PyAudioSpeaker]:
    """The mic and speaker for the config's protocol: 20 ms frames at its rate, persona audio
    at its rate (resampled for the device by the framer); without turn markers the speaker
    counts an underrun only when more of the turn follows (docs/protocol.md §6)."""
    dialect = traits(config.service.protocol)
    mic = PyAudioMic(config.audio, out_rate=dialect.wire_rate)
    speaker = PyAudioSpeaker(
        config.audio,
        source_rate=dialect.wire_rate,
        confirm_underruns=not dialect.turn_markers,
    )
    return mic, speaker


class PyAudioMic:
    """``booth.audio.capture.Capture`` as a :class:`Microphone`."""

    def __init__(self, cfg: AudioSection, **capture_kw: Any) -> None:
        from booth.audio.factory import capture_from_config

        self.cfg = cfg
        _prepare(cfg)
        # DC block, gain and the optional webrtc noise suppression all come from [audio].
        self.capture = capture_from_config(cfg, **capture_kw)

    async def open(self) -> None:
        async with portaudio_lock():
            await self.capture.start()

    async def stream(self, consumer: Callable[[bytes], object]) -> None:
        await self.capture.stream(lambda frame: consumer(frame.pcm))

    def listen(self, on: bool) -> None:
        if on:
            self.capture.resume()
        else:
            self.capture.pause()

    async def close(self) -> None:
        if self.capture.running:
            async with portaudio_lock():
                await self.capture.stop()

    async def available(self, *, apart: bool = False) -> bool:
        return await _probe(self.cfg.input_device, input=True, apart=apart)


class PyAudioSpeaker:
    """``booth.audio.playback.Playback`` as a :class:`Speaker`."""

    def __init__(self, cfg: AudioSection, **playback_kw: Any) -> None:
        from booth.audio.factory import playback_from_config

        self.cfg = cfg
        _prepare(cfg)
        self.playback = playback_from_config(cfg, **playback_kw)

    async def open(self) -> None:
        async with portaudio_lock():
            await self.playback.start()

    @property
    def is_open(self) -> bool:
        return self.playback.is_open

    def write(self, pcm: bytes) -> None:
        self.playback.write(pcm)

    def play_cue(self, pcm: bytes) -> None:
        self.playback.play_cue(pcm)

    def mark_end(self) -> None:
        self.playback.mark_end()

    def room_ms(self) -> float:
        return self.playback.capacity_ms - self.playback.buffered_ms

    def flush(self) -> int:
        return self.playback.flush()

    def healthy(self) -> bool:
        return self.playback.healthy()

    async def drain(self) -> None:
        # The writer thread sets the event once the queue is handed to the device; a stream
        # that stalls never does, which is why callers bound this.
        if self.playback.is_open:
            await self.playback.wait_drained()

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            async with portaudio_lock():
                await self.playback.stop()

    @property
    def underruns(self) -> int:
        return int(self.playback.stats.underruns)

    async def available(self, *, apart: bool = False) -> bool:
        return await _probe(self.cfg.output_device, input=False, apart=apart)
