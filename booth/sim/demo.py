"""`booth demo`: a whole scripted booth call, offline, through the real daemon.

An in-process devserver on loopback plays the service; the daemon runs with MockFactory pins
(the script presses the button by driving the pin, like a finger) and WAV-style audio (the
"mic" speaks the rep's lines, the "speaker" records what the booth played). The script:
start a call, talk turns, a barge-in, a Wi-Fi drop and resume, a double press to end, the
score. It prints a timeline of what a person at the booth would see and hear, and writes the
persona audio the booth played and the rep audio the service received as WAV files.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
import wave
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from booth.config import parse_config
from booth.daemon import timeline as t
from booth.daemon.app import BoothApp, ScorePolicy
from booth.daemon.summary import FIELD_NAMES, CallSummary
from booth.errors import BoothError
from booth.protocol.messages import SAMPLE_RATE
from booth.secret import Secret
from booth.sim.fake_audio import FakeMic, FakeSpeaker

REP_LINES = (
    "Hi, this is Sam from Brightline. Do you have a minute to talk about your phone bill?",
    "We cut costs for teams like yours by a third, with no contract.",
    "Sorry to cut in. Could I send you a one page summary?",
    "Great. Thanks for your time, I will send it today.",
)

LED_WORDS = {
    "idle": "green, slow breathe",
    "connecting": "amber blink",
    "listening": "solid green",
    "persona_speaking": "solid green + blue pulse (persona speaking)",
    "talking": "solid red (on air)",
    "reconnecting": "fast amber blink",
    "scoring": "white pulse",
    "off": "off",
}


#: The summary fields the demo prints (the session id and error code say nothing here).
DEMO_FIELDS = tuple(name for name in FIELD_NAMES if name not in ("session_id", "error_code"))


class DemoError(Exception):
    pass


def write_wav(path: Path, pcm: bytes, rate: int = SAMPLE_RATE) -> None:
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(pcm)


@dataclass
class DemoResult:
    call_id: str
    score: int | None
    summary: CallSummary
    persona_wav: Path
    rep_wav: Path
    timeline: list[str] = field(default_factory=list)


class _Timeline:
    def __init__(self, out: TextIO | None) -> None:
        self.out = out
        self.start = time.monotonic()
        self.lines: list[str] = []

    def say(self, text: str) -> None:
        line = f"{time.monotonic() - self.start:6.2f}s  {text}"
        self.lines.append(line)
        if self.out is not None:
            print(line, file=self.out, flush=True)


async def run_demo(
    out_dir: Path, *, out: TextIO | None = None, use_espeak: bool = True
) -> DemoResult:
    from gpiozero.pins.mock import MockFactory, MockPWMPin

    from booth.devserver import DevServer, Settings
    from booth.devserver.voice import Voice

    await asyncio.to_thread(out_dir.mkdir, parents=True, exist_ok=True)
    api_key = "ath_live_demo_" + secrets.token_hex(12)
    server = DevServer(
        api_keys={api_key},
        settings=Settings(scoring_delay=0.5, reply_delay=0.2, silence_s=0.6, resume_window=10.0),
        use_espeak=use_espeak,
    )
    await server.start()
    factory = MockFactory(pin_class=MockPWMPin)
    mic, speaker = FakeMic(), FakeSpeaker()
    config = parse_config(
        {
            "booth": {"id": "booth-demo", "location": "demo"},
            "service": {"api_url": server.url},
            "panel": {"pin_factory": "mock", "talk_mode": "ptt"},
            "call": {"score_wait": 30.0, "score_display": 1.0},
        }
    )
    app = BoothApp(
        config,
        Secret(api_key),
        mic=mic,
        speaker=speaker,
        pin_factory=factory,
        score_policy=ScorePolicy(first=0.3, factor=1.5, cap=2.0),
        tick_interval=0.1,
    )
    tl = _Timeline(out)
    changed = asyncio.Event()

    def led_words() -> str:
        state = app.panel.led_state if app.panel else None
        if state is None:
            return ""
        if state.pattern == "score":
            return f"solid {state.colour} (score band)"
        if state.pattern == "error":
            return f"red, {state.blinks} blinks"
        return LED_WORDS.get(state.pattern, state.pattern)

    seen_state = {"state": "idle"}

    def persona_line() -> str:
        call_now = app.call
        call = server.calls.get(call_now.call_id) if call_now and call_now.call_id else None
        if call is None or not call.persona_lines:
            return ""
        return f": “{call.persona_lines[-1].content}”"

    def show(event: t.BoothEvent) -> str | None:
        match event:
            case t.StateChanged(state=state, previous=previous):
                seen_state["state"] = state
                return f"{previous:>12} → {state:<12} LED: {led_words()}"
            case t.LedShown(pattern=pattern):
                # Within "listening" only: the blue pulse of the persona speaking, on and off.
                if seen_state["state"] != "listening" or app.machine.state.value != "listening":
                    return None
                if pattern.name == "persona_speaking":
                    return f"{'':>12}   persona speaks{persona_line()}   LED: {led_words()}"
                return f"{'':>12}   persona stops   LED: {led_words()}"
            case t.ButtonSeen(kind=kind):
                return None if kind == "hold" else f"{'':>12}   button {kind.replace('_', ' ')}"
            case t.CueQueued(cue=cue):
                return f"{'':>12}   ♪ {cue} cue"
            case t.PlaybackFlushed():
                return f"{'':>12}   barge-in: the persona's queued audio is dropped"
            case t.ScoreArrived(score=score):
                return f"{'':>12}   score {score}/100 arrived"
        return None

    def on_event(event: t.BoothEvent) -> None:
        text = show(event)
        if text:
            tl.say(text)
        changed.set()

    app.events.subscribe(on_event)

    async def until(predicate: Callable[[], object], what: str, within: float = 30.0) -> None:
        async def wait() -> None:
            while not predicate():
                changed.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(changed.wait(), 0.1)

        try:
            await asyncio.wait_for(wait(), within)
        except TimeoutError:
            raise DemoError(f"the booth never got to: {what}") from None

    pin = factory.pin(config.panel.button_pin)

    async def finger(down: bool) -> None:
        if down:
            pin.drive_low()
        else:
            pin.drive_high()
        await asyncio.sleep(0.05)  # a finger's pace, and past the 20 ms debounce

    def persona_speaking() -> bool:
        return bool(app.machine.call.persona_speaking)

    voice = Voice(use_espeak=use_espeak)

    async def talk(line: str) -> None:
        pcm = await voice.render(line, "en-gb")
        tl.say(f"{'':>12}   rep says: “{line}”")
        mic.say(pcm)
        await finger(True)
        await until(mic.done.is_set, "the rep finishing a sentence")
        await finger(False)

    task = asyncio.create_task(app.run_forever())
    try:
        await asyncio.wait_for(app.ready.wait(), 10)
        tl.say(f"booth ready on {server.url} (voice: {server.voice.engine})  LED: {led_words()}")
        await asyncio.sleep(0.5)
        await finger(True)
        await finger(False)
        await until(lambda: app.machine.state.value == "listening", "a connected call")
        assert app.call is not None
        call_id = app.call.call_id
        await until(persona_speaking, "the persona's greeting")
        await until(lambda: not persona_speaking(), "the end of the greeting")
        await asyncio.sleep(0.5)  # a person's pause before answering (and no double press)
        await talk(REP_LINES[0])
        await until(persona_speaking, "the persona's reply")
        await until(lambda: not persona_speaking(), "the end of the reply")
        await asyncio.sleep(0.5)
        await talk(REP_LINES[1])
        await until(persona_speaking, "the persona's objection")
        await asyncio.sleep(0.6)  # let it get a few words in, then barge in
        await talk(REP_LINES[2])
        await until(lambda: not persona_speaking(), "the persona going quiet")
        await asyncio.sleep(0.5)
        tl.say(f"{'':>12}   *** Wi-Fi vanishes: packets silently dropped, no reset ***")
        server.fault_call(call_id, blackhole_after=0.0)
        await until(lambda: app.machine.state.value == "reconnecting", "noticing the drop")
        await until(lambda: app.machine.state.value == "listening", "resuming the call", 40)
        await until(lambda: not persona_speaking(), "a quiet moment")
        await asyncio.sleep(0.5)
        await talk(REP_LINES[3])
        await asyncio.sleep(0.6)
        tl.say(f"{'':>12}   double press to end the call")
        await finger(True)
        await finger(False)
        await finger(True)
        await finger(False)
        await until(lambda: app.summaries, "the call's summary", 40)
        await until(lambda: app.machine.state.value == "idle", "back to idle", 10)
        summary = app.summaries[-1]
        call = server.calls.get(call_id)
        app.request_stop()
        await asyncio.wait_for(task, 15)
        persona_wav = out_dir / "persona.wav"
        rep_wav = out_dir / "rep.wav"
        await asyncio.to_thread(write_wav, persona_wav, bytes(speaker.audio))
        rep_pcm = bytes(call.rep_audio) if call is not None else b""
        await asyncio.to_thread(write_wav, rep_wav, rep_pcm)
        if out is not None:
            _print_summary(out, summary, call, persona_wav, rep_wav)
        return DemoResult(call_id, summary.score, summary, persona_wav, rep_wav, tl.lines)
    finally:
        app.request_stop()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, 15)
        await server.close()
        factory.reset()


def _print_summary(
    out: TextIO, summary: CallSummary, call: Any, persona_wav: Path, rep_wav: Path
) -> None:
    print("", file=out)
    print("Call summary (also logged as one journal record, EVENT=call_summary):", file=out)
    for name in DEMO_FIELDS:
        print(f"  {name:<20} {getattr(summary, name)}", file=out)
    if call is not None and call.score is not None:
        print(f"\n{call.score.summary}", file=out)
        feedback = call.score.feedback
        if isinstance(feedback, list | tuple):
            for item in feedback:
                print(f"  - {item}", file=out)
        elif feedback:
            print(f"  {feedback}", file=out)
    print(f"\nPersona audio the booth played: {persona_wav}", file=out)
    print(f"Rep audio the service received:  {rep_wav}", file=out)


def main(out_dir: Path, *, verbose: bool = False, out: TextIO | None = None) -> int:
    """Entry point for `booth demo`: 0 when the whole script ran and a score came back."""
    import sys

    from booth.logs import setup_logging

    # The timeline tells the story; the daemon's own log (-v) is for digging in.
    setup_logging("info" if verbose else "error", "stderr", BOOTH_ID="booth-demo")
    stream = out or sys.stdout
    try:
        result = asyncio.run(run_demo(out_dir, out=stream))
    except (DemoError, BoothError) as exc:
        print(f"booth demo: {exc}", file=sys.stderr)
        return 1
    if result.score is None:
        print("booth demo: the call was not scored", file=sys.stderr)
        return 1
    return 0


class KeyboardButton:
    """The space bar as the talk button (``demo --live``), fed through the panel's detector.

    A terminal reports key presses but not releases, so the live demo runs in ``toggle``
    mode: space taps the button (talk / stop talking), ``e`` double-taps it (end the call),
    ``q`` quits.
    """

    def __init__(self, app: BoothApp, quit: Callable[[], None]) -> None:
        self.app = app
        self.quit = quit
        self._t = 0.0

    def _tap(self) -> None:
        panel = self.app.panel
        if panel is None:
            return
        # Edges 50 ms apart, as a finger would make them; past the debounce window.
        self._t = max(self._t + 0.05, self.app.clock())
        panel.edge(True, self._t)
        self._t += 0.05
        panel.edge(False, self._t)

    def key(self, char: str) -> None:
        if char == " ":
            self._tap()
        elif char in ("e", "E"):
            self._tap()
            self._tap()
        elif char in ("q", "Q", "\x03", "\x04"):
            self.quit()


async def run_live(config_path: Path | None, out: TextIO) -> int:
    """`booth demo --live`: the real mic and speaker, the space bar as the button."""
    import dataclasses
    import sys
    import termios
    import tty

    from booth.config import load_config
    from booth.daemon.audio_io import devices_for
    from booth.devserver import DevServer
    from booth.ops.presets import apply_preset

    base = apply_preset(load_config(config_path)) if config_path else parse_config({})
    api_key = "ath_live_demo_" + secrets.token_hex(12)
    server = DevServer(api_keys={api_key})
    await server.start()
    config = dataclasses.replace(
        base,
        service=dataclasses.replace(base.service, api_url=server.url),
        panel=dataclasses.replace(base.panel, enabled=False, talk_mode="toggle"),
    )
    mic, speaker = devices_for(config)
    app = BoothApp(config, Secret(api_key), mic=mic, speaker=speaker)
    tl = _Timeline(out)

    def on_event(event: t.BoothEvent) -> None:
        match event:
            case t.StateChanged(state=state, previous=previous):
                tl.say(f"{previous:>12} → {state}")
            case t.StatusShown(text=text):
                tl.say(f"{'':>12}   {text}")
            case t.ScoreArrived(score=score):
                tl.say(f"{'':>12}   score {score}/100")

    app.events.subscribe(on_event)
    keys = KeyboardButton(app, app.request_stop)
    loop = asyncio.get_running_loop()
    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd) if sys.stdin.isatty() else None
    print("space: talk / stop talking   e: end the call   q: quit", file=out, flush=True)
    try:
        if saved is not None:
            tty.setcbreak(fd)
        loop.add_reader(fd, lambda: keys.key(sys.stdin.read(1)))
        return await app.run_forever()
    finally:
        loop.remove_reader(fd)
        if saved is not None:
            termios.tcsetattr(fd, termios.TCSADRAIN, saved)
        await server.close()


def main_live(config_path: Path | None, *, verbose: bool = False) -> int:
    import sys

    from booth.logs import setup_logging

    # The timeline tells the story; the daemon's own log (-v) is for digging in.
    setup_logging("info" if verbose else "error", "stderr", BOOTH_ID="booth-demo")
    return asyncio.run(run_live(config_path, sys.stdout))
