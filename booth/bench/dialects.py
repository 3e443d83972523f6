"""`booth bench dialects`: per dialect, a 60 s call and a Wi-Fi drop, through the real daemon.

For each of ``booth``, ``seed003`` and ``atoms``: the reference service in this process (in that
mode), the real ``BoothApp`` with MockFactory pins driven like a finger, the PyAudio mic and
speaker on paced 48 kHz ALSA ``file`` devices, and the call's WebSocket through a fault proxy.

1. A call of ``seconds``: the rep lets the persona talk, holds the button and speaks 2 s,
   releases, listens, again and again; then a double press. Figures from the call's summary and
   session: frames and audio seconds sent and received, underruns.
2. A second call and a drop: the proxy black-holes the WebSocket once the greeting is over.
   Figures: seconds from the drop to what the booth shows (``reconnecting``, or ``error``), its
   error code, and the cues played from the drop on; for a dialect with resume, the link comes
   back after 5 s and the seconds to be back in the call.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from booth.protocol.dialects import NAMES, traits

SECONDS = 60.0
BUTTON = 17
OUTAGE_S = 5.0  # how long a resumable drop lasts before the link comes back


def speech_like(seconds: float, rate: int = 48000) -> npt.NDArray[np.int16]:
    t = np.arange(int(seconds * rate)) / rate
    voice = np.sin(2 * np.pi * 220 * t) + 0.5 * np.sin(2 * np.pi * 660 * t)
    syllables = (np.sin(2 * np.pi * 3 * t) > -0.3).astype(float)  # bursts, like words
    pcm: npt.NDArray[np.int16] = (voice * syllables * 6000).astype(np.int16)
    return pcm


class _Rep:
    """The finger on the button, and what the booth shows."""

    def __init__(self, app: Any, factory: Any) -> None:
        from booth.daemon import timeline as t

        self.app = app
        self.pin = factory.pin(BUTTON)
        self.cues: list[tuple[float, str]] = []
        self.states: list[tuple[float, str]] = []
        self.changed = asyncio.Event()

        def record(event: Any) -> None:
            if isinstance(event, t.CueQueued):
                self.cues.append((time.monotonic(), event.cue))
            elif isinstance(event, t.StateChanged):
                self.states.append((time.monotonic(), event.state))
            self.changed.set()

        app.events.subscribe(record)

    async def edge(self, down: bool) -> None:
        if down:
            self.pin.drive_low()
        else:
            self.pin.drive_high()
        await asyncio.sleep(0.08)  # a finger: each edge well outside the 20 ms debounce

    async def tap(self) -> None:
        await self.edge(True)
        await self.edge(False)

    async def state(self, *states: str, within: float = 30.0) -> float:
        async with asyncio.timeout(within):
            while str(self.app.machine.state) not in states:
                self.changed.clear()
                await self.changed.wait()
        return time.monotonic()


async def _dialect(name: str, seconds: float, workdir: Path) -> dict[str, Any]:
    from gpiozero.pins.mock import MockFactory, MockPWMPin

    from booth.config import parse_config
    from booth.daemon.app import BoothApp
    from booth.daemon.audio_io import devices_for
    from booth.daemon.notify import Notifier
    from booth.daemon.sessions import session_factory_for
    from booth.devserver import DevServer
    from booth.secret import Secret
    from booth.sim.alsa_devices import alsa_file_devices
    from booth.sim.faultproxy import TcpProxy

    dialect = traits(name)
    key = "ath_live_bench_dialects_00000001"
    service: dict[str, Any] = {"protocol": name, "drill_key": "cold-call-skeptic"}
    if name == "atoms":
        service["agent_id"] = "cold-call-skeptic"
    if not dialect.drill:
        service.pop("drill_key")
    with alsa_file_devices(workdir / name, speech_like(6.0), paced=True, loop_capture=True):
        async with DevServer(api_keys={key}) as server, TcpProxy("127.0.0.1", server.port) as proxy:
            config = parse_config(
                {
                    "service": {"api_url": server.url, **service},
                    "audio": {
                        "input_device": "boothmic",
                        "output_device": "boothspk",
                        "input_rate": 48000,
                        "output_rate": 48000,
                    },
                    "panel": {"pin_factory": "mock"},
                    "call": {"score_display": 1.0, "score_wait": 15.0},
                }
            )
            mic, speaker = devices_for(config)
            factory = MockFactory(pin_class=MockPWMPin)
            app = BoothApp(
                config,
                Secret(key),
                mic=mic,
                speaker=speaker,
                pin_factory=factory,
                notifier=Notifier(),
                session_factory=session_factory_for(config, Secret(key), route=proxy.rewrite),
            )
            rep = _Rep(app, factory)
            runner = asyncio.create_task(app.run_forever())
            try:
                await asyncio.wait_for(app.ready.wait(), 10)
                call = await _long_call(app, rep, seconds, dialect.wire_rate)
                drop = await _drop(app, rep, proxy, dialect.resume)
            finally:
                app.request_stop()
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(runner, 20)
                factory.reset()
    return {"dialect": name, "wire_rate": dialect.wire_rate, "call": call, "drop": drop}


async def _long_call(app: Any, rep: _Rep, seconds: float, rate: int) -> dict[str, Any]:
    await rep.tap()
    await rep.state("listening")
    session = app.call.session
    started = time.monotonic()
    turns = 0
    while time.monotonic() - started < seconds - 1.0:
        await asyncio.sleep(1.5)  # the persona talks
        await rep.edge(True)
        await asyncio.sleep(2.0)  # the rep speaks
        await rep.edge(False)
        turns += 1
        await asyncio.sleep(max(0.0, min(2.5, seconds - (time.monotonic() - started))))
    length = time.monotonic() - started
    await rep.tap()
    await rep.edge(True)
    await rep.edge(False)
    await rep.state("scoring", "idle", "error")
    async with asyncio.timeout(20):  # the summary follows the end (after the score poll)
        while not app.summaries:
            rep.changed.clear()
            await rep.changed.wait()
    summary = app.summaries[-1]
    stats = session.stats
    received = session._supervisor.stats.bytes_received if session._supervisor else 0
    return {
        "seconds": round(length, 1),
        "rep_turns": turns,
        "frames_sent": stats.frames_sent,
        "audio_sent_s": round(stats.frames_sent * 0.02, 1),
        "messages_received": stats.frames_received,
        "audio_received_s": round(received / 2 / rate, 1),
        "frames_dropped": stats.frames_dropped,
        "underruns": summary.underruns,
        "score": summary.score,
        "no_score": summary.no_score,
        "end_reason": summary.end_reason,
    }


async def _drop(app: Any, rep: _Rep, proxy: Any, resume: bool) -> dict[str, Any]:
    await rep.state("idle", within=30)
    await rep.tap()
    await rep.state("listening")
    await asyncio.sleep(3.0)  # into the call
    cues_before = len(rep.cues)
    dropped = proxy.blackhole()
    shown = await rep.state("reconnecting", "error", within=60)
    result: dict[str, Any] = {
        "shows": str(app.machine.state),
        "seconds_to_show": round(shown - dropped, 2),
    }
    if resume:
        await asyncio.sleep(max(0.0, dropped + OUTAGE_S - time.monotonic()))
        restored = proxy.restore()
        back = await rep.state("listening", "talking", within=40)
        result["back_in_call_after_restore_s"] = round(back - restored, 2)
        result["outage_s"] = OUTAGE_S
    else:
        result["error_code"] = app.machine.error_code
        await asyncio.sleep(1.0)  # the error cue is queued as the state changes
        proxy.restore()
    result["cues"] = [cue for _, cue in rep.cues[cues_before:]]
    result["states"] = [state for at, state in rep.states if at >= dropped]
    return result


def measure(seconds: float = SECONDS, dialects: tuple[str, ...] = NAMES) -> dict[str, Any]:
    logging.getLogger("booth").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="booth-bench-dialects-") as tmp:

        async def main() -> list[dict[str, Any]]:
            return [await _dialect(name, seconds, Path(tmp)) for name in dialects]

        return {"seconds": seconds, "dialects": asyncio.run(main())}


def render_table(result: dict[str, Any]) -> str:
    lines = [
        f"A {result['seconds']:g} s call and a Wi-Fi drop per dialect (real daemon, ALSA file "
        "devices at 48 kHz)",
        "",
        "| dialect | frames sent | audio sent s | messages received | audio received s "
        "| underruns | no score | drop: shows | after s | cues |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for d in result["dialects"]:
        c, x = d["call"], d["drop"]
        shows = x["shows"] + (f" {x['error_code']}" if x.get("error_code") else "")
        lines.append(
            f"| {d['dialect']} | {c['frames_sent']} | {c['audio_sent_s']} "
            f"| {c['messages_received']} | {c['audio_received_s']} | {c['underruns']} "
            f"| {c['no_score'] or '-'} | {shows} | {x['seconds_to_show']} "
            f"| {', '.join(x['cues']) or '-'} |"
        )
    return "\n".join(lines)


def run(*, as_json: bool) -> int:
    result = measure()
    print(json.dumps(result, indent=2) if as_json else render_table(result))
    return 0
