"""A whole booth in a test: the real daemon, the devserver on loopback, MockFactory pins, a real
NOTIFY_SOCKET, and the in-memory mic and speaker of ``booth.sim.fake_audio`` (the PyAudio-backed
ones are exercised against ALSA file devices in test_app_alsa.py)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from gpiozero.pins.mock import MockFactory, MockPWMPin

from booth.config import Config, parse_config
from booth.daemon import timeline as t
from booth.daemon.app import BoothApp, ScorePolicy, session_factory_for
from booth.daemon.notify import Notifier
from booth.devserver import DevServer, Settings
from booth.devserver.drills import Drill, parse_drill
from booth.panel.gpio import LedState
from booth.secret import Secret
from booth.sim.fake_audio import FakeMic, FakeSpeaker
from booth.sim.faultproxy import TcpProxy

API_KEY = "ath_live_daemon_test_key_000000001"


def quick_drill() -> Drill:
    return parse_drill(
        {
            "drillKey": "quick",
            "title": "Short lines so tests are fast",
            "persona": {"name": "Alex", "opening": "Hello there, who is this?", "closing": "Bye."},
            "difficulty": {
                "Beginner": {"objection_every": 2, "lines": ["Go on."], "objections": ["No."]},
            },
        },
        "test",
    )


def server_settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "resume_window": 5.0,
        "scoring_delay": 0.05,
        "auth_timeout": 2.0,
        "reply_delay": 0.0,
        "silence_s": 0.3,
        "default_drill": "quick",
    }
    values.update(overrides)
    return Settings(**values)


def quick_devserver(**settings: Any) -> DevServer:
    """The devserver the daemon tests use: the test key, the quick drill, no espeak."""
    return DevServer(
        api_keys={API_KEY},
        settings=server_settings(**settings),
        drills={"quick": quick_drill()},
        use_espeak=False,
    )


def write_run_config(directory: Path, api_url: str, booth_id: str = "booth-test") -> Path:
    """A booth.toml (and its 0600 key file) for a real `booth run` process against ``api_url``."""
    key_file = directory / "api_key"
    key_file.write_text(API_KEY + "\n")
    key_file.chmod(0o600)
    config = directory / "booth.toml"
    config.write_text(
        f'[booth]\nid = "{booth_id}"\n'
        f'[service]\napi_url = "{api_url}"\ndrill_key = "quick"\napi_key_file = "{key_file}"\n'
        '[panel]\npin_factory = "mock"\n[logging]\ntarget = "stderr"\n'
    )
    return config


class OffsetClock:
    """time.monotonic plus a jump the test controls (idle timeouts without waiting)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.monotonic() + self.offset

    def jump(self, seconds: float) -> None:
        self.offset += seconds


class Booth:
    """The running daemon plus everything a test wants to look at or poke."""

    def __init__(self, app: BoothApp, server: DevServer, factory: Any, clock: OffsetClock) -> None:
        self.app = app
        self.server = server
        self.factory = factory
        self.clock = clock
        self.mic: FakeMic = app.mic  # type: ignore[assignment]
        self.speaker: FakeSpeaker = app.speaker  # type: ignore[assignment]
        self.timeline: list[t.BoothEvent] = []
        #: Each state change with the LEDs showing as it was reported.
        self.state_leds: list[tuple[str, LedState | None]] = []
        self.notifications: list[str] = []
        #: Reads the NOTIFY_SOCKET now, synchronously; returns what it read.
        self.read_notifications: Callable[[], list[str]] = list
        self.changed = asyncio.Event()
        self.proxy: TcpProxy | None = None
        app.events.subscribe(self._record)

    def _record(self, event: t.BoothEvent) -> None:
        if isinstance(event, t.StateChanged):
            led = self.app.panel.led_state if self.app.panel else None
            self.state_leds.append((event.state, led))
        self.timeline.append(event)
        self.changed.set()

    async def until(
        self, predicate: Callable[[], object], within: float = 10.0, what: str = ""
    ) -> None:
        async def wait() -> None:
            while not predicate():
                self.changed.clear()
                await self.changed.wait()

        try:
            await asyncio.wait_for(wait(), within)
        except TimeoutError:
            raise AssertionError(
                f"timed out waiting for {what or predicate}; {self.states()}"
            ) from None

    def states(self) -> list[str]:
        return [state for state, _ in self.state_leds]

    def buttons(self) -> list[str]:
        return [e.kind for e in self.timeline if isinstance(e, t.ButtonSeen)]

    def count(self, name: str) -> int:
        return sum(1 for e in self.timeline if e.name == name)

    async def wait_state(self, state: str, within: float = 10.0) -> None:
        await self.until(lambda: self.app.machine.state == state, within, f"state {state}")

    async def finger(self, down: bool, kind: str | None = None) -> None:
        """Press or release the button like a finger, and wait until the panel saw it."""
        seen = len(self.buttons())
        pin = self.factory.pin(17)
        if down:
            pin.drive_low()
        else:
            pin.drive_high()
        want = kind or ("press" if down else "release")
        await self.until(lambda: self.buttons()[seen:] == [want], 5.0, f"button {want}")

    async def press(self) -> None:
        self.clock.jump(1.0)  # well apart from the previous press: never a double press
        await self.finger(True)

    async def release(self) -> None:
        await self.finger(False)

    async def tap(self) -> None:
        await self.press()
        await self.release()

    async def double_press(self) -> None:
        await self.press()
        await self.release()
        await self.finger(True, "double_press")
        await self.release()

    @property
    def led(self) -> str:
        assert self.app.panel is not None
        return self.app.panel.led_state.pattern

    def call(self) -> Any:
        call = self.app.call
        assert call is not None and call.call_id
        return self.server.calls[call.call_id]


def booth_config(server: DevServer, **sections: dict[str, Any]) -> Config:
    return booth_config_for_url(server.url, **sections)


def booth_config_for_url(api_url: str, **sections: dict[str, Any]) -> Config:
    data: dict[str, Any] = {
        "booth": {"id": "booth-test"},
        "service": {"api_url": api_url, "drill_key": "quick", "request_timeout": 5.0},
        "panel": {"pin_factory": "mock", "double_press_ms": 400},
        "call": {"score_wait": 10.0, "score_display": 5.0},
    }
    for name, values in sections.items():
        data.setdefault(name, {}).update(values)
    return parse_config(data)


@contextlib.asynccontextmanager
async def running_booth(
    tmp_path: Path,
    *,
    server_kw: dict[str, Any] | None = None,
    mic: FakeMic | None = None,
    speaker: FakeSpeaker | None = None,
    watchdog_usec: int | None = None,
    through_proxy: bool = False,
    **sections: dict[str, Any],
) -> AsyncIterator[Booth]:
    """Devserver + daemon + notify socket, all on this loop; stops the daemon on exit.

    ``through_proxy``: the call's WebSocket goes through a fault proxy (``booth.proxy``) that can
    black-hole or reset the link like Wi-Fi does.
    """
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(tmp_path / "notify"))
    notify.setblocking(False)
    env = {"NOTIFY_SOCKET": str(tmp_path / "notify")}
    if watchdog_usec:
        env["WATCHDOG_USEC"] = str(watchdog_usec)
    saved = {k: os.environ.get(k) for k in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID")}
    os.environ.pop("WATCHDOG_PID", None)
    os.environ.update(env)
    server = DevServer(
        api_keys={API_KEY},
        settings=server_settings(**(server_kw or {})),
        drills={"quick": quick_drill()},
        use_espeak=False,
    )
    await server.start()
    factory = MockFactory(pin_class=MockPWMPin)
    clock = OffsetClock()
    config = booth_config(server, **sections)
    proxy = await TcpProxy("127.0.0.1", server.port).start() if through_proxy else None
    session_factory = (
        None if proxy is None else session_factory_for(config, Secret(API_KEY), route=proxy.rewrite)
    )
    app = BoothApp(
        config,
        Secret(API_KEY),
        session_factory=session_factory,
        mic=mic or FakeMic(),
        speaker=speaker or FakeSpeaker(),
        pin_factory=factory,
        notifier=Notifier(),
        score_policy=ScorePolicy(first=0.05, factor=1.5, cap=0.3),
        tick_interval=0.05,
        probe_interval=0.05,
        clock=clock,
    )
    booth = Booth(app, server, factory, clock)
    booth.proxy = proxy
    loop = asyncio.get_running_loop()

    def on_notify() -> list[str]:
        got: list[str] = []
        with contextlib.suppress(BlockingIOError):
            while True:
                got.append(notify.recv(4096).decode())
        booth.notifications += got
        if got:
            booth.changed.set()
        return got

    booth.read_notifications = on_notify
    loop.add_reader(notify.fileno(), on_notify)
    task = asyncio.create_task(app.run_forever())
    try:
        await asyncio.wait_for(app.ready.wait(), 10)
        yield booth
    finally:
        app.request_stop()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, 15)
        loop.remove_reader(notify.fileno())
        notify.close()
        if proxy is not None:
            await proxy.close()
        await server.close()
        factory.reset()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
