"""The booth daemon: panel, audio, session and systemd around the state machine, on one loop.

Everything the machine decides comes back as commands; ``_execute`` carries each one out
against an adapter. Everything that happens (button gestures, session events, device
failures, timer ticks, scores) goes in through ``feed``, which is re-entrant safe: an input
raised while commands are being executed is queued and fed after them, in order.

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
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from booth.config import Config
from booth.daemon import machine as m
from booth.daemon import orphans
from booth.daemon.audio_io import Microphone, Speaker
from booth.daemon.cues import cue_pcm
from booth.daemon.notify import Notifier, WatchdogPinger, watchdog_interval
from booth.errors import BoothError, ErrorCode
from booth.events import Emitter
from booth.logs import log_event, set_context
from booth.panel.button import ButtonEvent
from booth.panel.gpio import Panel, open_panel
from booth.secret import Secret
from booth.transport.proxy import HttpProxy

log = logging.getLogger("booth.daemon")

_ERROR_REASONS = frozenset(str(code) for code in ErrorCode)

_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}


class SessionLike(Protocol):
    """The part of ``booth.session.RoleplaySession`` the daemon uses."""

    call_id: str | None
    session_id: str | None
    persona_name: str | None

    def on(self, name: str, callback: Callable[[dict[str, Any]], object]) -> Callable[[], None]: ...

    async def connect(self) -> None: ...

    def mute(self) -> None: ...

    def unmute(self) -> None: ...

    def send_audio(self, frame: bytes) -> bool: ...

    def turn_end(self) -> bool: ...

    def flush_persona_audio(self) -> int: ...

    def persona_audio(self) -> AsyncIterator[bytes]: ...

    async def end(self, grace: float = 2.0) -> None: ...

    async def disconnect(self) -> None: ...

    @property
    def stats(self) -> Any: ...


class RestLike(Protocol):
    async def get_call(self, call_id: str) -> dict[str, Any]: ...

    async def aclose(self) -> None: ...


@dataclass(frozen=True)
class ScorePolicy:
    """Backoff for polling the call record after a call (the wait limit is call.score_wait)."""

    first: float = 2.0
    factor: float = 1.6
    cap: float = 15.0


@dataclass
class CallRun:
    """One call attempt, from the press that started it to its summary record."""

    number: int
    drill: str
    underruns_before: int
    session: SessionLike | None = None
    task: asyncio.Task[None] | None = None
    pumps: list[asyncio.Task[None]] = field(default_factory=list)
    unsubscribe: list[Callable[[], None]] = field(default_factory=list)
    call_id: str = ""
    session_id: str = ""
    connected: bool = False
    ending: asyncio.Task[None] | None = None
    end_reason: str = ""
    error_code: str = ""
    duration: float = 0.0
    ended: bool = False
    score_task: asyncio.Task[None] | None = None
    score: int | None = None
    summary_written: bool = False


def session_factory_for(
    config: Config,
    api_key: Secret,
    route: Callable[[str], str] | None = None,
    proxy: HttpProxy | None = None,
) -> Callable[[], SessionLike]:
    """Sessions as the config asks; ``route`` rewrites the call's URL (tests: a fault proxy)."""

    def make() -> SessionLike:
        from booth.session import RoleplaySession

        session: SessionLike = RoleplaySession(
            config.service.api_url,
            api_key,
            config.service.drill_key,
            difficulty=config.service.difficulty or None,
            booth_id=config.booth.id,
            flow=config.service.flow,
            reconnect_cutoff=config.call.reconnect_cutoff,
            request_timeout=config.service.request_timeout,
            route=route,
            proxy=proxy,
        )
        return session

    return make


def _default_rest_factory(
    config: Config, api_key: Secret, proxy: HttpProxy | None
) -> Callable[[], RestLike]:
    def make() -> RestLike:
        from booth.transport.rest import RestClient

        client: RestLike = RestClient(
            config.service.api_url,
            api_key,
            timeout=config.service.request_timeout,
            proxy=proxy,
        )
        return client

    return make


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
        session_factory: Callable[[], SessionLike] | None = None,
        rest_factory: Callable[[], RestLike] | None = None,
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
        self.rest_factory = rest_factory or _default_rest_factory(config, api_key, proxy)
        self.score_policy = score_policy or ScorePolicy()
        self.tick_interval = tick_interval
        self.probe_interval = probe_interval
        self.end_timeout = end_timeout
        self.clock = clock
        self.machine = m.BoothMachine(
            m.Settings(
                talk_mode=config.panel.talk_mode,
                idle_timeout=config.call.idle_timeout,
                max_duration=config.call.max_duration,
                score_display=config.call.score_display,
            )
        )
        #: Timeline for the demo and tests: "state", "led", "status", "button", "score",
        #: "summary" (payloads are plain dicts).
        self.events = Emitter()
        self.panel: Panel | None = None
        self.run: CallRun | None = None
        self.runs: list[CallRun] = []
        self.summaries: list[dict[str, Any]] = []
        self.ready = asyncio.Event()
        self._stop = asyncio.Event()
        self._pending: deque[m.Input] = deque()
        self._feeding = False
        self._tasks: set[asyncio.Task[Any]] = set()
        self._last_tick = clock()
        self._status = ""

    # ── lifecycle ────────────────────────────────────────────────────────────────

    async def run_forever(self) -> int:
        """Bring the booth up, serve until ``request_stop()``, then end cleanly. Returns 0."""
        loop = asyncio.get_running_loop()
        self.panel = open_panel(
            self.config.panel, loop, self._on_button, factory=self.pin_factory, clock=self.clock
        )
        if self.panel.degraded:
            log_event(log, logging.WARNING, f"panel: {self.panel.degraded}", EVENT="panel_degraded")
        self.panel.start()
        set_context(BOOTH_STATE=str(self.machine.state))
        self._apply(self.machine.start(self.clock()))
        await self._check_devices_at_start()
        if self.state_dir is not None:
            await orphans.end_orphan(self.state_dir, proxy=self.proxy)
        background = [
            self._spawn(self._ticker(), "ticker"),
            self._spawn(self._device_prober(), "device-prober"),
        ]
        interval = watchdog_interval()
        if interval is not None:
            pinger = WatchdogPinger(self.notifier, interval, alive=self._making_progress)
            background.append(self._spawn(pinger.run(), "watchdog"))
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
        self.feed(m.Shutdown())
        run = self.run
        if run is not None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.end_timeout + 1.0):
                    if run.ending is not None:
                        await asyncio.shield(run.ending)
                    if run.task is not None:
                        await asyncio.wait({run.task})
        for r in self.runs:
            if r.score_task is not None:
                r.score_task.cancel()
            self._write_summary(r)
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

    def _spawn(self, coro: Any, name: str) -> asyncio.Task[Any]:
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
            await asyncio.sleep(self.tick_interval)
            self._last_tick = self.clock()
            self.feed(m.Tick())
            run = self.run
            live = run is not None and run.connected and not run.ended
            if live and self.speaker.is_open and not self.speaker.healthy():
                self.feed(m.DeviceError(ErrorCode.AUDIO_PLAYBACK_BLOCKED, "speaker lost"))

    async def _check_devices_at_start(self) -> None:
        """A booth with a missing device still comes up, showing the error on the LEDs."""
        if not await self._available(self.speaker):
            self.feed(m.DeviceError(ErrorCode.AUDIO_PLAYBACK_BLOCKED, "no usable output device"))
        elif not await self._available(self.mic):
            self.feed(m.DeviceError(ErrorCode.NO_MIC_AVAILABLE, "no usable input device"))

    @staticmethod
    async def _available(device: Microphone | Speaker) -> bool:
        try:
            return await device.available()
        except Exception:
            log.exception("device probe failed")
            return False

    async def _device_prober(self) -> None:
        """While the booth shows a device error, look for the device coming back (replug)."""
        while True:
            await asyncio.sleep(self.probe_interval)
            if self.machine.state is not m.State.ERROR:
                continue
            code = self.machine.error_code
            if code in ("NO_MIC_AVAILABLE", "MIC_DEVICE_DISCONNECTED"):
                if await self._available(self.mic):
                    self.feed(m.DeviceRestored("mic"))
            elif code == "AUDIO_PLAYBACK_BLOCKED" and await self._available(self.speaker):
                self.feed(m.DeviceRestored("speaker"))

    # ── inputs ───────────────────────────────────────────────────────────────────

    def _on_button(self, event: ButtonEvent) -> None:
        self.events.emit("button", {"kind": event.kind})
        if event.kind == "press":
            self.feed(m.Press())
        elif event.kind == "release":
            self.feed(m.Release())
        elif event.kind == "double_press":
            self.feed(m.DoublePress())

    def feed(self, event: m.Input) -> None:
        """Give the machine an input (on the loop) and carry out what it decides."""
        self._pending.append(event)
        if self._feeding:
            return
        self._feeding = True
        try:
            while self._pending:
                nxt = self._pending.popleft()
                if isinstance(nxt, m.DeviceError):
                    log_event(
                        log,
                        logging.WARNING,
                        f"device error {nxt.code}: {nxt.message}",
                        EVENT="device_error",
                        ERROR_CODE=nxt.code,
                    )
                elif isinstance(nxt, m.DeviceRestored):
                    log_event(log, logging.INFO, f"{nxt.device} is back", EVENT="device_restored")
                before = self.machine.state
                commands = self.machine.feed(nxt, self.clock())
                changed = self.machine.state is not before
                if changed:
                    set_context(BOOTH_STATE=str(self.machine.state))
                self._apply(commands)
                if changed:  # after the commands, so listeners see the new LEDs too
                    self.events.emit(
                        "state", {"state": str(self.machine.state), "previous": str(before)}
                    )
        finally:
            self._feeding = False

    def _apply(self, commands: list[m.Command]) -> None:
        for command in commands:
            try:
                self._execute(command)
            except Exception:
                log.exception("command %s failed", type(command).__name__)

    # ── commands ─────────────────────────────────────────────────────────────────

    def _execute(self, c: m.Command) -> None:
        run = self.run
        session = run.session if run is not None else None
        match c:
            case m.StartCall():
                self._start_call()
            case m.EndCall(reason=reason):
                self._end_call(reason)
            case m.OpenMic():
                if session is not None:
                    session.unmute()
            case m.CloseMic():
                if session is not None:
                    session.mute()
            case m.SendTurnEnd():
                if session is not None:
                    session.turn_end()
            case m.FlushPlayback():
                dropped = session.flush_persona_audio() if session is not None else 0
                dropped += self.speaker.flush() if self.speaker.is_open else 0
                log_event(log, logging.DEBUG, "barge-in: persona audio flushed", EVENT="flush")
                self.events.emit("flush", {"dropped": dropped})
            case m.PlayCue(cue=cue):
                self._play_cue(cue)
            case m.SetLed(pattern=pattern):
                if self.panel is not None:
                    self.panel.show(pattern)
                self.events.emit("led", {"pattern": pattern.name, "colour": pattern.colour})
            case m.SetStatus(text=text):
                self._status = text
                self.notifier.status(text)
                self.events.emit("status", {"text": text})
            case m.FetchScore(call_id=call_id):
                if run is not None and run.score_task is None:
                    run.score_task = self._spawn(self._poll_score(run, call_id), "score")
            case m.Log(level=level, message=message, fields=fields):
                log_event(log, _LEVELS[level], message, **fields)

    def _start_call(self) -> None:
        # The previous run keeps its listeners until its `ended`: its inputs no longer reach
        # the machine (_feed_for), but its summary and score still get written.
        previous = self.run
        run = CallRun(
            number=(previous.number + 1 if previous else 1),
            drill=self.config.service.drill_key,
            underruns_before=self._underruns(),
        )
        self.run = run
        self.runs.append(run)
        set_context(CALL_ID=None, SESSION_ID=None)
        run.task = self._spawn(self._call_main(run), f"call-{run.number}")

    def _underruns(self) -> int:
        try:
            return int(self.speaker.underruns)
        except Exception:
            return 0

    async def _call_main(self, run: CallRun) -> None:
        """Open the devices, connect, pump audio until the call ends."""
        try:
            await self.mic.open()
        except BoothError as exc:
            self._feed_for(run, m.DeviceError(exc.code, exc.message))
            return
        try:
            await self.speaker.open()
        except BoothError as exc:
            await self.mic.close()
            self._feed_for(run, m.DeviceError(exc.code, exc.message))
            return
        session = self.session_factory()
        run.session = session
        session.mute()  # the machine opens the mic (ptt press, toggle, open mode on ready)
        for name in (
            "ready",
            "personaSpeaking",
            "interruption",
            "userSpeaking",
            "reconnecting",
            "reconnected",
            "ended",
            "error",
        ):
            run.unsubscribe.append(session.on(name, self._session_listener(run, name)))
        try:
            await session.connect()
        except BoothError:
            return  # already emitted as `error`, which the machine has seen
        except Exception as exc:
            log.exception("connect failed")
            self._feed_for(run, m.CallError(ErrorCode.INTERNAL_ERROR, str(exc)))
            return
        run.connected = True
        run.call_id = session.call_id or run.call_id
        run.session_id = session.session_id or ""
        if self.run is run:
            set_context(CALL_ID=run.call_id or None, SESSION_ID=run.session_id or None)
        log_event(
            log,
            logging.INFO,
            f"call started with {session.persona_name or 'the persona'}",
            EVENT="call_started",
            CALL_ID=run.call_id,
            SESSION_ID=run.session_id,
            DRILL_KEY=run.drill,
        )
        self._keep_live_call(run)
        run.pumps = [
            self._spawn(self._mic_pump(run, session), f"mic-{run.number}"),
            self._spawn(self._persona_pump(session), f"persona-{run.number}"),
        ]
        await asyncio.gather(*run.pumps, return_exceptions=True)

    def _session_listener(self, run: CallRun, name: str) -> Callable[[dict[str, Any]], None]:
        def listener(payload: dict[str, Any]) -> None:
            event: m.Input | None = None
            if name == "ready":
                persona = payload.get("persona") or {}
                call_id = (run.session.call_id if run.session else None) or ""
                run.call_id = call_id or run.call_id
                event = m.CallReady(str(persona.get("name") or ""), run.call_id)
            elif name == "personaSpeaking":
                event = m.PersonaSpeaking(bool(payload.get("speaking")))
                if not payload.get("speaking") and self.speaker.is_open and run is self.run:
                    self.speaker.mark_end()
            elif name == "interruption":
                # The service cut the persona off: what the speaker still holds goes too.
                if self.speaker.is_open and run is self.run:
                    self.speaker.flush()
            elif name == "userSpeaking":
                event = m.UserSpeech(bool(payload.get("speaking")))
            elif name == "reconnecting":
                event = m.CallReconnecting()
            elif name == "reconnected":
                event = m.CallReconnected()
                self._keep_live_call(run)  # a resume hands out a new resume token
            elif name == "error":
                code = str(payload.get("code") or ErrorCode.INTERNAL_ERROR)
                message = str(payload.get("message") or "")
                run.error_code = code
                log_event(
                    log,
                    logging.WARNING,
                    f"call error {code}: {message}",
                    EVENT="error",
                    ERROR_CODE=code,
                    CALL_ID=run.call_id or None,
                )
                event = m.CallError(code, message)
            elif name == "ended":
                run.ended = True
                run.duration = float(payload.get("durationSec") or 0.0)
                run.call_id = str(payload.get("callId") or run.call_id or "")
                reason = str(payload.get("reason") or "session_closed")
                run.end_reason = run.end_reason or reason
                event = m.CallEnded(reason, run.call_id)
            if event is not None:
                self._feed_for(run, event)
            if name == "ended":
                self._after_ended(run)

        return listener

    def _feed_for(self, run: CallRun, event: m.Input) -> None:
        """Feed an input that belongs to ``run``; a finished run's stragglers are dropped."""
        if run is self.run:
            self.feed(event)

    def _keep_live_call(self, run: CallRun) -> None:
        resume_point = getattr(run.session, "resume_point", None)
        point = resume_point() if resume_point is not None else None
        if self.state_dir is None or point is None or run is not self.run:
            return
        try:
            orphans.save(
                self.state_dir, orphans.LiveCall(run.call_id, point[0], point[1], time.time())
            )
        except OSError as exc:
            log_event(log, logging.WARNING, f"cannot keep the live call: {exc}", EVENT="state")

    def _after_ended(self, run: CallRun) -> None:
        if self.state_dir is not None and run is self.run:
            orphans.clear(self.state_dir)
        for pump in run.pumps:
            pump.cancel()
        self._spawn(self._release_devices(run), f"release-{run.number}")
        for unsubscribe in run.unsubscribe:
            unsubscribe()
        run.unsubscribe.clear()
        current = run is self.run
        if (
            not current
            and run.score_task is None
            and run.call_id
            and run.end_reason not in _ERROR_REASONS
        ):
            # The rep started the next call before this one had ended: score it anyway.
            run.score_task = self._spawn(self._poll_score(run, run.call_id), "score")
        if run.score_task is None and (
            not current or self.machine.state is not m.State.SCORING or not run.call_id
        ):
            self._write_summary(run)  # nothing will score it (error, cancel): summary now

    async def _release_devices(self, run: CallRun) -> None:
        if self.run is not run:
            return  # a new call owns the devices now
        with contextlib.suppress(Exception):
            await self.mic.close()
        with contextlib.suppress(Exception):
            async with asyncio.timeout(1.0):
                await self.speaker.drain()  # let the end (or error) cue finish
        if self.run is run:
            with contextlib.suppress(Exception):
                await self.speaker.close()

    async def _mic_pump(self, run: CallRun, session: SessionLike) -> None:
        while True:
            try:
                frame = await self.mic.read()
            except BoothError as exc:
                self._feed_for(run, m.DeviceError(exc.code, exc.message))
                return
            session.send_audio(frame)

    async def _persona_pump(self, session: SessionLike) -> None:
        async for pcm in session.persona_audio():
            if self.speaker.is_open:
                self.speaker.write(pcm)

    def _end_call(self, reason: str) -> None:
        run = self.run
        if run is None:
            return
        if run.ending is None:
            run.end_reason = run.end_reason or reason
            run.ending = self._spawn(self._finish(run, reason), f"end-{run.number}")

    async def _finish(self, run: CallRun, reason: str) -> None:
        """Send `end`, wait (bounded) for the service to confirm, close the socket."""
        log_event(
            log,
            logging.INFO,
            f"ending the call ({reason})",
            EVENT="end_call",
            CALL_ID=run.call_id or None,
            END_REASON=reason,
        )
        session = run.session
        if not run.connected and run.task is not None:
            run.task.cancel()  # still connecting (or opening devices): stop that first
            await asyncio.wait({run.task})
        if session is not None:
            try:
                async with asyncio.timeout(self.end_timeout):
                    if run.connected:
                        await session.end(grace=min(2.0, self.end_timeout / 2))
                    else:
                        await session.disconnect()
            except TimeoutError:
                log_event(log, logging.WARNING, "end timed out; closing", EVENT="end_timeout")
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(session.disconnect(), 1.0)
        if not run.ended:
            # No session (device failure before connect) or it never said `ended`.
            run.ended = True
            self._after_ended(run)

    def _play_cue(self, cue: m.Cue) -> None:
        pcm = cue_pcm(cue, self.config.audio.cue_volume)
        self.events.emit("cue", {"cue": str(cue)})
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
            if self.run is None or self.run.ended:
                await self.speaker.close()
        except Exception as exc:
            log.debug("cue not played: %s", exc)

    # ── after the call ───────────────────────────────────────────────────────────

    async def _poll_score(self, run: CallRun, call_id: str) -> None:
        from booth.transport.rest import RestError

        policy = self.score_policy
        deadline = time.monotonic() + self.config.call.score_wait
        delay = policy.first
        score: int | None = None
        reason = "timed out"
        rest = self.rest_factory()
        try:
            while True:
                try:
                    record = await rest.get_call(call_id)
                    value = (record.get("score") or {}).get("overallScore")
                    if record.get("status") == "scored" and isinstance(value, int | float):
                        score = round(value)
                        break
                except RestError as exc:
                    if exc.code != ErrorCode.CALL_NOT_FOUND and not exc.retryable:
                        reason = exc.code
                        break
                except ValueError:
                    reason = "bad call id"
                    break
                if time.monotonic() + delay > deadline:
                    break
                await asyncio.sleep(delay)
                delay = min(delay * policy.factor, policy.cap)
        finally:
            with contextlib.suppress(Exception):
                await rest.aclose()
        run.score = score
        if score is not None:
            log_event(
                log,
                logging.INFO,
                f"call scored: {score}",
                EVENT="score",
                CALL_ID=call_id,
                SCORE=score,
            )
            self.events.emit("score", {"callId": call_id, "score": score})
            self._feed_for(run, m.ScoreReceived(score))
        else:
            log_event(
                log,
                logging.WARNING,
                f"no score for the call ({reason})",
                EVENT="score_gave_up",
                CALL_ID=call_id,
            )
            self._feed_for(run, m.ScoreGaveUp())
        self._write_summary(run)

    def _write_summary(self, run: CallRun) -> None:
        """The one summary record of a call (written once, whatever ended it)."""
        if run.summary_written:
            return
        run.summary_written = True
        if not (run.connected or run.call_id):
            return  # never became a call on the service: its error record tells the story
        stats = run.session.stats if run.session is not None else None
        underruns = max(0, self._underruns() - run.underruns_before)
        summary: dict[str, Any] = {
            "CALL_ID": run.call_id or None,
            "SESSION_ID": run.session_id or None,
            "DRILL_KEY": run.drill,
            "DURATION_SEC": round(run.duration, 1),
            "FRAMES_SENT": getattr(stats, "frames_sent", 0),
            "FRAMES_RECEIVED": getattr(stats, "frames_received", 0),
            "FRAMES_DROPPED": getattr(stats, "frames_dropped", 0),
            "UNDERRUNS": underruns,
            "RECONNECTS": getattr(stats, "reconnects", self.machine.call.reconnects),
            "LONGEST_OUTAGE_SEC": round(float(getattr(stats, "longest_outage", 0.0)), 1),
            "END_REASON": run.end_reason or "unknown",
            "ERROR_CODE": run.error_code or None,
            "SCORE": run.score,
        }
        score_text = f", score {run.score}" if run.score is not None else ", no score"
        log_event(
            log,
            logging.INFO,
            f"call summary: {summary['DURATION_SEC']} s, ended by {summary['END_REASON']}"
            f"{score_text}, {summary['RECONNECTS']} reconnects",
            EVENT="call_summary",
            **summary,
        )
        self.summaries.append(summary)
        self.events.emit("summary", dict(summary))
        if self.run is run and self.machine.state not in m.CALL_STATES:
            set_context(CALL_ID=None, SESSION_ID=None)
