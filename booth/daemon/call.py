"""One call, from the press that started it to its summary record.

A ``Call`` owns its session (whose typed events it turns into machine inputs), its two audio
pumps, the end handshake, the release of the devices, the score poll and the summary. It reaches
the booth only through its ``Lease``: the mic, the speaker, the machine's input and the
live-call file. The app revokes the lease when the next call starts, so from then on a
superseded call can still finish its own business (end its session, poll its score, write its
summary) but can no longer touch the booth.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from booth import call_events as ev
from booth.daemon import inputs as i
from booth.daemon import orphans
from booth.daemon.audio_io import Microphone, Speaker
from booth.daemon.sessions import RestFactory, SessionFactory, SessionLike
from booth.daemon.summary import EVENT as SUMMARY_EVENT
from booth.daemon.summary import CallSummary
from booth.errors import BoothError, ErrorCode
from booth.logs import log_event

log = logging.getLogger("booth.daemon")

Spawn = Callable[[Coroutine[Any, Any, Any], str], "asyncio.Task[Any]"]


@dataclass(frozen=True)
class ScorePolicy:
    """Backoff for polling the call record after a call (the overall limit is call.score_wait)."""

    first: float = 2.0
    factor: float = 1.6
    cap: float = 15.0


class Lease:
    """The booth lent to one call: its devices, the machine's input, the live-call file.

    Once ``revoke()``d (the next call started) every method is a no-op: frames read as ``None``,
    inputs are dropped, the devices stay as the new call left them.
    """

    def __init__(
        self,
        mic: Microphone,
        speaker: Speaker,
        feed: Callable[[i.Input], None],
        tag_logs: Callable[[str | None, str | None], None],
        state_dir: Path | None = None,
    ) -> None:
        self._mic = mic
        self._speaker = speaker
        self._feed = feed
        self._tag_logs = tag_logs
        self._state_dir = state_dir
        self.held = True

    def revoke(self) -> None:
        self.held = False

    def feed(self, event: i.Input) -> None:
        if self.held:
            self._feed(event)

    def tag_logs(self, call_id: str | None, session_id: str | None) -> None:
        """The booth's log records carry this call's ids (``None``: no call's)."""
        if self.held:
            self._tag_logs(call_id, session_id)

    async def open_devices(self) -> None:
        """Open the mic, then the speaker; BoothError (mic closed again) if either fails."""
        if not self.held:
            return
        await self._mic.open()
        try:
            await self._speaker.open()
        except BoothError:
            await self._mic.close()
            raise

    async def read_frame(self) -> bytes | None:
        """The next mic frame; ``None`` once the lease is gone."""
        if not self.held:
            return None
        return await self._mic.read()

    def play(self, pcm: bytes) -> None:
        if self.held and self._speaker.is_open:
            self._speaker.write(pcm)

    def mark_end(self) -> None:
        if self.held and self._speaker.is_open:
            self._speaker.mark_end()

    def flush(self) -> int:
        if self.held and self._speaker.is_open:
            return self._speaker.flush()
        return 0

    def underruns(self) -> int:
        try:
            return int(self._speaker.underruns)
        except Exception:
            return 0

    async def release(self) -> None:
        """Close the mic, let the last cue play out (bounded), close the speaker."""
        if not self.held:
            return
        with contextlib.suppress(Exception):
            await self._mic.close()
        with contextlib.suppress(Exception):
            async with asyncio.timeout(1.0):
                await self._speaker.drain()  # let the end (or error) cue finish
        if self.held:  # the next call may have started while the cue played
            with contextlib.suppress(Exception):
                await self._speaker.close()

    def keep_live_call(self, call: orphans.LiveCall) -> None:
        if self._state_dir is None or not self.held:
            return
        try:
            orphans.save(self._state_dir, call)
        except OSError as exc:
            log_event(log, logging.WARNING, f"cannot keep the live call: {exc}", EVENT="state")

    def forget_live_call(self) -> None:
        if self._state_dir is not None and self.held:
            orphans.clear(self._state_dir)


class Call:
    def __init__(
        self,
        number: int,
        drill: str,
        lease: Lease,
        *,
        session_factory: SessionFactory,
        rest_factory: RestFactory,
        score_policy: ScorePolicy,
        score_wait: float,
        end_timeout: float,
        spawn: Spawn,
        on_score: Callable[[str, int], None],
        on_summary: Callable[[CallSummary], None],
    ) -> None:
        self.number = number
        self.drill = drill
        self.lease = lease
        self._session_factory = session_factory
        self._rest_factory = rest_factory
        self._score_policy = score_policy
        self._score_wait = score_wait
        self._end_timeout = end_timeout
        self._spawn = spawn
        self._on_score = on_score
        self._on_summary = on_summary
        self.session: SessionLike | None = None
        self.call_id = ""
        self.session_id = ""
        self.connected = False
        self.ended = False
        self.end_reason = ""
        self.error_code = ""
        self.duration = 0.0
        self.score: int | None = None
        self.summary: CallSummary | None = None
        self._underruns_before = lease.underruns()
        self._task: asyncio.Task[None] | None = None
        self._pumps: list[asyncio.Task[None]] = []
        self._ending: asyncio.Task[None] | None = None
        self._score_task: asyncio.Task[None] | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self._summary_done = False

    @property
    def summary_done(self) -> bool:
        return self._summary_done

    @property
    def live(self) -> bool:
        return self.connected and not self.ended

    # ── what the machine's commands ask of the call ─────────────────────────────────────────

    def start(self) -> None:
        self._task = self._spawn(self._main(), f"call-{self.number}")

    def unmute(self) -> None:
        if self.session is not None:
            self.session.unmute()

    def mute(self) -> None:
        if self.session is not None:
            self.session.mute()

    def turn_end(self) -> None:
        if self.session is not None:
            self.session.turn_end()

    def flush_playback(self) -> int:
        """Barge-in: drop the persona audio the session and the speaker still hold."""
        dropped = self.session.flush_persona_audio() if self.session is not None else 0
        return dropped + self.lease.flush()

    def end(self, reason: str) -> None:
        if self._ending is None:
            self.end_reason = self.end_reason or reason
            self._ending = self._spawn(self._finish(reason), f"end-{self.number}")

    def fetch_score(self, call_id: str) -> None:
        if self._score_task is None:
            self._score_task = self._spawn(self._poll_score(call_id), f"score-{self.number}")

    async def wait_finished(self, within: float) -> None:
        """Shutdown: let the end handshake and the call's task finish, at most ``within`` s."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(within):
                if self._ending is not None:
                    await asyncio.shield(self._ending)
                if self._task is not None:
                    await asyncio.wait({self._task})

    def close_out(self) -> None:
        """Shutdown: stop waiting for a score and write the summary with what is known."""
        if self._score_task is not None:
            self._score_task.cancel()
        self._write_summary()

    # ── the call's own life ────────────────────────────────────────────────────────────────

    async def _main(self) -> None:
        """Open the devices, connect, pump audio until the call ends."""
        try:
            await self.lease.open_devices()
        except BoothError as exc:
            self.lease.feed(i.DeviceError(exc.code, exc.message))
            return
        session = self._session_factory()
        self.session = session
        session.mute()  # the machine opens the mic (ptt press, toggle, open mode on ready)
        self._unsubscribe = session.subscribe(self._on_event)
        try:
            await session.connect()
        except BoothError:
            return  # already reported as CallFailed, which the machine has seen
        except Exception as exc:
            log.exception("connect failed")
            self.lease.feed(i.CallError(ErrorCode.INTERNAL_ERROR, str(exc)))
            return
        self.connected = True
        self.call_id = session.call_id or self.call_id
        self.session_id = session.session_id or ""
        self.lease.tag_logs(self.call_id or None, self.session_id or None)
        log_event(
            log,
            logging.INFO,
            f"call started with {session.persona_name or 'the persona'}",
            EVENT="call_started",
            CALL_ID=self.call_id,
            SESSION_ID=self.session_id,
            DRILL_KEY=self.drill,
        )
        self._keep_live_call()
        self._pumps = [
            self._spawn(self._mic_pump(session), f"mic-{self.number}"),
            self._spawn(self._persona_pump(session), f"persona-{self.number}"),
        ]
        await asyncio.gather(*self._pumps, return_exceptions=True)

    def _on_event(self, event: ev.CallEvent) -> None:
        """A session event, as the machine input it means (plus what the call does itself)."""
        lease = self.lease
        match event:
            case ev.Ready(persona_name=persona, call_id=call_id):
                session_call_id = self.session.call_id if self.session is not None else None
                self.call_id = call_id or session_call_id or self.call_id
                lease.feed(i.CallReady(persona, self.call_id))
            case ev.PersonaSpeaking(speaking=speaking):
                lease.feed(i.PersonaSpeaking(speaking))
                if not speaking:
                    lease.mark_end()
            case ev.Interruption():
                lease.flush()  # the service cut the persona off: what the speaker holds goes too
            case ev.UserSpeaking(speaking=speaking):
                lease.feed(i.UserSpeech(speaking))
            case ev.Reconnecting():
                lease.feed(i.CallReconnecting())
            case ev.Reconnected():
                lease.feed(i.CallReconnected())
                self._keep_live_call()  # a resume hands out a new resume token
            case ev.CallFailed(code=code, message=message):
                self.error_code = code or ErrorCode.INTERNAL_ERROR
                log_event(
                    log,
                    logging.WARNING,
                    f"call error {self.error_code}: {message}",
                    EVENT="error",
                    ERROR_CODE=self.error_code,
                    CALL_ID=self.call_id or None,
                )
                lease.feed(i.CallError(self.error_code, message))
            case ev.Ended(reason=reason, call_id=call_id, duration=duration):
                self.ended = True
                self.duration = duration
                self.call_id = call_id or self.call_id
                self.end_reason = self.end_reason or reason or "session_closed"
                lease.feed(i.CallEnded(reason or "session_closed", self.call_id))
                self._after_ended()

    def _keep_live_call(self) -> None:
        point = self.session.resume_point() if self.session is not None else None
        if point is not None:
            self.lease.keep_live_call(
                orphans.LiveCall(self.call_id, point[0], point[1], time.time())
            )

    def _after_ended(self) -> None:
        self.lease.forget_live_call()
        for pump in self._pumps:
            pump.cancel()
        self._spawn(self.lease.release(), f"release-{self.number}")
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if self._score_task is None:
            # The machine asks for a score as it sees the end (FetchScore); none asked: none due.
            self._write_summary()

    async def _mic_pump(self, session: SessionLike) -> None:
        while True:
            try:
                frame = await self.lease.read_frame()
            except BoothError as exc:
                self.lease.feed(i.DeviceError(exc.code, exc.message))
                return
            if frame is None:
                return
            session.send_audio(frame)

    async def _persona_pump(self, session: SessionLike) -> None:
        async for pcm in session.persona_audio():
            self.lease.play(pcm)

    async def _finish(self, reason: str) -> None:
        """Send `end`, wait (bounded) for the service to confirm, close the socket."""
        log_event(
            log,
            logging.INFO,
            f"ending the call ({reason})",
            EVENT="end_call",
            CALL_ID=self.call_id or None,
            END_REASON=reason,
        )
        if not self.connected and self._task is not None:
            self._task.cancel()  # still connecting (or opening devices): stop that first
            await asyncio.wait({self._task})
        session = self.session
        if session is not None:
            try:
                async with asyncio.timeout(self._end_timeout):
                    if self.connected:
                        await session.end(grace=min(2.0, self._end_timeout / 2))
                    else:
                        await session.disconnect()
            except TimeoutError:
                log_event(log, logging.WARNING, "end timed out; closing", EVENT="end_timeout")
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(session.disconnect(), 1.0)
        if not self.ended:
            # No session (device failure before connect) or it never said `ended`.
            self.ended = True
            self._after_ended()

    # ── after the call ─────────────────────────────────────────────────────────────────────

    async def _poll_score(self, call_id: str) -> None:
        """Poll the call record with backoff until it is scored, within call.score_wait."""
        score: int | None = None
        reason = "timed out"
        try:
            async with asyncio.timeout(self._score_wait):
                score, reason = await self._score_of(call_id)
        except TimeoutError:
            pass
        self.score = score
        if score is not None:
            log_event(
                log,
                logging.INFO,
                f"call scored: {score}",
                EVENT="score",
                CALL_ID=call_id,
                SCORE=score,
            )
            self._on_score(call_id, score)
            self.lease.feed(i.ScoreReceived(score))
        else:
            log_event(
                log,
                logging.WARNING,
                f"no score for the call ({reason})",
                EVENT="score_gave_up",
                CALL_ID=call_id,
            )
            self.lease.feed(i.ScoreGaveUp())
        self._write_summary()

    async def _score_of(self, call_id: str) -> tuple[int | None, str]:
        from booth.transport.rest import RestError

        policy = self._score_policy
        delay = policy.first
        rest = self._rest_factory()
        try:
            while True:
                try:
                    record = await rest.get_call(call_id)
                    value = (record.get("score") or {}).get("overallScore")
                    if record.get("status") == "scored" and isinstance(value, int | float):
                        return round(value), "scored"
                except RestError as exc:
                    if exc.code != ErrorCode.CALL_NOT_FOUND and not exc.retryable:
                        return None, exc.code
                except ValueError:
                    return None, "bad call id"
                await asyncio.sleep(delay)
                delay = min(delay * policy.factor, policy.cap)
        finally:
            with contextlib.suppress(Exception):
                await rest.aclose()

    def _write_summary(self) -> None:
        """The one summary record of a call (written once, whatever ended it)."""
        if self._summary_done:
            return
        self._summary_done = True
        if not (self.connected or self.call_id):
            return  # never became a call on the service: its error record tells the story
        stats = self.session.stats if self.session is not None else None
        summary = CallSummary(
            call_id=self.call_id or None,
            session_id=self.session_id or None,
            drill_key=self.drill,
            duration_sec=round(self.duration, 1),
            frames_sent=stats.frames_sent if stats else 0,
            frames_received=stats.frames_received if stats else 0,
            frames_dropped=stats.frames_dropped if stats else 0,
            underruns=max(0, self.lease.underruns() - self._underruns_before),
            reconnects=stats.reconnects if stats else 0,
            longest_outage_sec=round(float(stats.longest_outage if stats else 0.0), 1),
            end_reason=self.end_reason or "unknown",
            error_code=self.error_code or None,
            score=self.score,
        )
        self.summary = summary
        log_event(
            log, logging.INFO, summary.headline(), EVENT=SUMMARY_EVENT, **summary.journal_fields()
        )
        self._on_summary(summary)
        self.lease.tag_logs(None, None)
