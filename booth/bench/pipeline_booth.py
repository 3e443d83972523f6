"""The booth under test for ``booth bench pipeline``: one process, its own figures.

Run as ``python -m booth.bench.pipeline_booth`` with a JSON plan on stdin (service URL, API key,
proxy port, call lengths); prints one JSON object of raw samples on stdout. The real
``BoothApp`` runs with the real PyAudio adapters on paced ALSA ``file`` devices
(booth.sim.alsa_devices), MockFactory pins driven like a finger, and the WebSocket routed through
the bench's jitter proxy. The service and the proxy run in a process of their own
(booth.bench.pipeline_service), so CPU and RSS here are the booth's (the ALSA pacer threads,
which stand in for the sound card, are measured and taken out).

Timestamps (all ``time.monotonic``), taken through the product's probe hooks, on a session made
by the daemon's own factory (:mod:`booth.transport.probe`) and on the speaker's playback
(:mod:`booth.audio.probe`):
- mic-to-wire: a frame's ``captured_at`` (its first sample reached the mic) to the moment its
  bytes are handed to the WebSocket connection (``frame_sent``).
- wire-to-speaker: a persona chunk handed over by the protocol layer (just off the socket,
  ``persona_audio_received``) to the playback block that hands its first sample to the
  device (playback's ``read`` passes the chunk's speech position).
"""

from __future__ import annotations

import asyncio
import collections
import cProfile
import json
import logging
import pstats
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from booth.audio.capture import CapturedFrame
from booth.bench.pipeline_floor import speech_like
from booth.bench.procstat import CpuMeter, ThreadRoles, memory_mb, rss_kb
from booth.config import Config, parse_config
from booth.daemon.app import BoothApp
from booth.daemon.audio_io import PyAudioMic, PyAudioSpeaker
from booth.daemon.notify import Notifier
from booth.daemon.sessions import SessionLike, session_factory_for
from booth.secret import Secret

DEVICE_RATE = 48000
BUTTON = 17


class Probe:
    """Every timestamp the bench takes, in one place (loop thread and audio threads).

    Also the session's probe (:class:`booth.transport.probe.SessionProbe`) and playback's
    (:class:`booth.audio.probe.PlaybackProbe`)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.captured: collections.OrderedDict[int, tuple[bytes, float]] = collections.OrderedDict()
        self.received: collections.OrderedDict[int, tuple[bytes, float]] = collections.OrderedDict()
        self.mic_to_wire: list[float] = []
        self.wire_to_speaker: list[float] = []
        self.first_persona_at: float | None = None
        self.first_persona = threading.Event()
        self.unmuted_at: float | None = None
        self.unmuted = asyncio.Event()
        #: Each underrun: how much was queued, how long since a write, a chunk off the socket
        #: and a flush, and the longest a recent chunk took from the socket to the jitter
        #: buffer: a gap in what the service sent shows as a long ``since_received``, a
        #: stalled booth as a long ``booth_delay``.
        self.underrun_log: list[dict[str, Any]] = []
        self.last_received = 0.0
        self.booth_delays: collections.deque[tuple[float, float]] = collections.deque(maxlen=50)
        #: Persona chunks queued for playback, not yet played: (speech position, off the wire).
        self.marks: collections.deque[tuple[int, float]] = collections.deque()
        self.underruns = 0  # the playback buffer's count at the last read
        #: The last reads: (time, ms left queued), shown with each underrun.
        self.levels: collections.deque[tuple[float, float]] = collections.deque(maxlen=16)
        #: When each wire-to-speaker sample's chunk came off the socket (parallel list).
        self.wire_at: list[float] = []
        self.last_write = self.last_flush = 0.0
        #: Off for the call whose CPU is measured: the I/O floor carries no instrumentation,
        #: so the booth's figure must not carry the per-frame cost of these hooks either.
        self.per_frame = True

    # ── the session's probe hooks (on the event loop) ──────────────────────────

    def frame_sent(self, message: bytes, at: float) -> None:
        captured = Probe.take(self.captured, message)
        if captured is not None:
            self.mic_to_wire.append(at - captured)

    def persona_audio_received(self, pcm: bytes, at: float) -> None:
        Probe.remember(self.received, pcm, at)
        self.last_received = at

    def mic_opened(self, at: float) -> None:
        self.unmuted_at = at
        self.unmuted.set()

    # ── playback's probe hooks (loop thread and the writer's) ─────────────────────

    def queued(self, pcm: bytes, position: int, at: float) -> None:
        self.last_write = at
        rx = Probe.take(self.received, pcm)
        if rx is not None:
            self.marks.append((position, rx))
            self.booth_delays.append((at, at - rx))

    def read(self, position: int, underruns: int, queued_ms: float, at: float) -> None:
        if underruns > self.underruns:
            self.underrun_log.append(
                {
                    "at": at,
                    # The reads before it: how the queue ran down (ms before, ms queued).
                    "levels": [(round(1000 * (t - at), 1), round(q, 1)) for t, q in self.levels],
                    "since_write_ms": 1000 * (at - self.last_write),
                    "since_flush_ms": 1000 * (at - self.last_flush),
                    "since_received_ms": 1000 * (at - self.last_received),
                    "booth_delay_ms": 1000
                    * max((d for t, d in list(self.booth_delays) if at - t < 0.3), default=0),
                }
            )
        self.underruns = underruns  # also when lower: a new stream's fresh buffer
        self.levels.append((at, queued_ms))
        marks = self.marks
        if marks and marks[0][0] < position:
            with self.lock:
                while marks and marks[0][0] < position:
                    received = marks.popleft()[1]
                    self.wire_to_speaker.append(at - received)
                    self.wire_at.append(received)
                if self.first_persona_at is None:
                    self.first_persona_at = at
                    self.first_persona.set()

    def reset(self, at: float) -> None:
        self.last_flush = at
        self.marks.clear()

    @staticmethod
    def remember(
        table: collections.OrderedDict[int, tuple[bytes, float]], data: bytes, at: float
    ) -> None:
        # Keep the bytes alive so their id() is not reused while the entry exists.
        table[id(data)] = (data, at)
        while len(table) > 500:
            table.popitem(last=False)

    @staticmethod
    def take(table: collections.OrderedDict[int, tuple[bytes, float]], data: bytes) -> float | None:
        entry = table.pop(id(data), None)
        return entry[1] if entry is not None and entry[0] is data else None


PROBE = Probe()


class TimedMic(PyAudioMic):
    async def stream(self, consumer: Callable[[bytes], object]) -> None:
        if not PROBE.per_frame:
            await super().stream(consumer)
            return

        def timed(frame: CapturedFrame) -> None:
            Probe.remember(PROBE.captured, frame.pcm, frame.captured_at)
            consumer(frame.pcm)

        await self.capture.stream(timed)


def _session_factory(config: Config, key: Secret, proxy_port: int) -> Any:
    """The daemon's own sessions, routed through the jitter proxy, with the bench's probe."""

    def route(url: str) -> str:
        from urllib.parse import urlsplit, urlunsplit

        return urlunsplit(urlsplit(url)._replace(netloc=f"127.0.0.1:{proxy_port}"))

    make = session_factory_for(config, key, route=route)

    def probed() -> SessionLike:
        # Imported here, as the daemon does: idle RSS is measured before any call.
        from booth.session import RoleplaySession

        session = make()
        assert isinstance(session, RoleplaySession)
        session.probe = PROBE if PROBE.per_frame else None
        return session

    return probed


class Profiler:
    """``--profile``: cProfile per thread role over the measured call (the loop's own profile;
    capture's and playback's per-block work each through a wrapper: a per-block wrapper leaves
    out the reader's and writer's time waiting for the device)."""

    def __init__(self, out_dir: Path | None) -> None:
        self.out_dir = out_dir
        self.profiles: dict[str, cProfile.Profile] = {}

    def wrap(self, role: str, callback: Callable[..., Any]) -> Callable[..., Any]:
        if self.out_dir is None:
            return callback
        profile = self.profiles.setdefault(role, cProfile.Profile())

        def profiled(*args: Any) -> Any:
            return profile.runcall(callback, *args)

        return profiled

    def start_loop(self) -> None:
        if self.out_dir is not None:
            self.profiles.setdefault("loop", cProfile.Profile()).enable()

    def stop_loop(self) -> None:
        if "loop" in self.profiles:
            self.profiles["loop"].disable()

    def report(self, top: int = 15) -> dict[str, list[dict[str, Any]]]:
        """Top functions by own time per role; the full profiles go to out_dir/<role>.prof."""
        if self.out_dir is None:
            return {}
        self.out_dir.mkdir(parents=True, exist_ok=True)
        out: dict[str, list[dict[str, Any]]] = {}
        for role, profile in self.profiles.items():
            profile.dump_stats(self.out_dir / f"{role}.prof")
            stats = pstats.Stats(profile).stats  # type: ignore[attr-defined]
            rows = sorted(stats.items(), key=lambda kv: kv[1][2], reverse=True)[:top]
            out[role] = [
                {
                    "function": f"{Path(file).name}:{line}({name})",
                    "calls": calls,
                    "own_s": round(own, 4),
                    "cumulative_s": round(cumulative, 4),
                }
                for (file, line, name), (_, calls, own, cumulative, _) in rows
            ]
        return out


PROFILER = Profiler(None)


class Driver:
    """The rep: presses the MockFactory button and watches the daemon's state."""

    def __init__(self, app: BoothApp, factory: Any) -> None:
        self.app = app
        self.pin = factory.pin(BUTTON)
        self.changed = asyncio.Event()
        app.events.subscribe(lambda _e: self.changed.set())

    def press(self) -> float:
        at = time.monotonic()
        self.pin.drive_low()
        return at

    def release(self) -> None:
        self.pin.drive_high()

    async def wait_state(self, *states: str, within: float = 20.0) -> None:
        async with asyncio.timeout(within):
            while str(self.app.machine.state) not in states:
                self.changed.clear()
                await self.changed.wait()

    async def wait_summaries(self, count: int, within: float = 30.0) -> None:
        """Until ``count`` calls have written their summary (score fetched or given up)."""
        async with asyncio.timeout(within):
            while len(self.app.summaries) < count:
                self.changed.clear()
                await self.changed.wait()


async def one_call(
    app: BoothApp, driver: Driver, seconds: float, measure_resources: bool
) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    # The measured call runs bare; the others time each frame and chunk.
    PROBE.per_frame = not measure_resources
    app.speaker.playback.probe = PROBE if PROBE.per_frame else None  # type: ignore[attr-defined]
    PROBE.first_persona.clear()
    PROBE.first_persona_at = None
    m2w_start, w2s_start = len(PROBE.mic_to_wire), len(PROBE.wire_to_speaker)
    pressed = driver.press()
    await asyncio.sleep(0.1)  # a tap, as a finger does it
    driver.release()
    first_audio = None
    if PROBE.per_frame:
        got = await loop.run_in_executor(None, PROBE.first_persona.wait, 30.0)
        first_audio = (PROBE.first_persona_at - pressed) if got and PROBE.first_persona_at else None
    await driver.wait_state("listening", "talking")
    start_wall = time.monotonic()
    roles = ThreadRoles()
    capture, playback = app.mic.capture, app.speaker.playback  # type: ignore[attr-defined]
    for role, device in (("capture", capture), ("playback", playback)):
        if device.audio_thread is not None:
            roles.mark(role, device.audio_thread)
    meter = CpuMeter(roles, start_wall)
    if measure_resources:
        PROFILER.start_loop()
    rss: list[int] = []
    mic_open: list[float] = []

    async def sample_rss() -> None:
        while True:
            rss.append(rss_kb())
            await asyncio.sleep(1.0)  # the sampling period

    sampler = asyncio.create_task(sample_rss()) if measure_resources else None
    # The rep's rhythm: let the persona talk, press and speak 2 s, release, repeat.
    while time.monotonic() - start_wall < seconds:
        await asyncio.sleep(min(1.5, max(0.0, seconds - (time.monotonic() - start_wall))))
        PROBE.unmuted.clear()
        at = driver.press()
        if PROBE.per_frame:
            try:
                async with asyncio.timeout(5.0):
                    await PROBE.unmuted.wait()
                assert PROBE.unmuted_at is not None
                mic_open.append(PROBE.unmuted_at - at)
            except TimeoutError:
                pass
        await asyncio.sleep(min(2.0, seconds / 4))  # the rep speaking
        driver.release()
        await asyncio.sleep(min(2.5, seconds / 4))  # the persona's answer
    wall = time.monotonic() - start_wall
    cpu = meter.stop(time.monotonic())
    if measure_resources:
        PROFILER.stop_loop()
    if sampler is not None:
        sampler.cancel()
    underruns = app.speaker.underruns  # this call's: the speaker opens a fresh buffer per call
    drained_ms = 1000 * playback.stats.drained_samples / DEVICE_RATE
    # End: a double press, with a finger's timing (each edge outside the 20 ms debounce).
    for _ in range(2):
        driver.press()
        await asyncio.sleep(0.08)
        driver.release()
        await asyncio.sleep(0.08)
    # Scoring: a press from here starts the next call, as a rep queueing up would.
    await driver.wait_state("scoring", "idle", "error")
    await asyncio.sleep(0.6)  # the next rep steps up: no double press with the last one
    result: dict[str, Any] = {
        "seconds": round(wall, 2),
        "press_to_first_audio_s": first_audio,
        "press_to_mic_open_s": mic_open,
        "mic_to_wire_s": PROBE.mic_to_wire[m2w_start:],
        "wire_to_speaker_s": PROBE.wire_to_speaker[w2s_start:],
        "wire_at": PROBE.wire_at[w2s_start:],
        "underruns": underruns,
        "drained_ms": drained_ms,
    }
    if measure_resources:
        result.update(cpu)
        result["rss_mb_max"] = max(rss) / 1024 if rss else None
        result["rss_mb_median"] = float(np.median(rss)) / 1024 if rss else None
    return result


async def main(plan: dict[str, Any]) -> dict[str, Any]:
    from gpiozero.pins.mock import MockFactory, MockPWMPin

    from booth.sim.alsa_devices import alsa_file_devices

    if plan.get("profile"):
        PROFILER.out_dir = Path(plan["profile"])
    key = Secret(plan["api_key"])
    config = parse_config(
        {
            "booth": {"id": "bench-booth"},
            "service": {"api_url": plan["api_url"], "drill_key": plan["drill"]},
            "panel": {"pin_factory": "mock"},
            # The paced devices run at DEVICE_RATE (a USB mic and speaker's usual 48 kHz).
            "audio": {
                "input_device": "boothmic",
                "output_device": "boothspk",
                "input_rate": DEVICE_RATE,
                "output_rate": DEVICE_RATE,
                **({"prebuffer_ms": plan["prebuffer_ms"]} if plan.get("prebuffer_ms") else {}),
            },
            "call": {"score_wait": 10.0, "score_display": 1.0, "idle_timeout": 600.0},
        }
    )
    durations = [plan["cpu_s"]] + [plan["call_s"]] * (plan["calls"] - 1)
    with (
        tempfile.TemporaryDirectory(prefix="booth-bench-") as tmp,
        alsa_file_devices(
            Path(tmp), speech_like(2.0), rate=DEVICE_RATE, paced=True, loop_capture=True
        ) as alsa,
    ):
        factory = MockFactory(pin_class=MockPWMPin)
        mic, speaker = TimedMic(config.audio), PyAudioSpeaker(config.audio)
        capture, playback = mic.capture, speaker.playback
        capture._block = PROFILER.wrap("capture", capture._block)  # type: ignore[method-assign]
        playback._block = PROFILER.wrap("playback", playback._block)  # type: ignore[method-assign]
        app = BoothApp(
            config,
            key,
            mic=mic,
            speaker=speaker,
            pin_factory=factory,
            notifier=Notifier(),
            session_factory=_session_factory(config, key, plan["proxy_port"]),
        )
        driver = Driver(app, factory)
        task = asyncio.create_task(app.run_forever())

        calls = []
        try:
            await asyncio.wait_for(app.ready.wait(), 20)
            idle = memory_mb()
            for i, seconds in enumerate(durations):
                calls.append(await one_call(app, driver, seconds, measure_resources=i == 0))
            await driver.wait_state("idle", "error")
            await driver.wait_summaries(len(durations))
            idle_after = memory_mb()  # steady state: what the calls left behind
        finally:
            app.request_stop()
            await asyncio.wait_for(task, 20)
            factory.reset()
        alsa.finish()
    return {
        "calls": calls,
        "idle_rss_mb": idle["rss"],
        "idle_memory_mb": idle,
        "idle_after_calls_memory_mb": idle_after,
        "device_rate": DEVICE_RATE,
        "prebuffer_ms": config.audio.prebuffer_ms,
        "underrun_log": PROBE.underrun_log,
        "profile": PROFILER.report(),
    }


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    logging.getLogger("booth").setLevel(logging.WARNING)
    result = asyncio.run(main(json.loads(sys.stdin.read())))
    print(json.dumps(result))
