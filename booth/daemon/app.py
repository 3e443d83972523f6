"""The booth daemon: panel, audio, calls and systemd around the state machine, on one loop.

Everything the machine decides comes back as commands; ``_execute`` carries each one out.
Everything that happens (button gestures, a call's events, device failures, timer ticks,
scores) goes in through ``feed``, which is re-entrant safe: an input raised while commands are
being executed is queued and fed after them, in order. Each call is a ``Call`` holding a
``Lease`` on the booth; starting the next call revokes the last one's lease.

journald gets the state changes, the call's events with ``CALL_ID``, and exactly one
``EVENT=call_summary`` record per call; nothing per frame, and no secret (the REST client
and the session register theirs with ``booth.logs.register_secret``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from booth.config import Config
from booth.daemon import commands as c
from booth.daemon import devices, heap, orphans
from booth.daemon import inputs as i
from booth.daemon import timeline as t
from booth.daemon.audio_io import Microphone, Speaker
from booth.daemon.call import Call
from booth.daemon.cues import cue_pcm
from booth.daemon.lease import Lease
from booth.daemon.machine import CALL_STATES, BoothMachine, Settings, State
from booth.daemon.notify import Notifier, WatchdogPinger, watchdog_interval
from booth.daemon.scoring import ScorePolicy
from booth.daemon.sessions import (
    RestFactory,
    SessionFactory,
    rest_factory_for,
    session_factory_for,
)
from booth.daemon.summary import CallSummary
from booth.errors import ErrorCode
from booth.logs import log_event, set_context
from booth.panel.button import ButtonEvent
from booth.panel.gpio import Panel, open_panel
from booth.protocol.dialects import traits
from booth.secret import Secret
from booth.transport.proxy import HttpProxy
from booth.wakeups import sleep_on_grid

__all__ = ["BoothApp", "ScorePolicy", "session_factory_for"]

log = logging.getLogger("booth.daemon")

_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}
_BUTTON_INPUTS: dict[str, Callable[[], i.Input]] = {
    "press": i.Press,
    "release": i.Release,
    "double_press": i.DoublePress,
}


def drill_sent(config: Config) -> str:
    """What names the roleplay on the service: the drill, the Atoms agent, or nothing where the
    protocol has no place for it (seed 003): the summary's DRILL_KEY says what the service saw."""
    service = config.service
    if not traits(service.protocol).drill:
        return ""
    return service.agent_id if service.protocol == "atoms" else service.drill_key


class BoothApp:
    def __init__(
        self,
        config: Config,
        api_key: Secret,
        *,
        mic: Microphone,
        speaker: Speaker,
        pin_factory: Any = None,
        notifier: Notifier | None = None,
        session_factory: SessionFactory | None = None,
        rest_factory: RestFactory | None = None,
        score_policy: ScorePolicy | None = None,
        tick_interval: float = 0.25,
        probe_interval: float = 2.0,
        end_timeout: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        state_dir: Path | None = None,
        proxy: HttpProxy | None = None,
    ) -> None:
        self.config = config
        self.proxy = proxy
        #: Where the live call is kept so a restarted daemon can end it (orphans.py).
        self.state_dir = state_dir
        self.mic = mic
        self.speaker = speaker
        self.pin_factory = pin_factory
        self.notifier = notifier or Notifier()
        self.session_factory = session_factory or session_factory_for(config, api_key, proxy=proxy)
        self.rest_factory = rest_factory or rest_factory_for(config, api_key, proxy)
        self.score_policy = score_policy or ScorePolicy()
        self.tick_interval = tick_interval
        self.probe_interval = probe_interval
        self.end_timeout = end_timeout
        self.clock = clock
        self.machine = BoothMachine(
            Settings(
                talk_mode=config.panel.talk_mode,
                idle_timeout=config.call.idle_timeout,
                max_duration=config.call.max_duration,
                score_display=config.call.score_display,
                scored=traits(config.service.protocol).score,
            )
        )
        #: What a person at the booth sees and hears, as typed events (the demo, the tests).
        self.events = t.Timeline()
        self.panel: Panel | None = None
        #: The call holding the booth (the latest one started), and every summary written.
        self.call: Call | None = None
        self.summaries: list[CallSummary] = []
        self._unsummarised: list[Call] = []
        self.ready = asyncio.Event()
        self._stop = asyncio.Event()
        self._pending: deque[i.Input] = deque()
        self._feeding = False
        self._tasks: set[asyncio.Task[Any]] = set()
        self._last_tick = clock()
        self._status = ""

    # ── lifecycle ────────────────────────────────────────────────────────────────

    async def run_forever(self) -> int:
        """Bring the booth up, serve until ``request_stop()``, then end cleanly. Returns 0."""
        loop = asyncio.get_running_loop()
        self.panel = open_panel(
            self.config.panel, loop, self.on_button, factory=self.pin_factory, clock=self.clock
        )
        if self.panel.degraded:
            log_event(log, logging.WARNING, f"panel: {self.panel.degraded}", EVENT="panel_degraded")
        self.panel.start()
        set_context(BOOTH_STATE=str(self.machine.state))
        self._apply(self.machine.start(self.clock()))
        missing = await devices.missing_at_start(self.mic, self.speaker)
        if missing is not None:
            self.feed(missing)
        if self.state_dir is not None:
            await orphans.end_orphan(self.state_dir, proxy=self.proxy)
        prober = devices.watch_for_return(
            self.mic, self.speaker, self._device_error, self.feed, self.probe_interval
        )
        background = [self._spawn(self._ticker(), "ticker"), self._spawn(prober, "device-prober")]
        interval = watchdog_interval()
        if interval is not None:
            pinger = WatchdogPinger(self.notifier, interval, alive=self._making_progress)
            background.append(self._spawn(pinger.run(), "watchdog"))
        heap.release()  # what start-up freed (the device scan, config parsing)
        self.notifier.ready(self._status)
        log_event(log, logging.INFO, "booth ready", EVENT="ready", BOOTH_STATE=self.machine.state)
        self.ready.set()
        try:
            await self._stop.wait()
        finally:
            await self._shutdown(background)
        return 0

    def request_stop(self) -> None:
        """SIGTERM / SIGINT: end any live call and stop."""
        self._stop.set()

    async def _shutdown(self, background: list[asyncio.Task[Any]]) -> None:
        self.notifier.stopping("Stopping")
        log_event(log, logging.INFO, "booth stopping", EVENT="stopping")
        self.feed(i.Shutdown())
        if self.call is not None:
            await self.call.wait_finished(self.end_timeout + 1.0)
        for call in self._unsummarised:
            call.close_out()
        for task in [*background, *self._tasks]:
            task.cancel()
        await asyncio.gather(*background, *self._tasks, return_exceptions=True)
        with contextlib.suppress(Exception):
            await self.mic.close()
        with contextlib.suppress(Exception):
            await self.speaker.close()
        if self.panel is not None:
            await self.panel.close()
        self.notifier.close()

    def _spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        task: asyncio.Task[Any] = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("task %s failed", task.get_name(), exc_info=task.exception())

    def _making_progress(self) -> bool:
        # The ticker runs every tick_interval; if it has not for a while, something is wedged.
        return self.clock() - self._last_tick < max(5.0, 20 * self.tick_interval) or (
            self._stop.is_set()
        )

    async def _ticker(self) -> None:
        while True:
            await sleep_on_grid(self.tick_interval)
            self._last_tick = self.clock()
            self.feed(i.Tick())
            live = self.call is not None and self.call.live
            if live and self.speaker.is_open and not self.speaker.healthy():
                self.feed(i.DeviceError(ErrorCode.AUDIO_PLAYBACK_BLOCKED, "speaker lost"))

    def _device_error(self) -> str | None:
        return self.machine.error_code if self.machine.state is State.ERROR else None

    # ── inputs ───────────────────────────────────────────────────────────────────

    def on_button(self, event: ButtonEvent) -> None:
        """A button gesture: from the GPIO panel, or from the control socket (the same input)."""
        self.events.emit(t.ButtonSeen(event.kind))
        make = _BUTTON_INPUTS.get(event.kind)
        if make is not None:
            self.feed(make())

    def feed(self, event: i.Input) -> None:
        """Give the machine an input (on the loop) and carry out what it decides."""
        self._pending.append(event)
        if self._feeding:
            return
        self._feeding = True
        try:
            while self._pending:
                nxt = self._pending.popleft()
                if isinstance(nxt, i.DeviceError):
                    log_event(
                        log,
                        logging.WARNING,
                        f"device error {nxt.code}: {nxt.message}",
                        EVENT="device_error",
                        ERROR_CODE=nxt.code,
                    )
                elif isinstance(nxt, i.DeviceRestored):
                    log_event(log, logging.INFO, f"{nxt.device} is back", EVENT="device_restored")
                before = self.machine.state
                commands = self.machine.feed(nxt, self.clock())
                changed = self.machine.state is not before
                if changed:
                    set_context(BOOTH_STATE=str(self.machine.state))
                self._apply(commands)
                if changed:  # after the commands, so listeners see the new LEDs too
                    self.events.emit(t.StateChanged(str(self.machine.state), str(before)))
        finally:
            self._feeding = False

    def _apply(self, commands: list[c.Command]) -> None:
        for command in commands:
            try:
                self._execute(command)
            except Exception:
                log.exception("command %s failed", type(command).__name__)

    # ── commands ─────────────────────────────────────────────────────────────────

    def _execute(self, command: c.Command) -> None:
        call = self.call
        match command:
            case c.StartCall():
                self._start_call()
            case c.EndCall(reason=reason):
                if call is not None:
                    call.end(reason)
            case c.OpenMic():
                if call is not None:
                    call.unmute()
            case c.CloseMic():
                if call is not None:
                    call.mute()
            case c.SendTurnEnd():
                if call is not None:
                    call.turn_end()
            case c.FlushPlayback():
                dropped = call.flush_playback() if call is not None else 0
                log_event(log, logging.DEBUG, "barge-in: persona audio flushed", EVENT="flush")
                self.events.emit(t.PlaybackFlushed(dropped))
            case c.PlayCue(cue=cue):
                self._play_cue(cue)
            case c.SetLed(pattern=pattern):
                if self.panel is not None:
                    self.panel.show(pattern)
                self.events.emit(t.LedShown(pattern))
            case c.SetStatus(text=text):
                self._status = text
                self.notifier.status(text)
                self.events.emit(t.StatusShown(text))
            case c.FetchScore(call_id=call_id):
                if call is not None:
                    call.fetch_score(call_id)
            case c.Log(level=level, message=message, fields=fields):
                log_event(log, _LEVELS[level], message, **fields)

    def _start_call(self) -> None:
        # The last call keeps running to its summary (and score), but no longer holds the booth.
        previous = self.call
        if previous is not None:
            previous.lease.revoke()
        set_context(CALL_ID=None, SESSION_ID=None)
        lease = Lease(self.mic, self.speaker, self.feed, self._tag_logs, self.state_dir)
        call = Call(
            (previous.number + 1) if previous is not None else 1,
            drill_sent(self.config),
            lease,
            session_factory=self.session_factory,
            rest_factory=self.rest_factory,
            score_policy=self.score_policy,
            score_wait=self.config.call.score_wait,
            end_timeout=self.end_timeout,
            spawn=self._spawn,
            on_score=lambda call_id, score: self.events.emit(t.ScoreArrived(call_id, score)),
            on_summary=self._summary_written,
            scored=traits(self.config.service.protocol).score,
        )
        self.call = call
        self._unsummarised = [c for c in self._unsummarised if not c.summary_done] + [call]
        call.start()

    def _tag_logs(self, call_id: str | None, session_id: str | None) -> None:
        if call_id is None and session_id is None and self.machine.state in CALL_STATES:
            return  # a call is on its way in: its ids come with it
        set_context(CALL_ID=call_id, SESSION_ID=session_id)

    def _summary_written(self, summary: CallSummary) -> None:
        self.summaries.append(summary)
        self.events.emit(t.SummaryWritten(summary))
        if self.call is None or self.call.ended:
            heap.release()  # the call is over and no other holds the booth: what it freed

    def _play_cue(self, cue: c.Cue) -> None:
        # At the rate persona audio comes in: the speaker's one input rate.
        rate = traits(self.config.service.protocol).wire_rate
        pcm = cue_pcm(cue, self.config.audio.cue_volume, rate)
        self.events.emit(t.CueQueued(str(cue)))
        if self.speaker.is_open:
            self.speaker.play_cue(pcm)
        elif self.machine.error_code != ErrorCode.AUDIO_PLAYBACK_BLOCKED:
            self._spawn(self._play_alone(pcm), f"cue-{cue}")

    async def _play_alone(self, pcm: bytes) -> None:
        """A cue outside a call (error while idle): open, play, close; a missing speaker is
        already what the error is about, so its failure is only logged at debug."""
        try:
            await self.speaker.open()
            self.speaker.play_cue(pcm)
            async with asyncio.timeout(2.0):
                await self.speaker.drain()
            if self.call is None or self.call.ended:
                await self.speaker.close()
        except Exception as exc:
            log.debug("cue not played: %s", exc)
