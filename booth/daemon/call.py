"""One call, from the press that started it to its summary record.

A ``Call`` owns its session (whose typed events it turns into machine inputs), its two audio
pumps, the end handshake, the release of the devices, the score poll and the summary. It reaches
the booth only through its ``Lease`` (lease.py): the mic, the speaker, the machine's input and
the live-call file. Once the next call starts, a superseded call still finishes its own business
(ends its session, polls its score, writes its summary) but can no longer touch the booth.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any

from booth import call_events as ev
from booth.daemon import inputs as i
from booth.daemon import orphans
from booth.daemon.lease import Lease
from booth.daemon.scoring import ScorePolicy, poll_score
from booth.daemon.sessions import RestFactory, SessionFactory, SessionLike
from booth.daemon.summary import EVENT as SUMMARY_EVENT
from booth.daemon.summary import CallSummary
from booth.errors import BoothError, ErrorCode
from booth.logs import log_event

log = logging.getLogger("booth.daemon")

#: Why a call has no score (the summary's NO_SCORE).
NOT_SCORED = "the protocol has no score"
NO_CALL_ID = "the service named no call"

#: How often the persona pump looks for room in the speaker (a fraction of a 20 ms block).
PACE_S = 0.01

Spawn = Callable[[Coroutine[Any, Any, Any], str], "asyncio.Task[Any]"]


class Call:
    """One call attempt; the app carries the machine's commands out on it."""

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
        scored: bool = True,
    ) -> None:
        """``drill`` is what names the roleplay on the service ("" where the protocol has no
        place for one); ``scored`` is False for a protocol without a score."""
        self.number = number
        self.scored = scored
        self._no_score = "" if scored else NOT_SCORED
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
            self.lease.listen(True)
            self.session.unmute()

    def mute(self) -> None:
        if self.session is not None:
            self.session.mute()
            if not self.session.silence_while_muted:
                # Muted frames would only be dropped: the capture thread stops framing them
                # and waking the loop for them (most of a ptt call's mic time).
                self.lease.listen(False)

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
        self.lease.listen(session.silence_while_muted)
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
                lease.feed(i.PersonaSpeaking(speaking))  # the speaker hears of it in the pump
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
        # Frames go to the session in the loop wake-up that brought them from the capture
        # thread: no queue and no task switch per frame.
        try:
            await self.lease.stream_mic(session.send_audio)
        except BoothError as exc:
            self.lease.feed(i.DeviceError(exc.code, exc.message))

    async def _persona_pump(self, session: SessionLike) -> None:
        bytes_per_ms = session.sample_rate * 2 / 1000
        async for pcm in session.persona_audio(turn_ends=True):
            if not pcm:
                self.lease.mark_end()  # the turn is over: its tail is no underrun
                continue
            # Faster than real time (Atoms): the rest waits in the session, not dropped.
            while self.lease.room_ms() < len(pcm) / bytes_per_ms:  # noqa: ASYNC110
                await asyncio.sleep(PACE_S)
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
                score, reason = await poll_score(self._rest_factory(), call_id, self._score_policy)
        except TimeoutError:
            pass
        self.score = score
        self._no_score = reason
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

    def _why_no_score(self) -> str:
        if self._no_score and self._no_score != "scored":
            return self._no_score
        if not self.call_id:
            return NO_CALL_ID
        if self.error_code:
            return f"ended by {self.error_code}"
        return "not asked for"

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
            no_score=None if self.score is not None else self._why_no_score(),
        )
        self.summary = summary
        log_event(
            log, logging.INFO, summary.headline(), EVENT=SUMMARY_EVENT, **summary.journal_fields()
        )
        self._on_summary(summary)
        self.lease.tag_logs(None, None)
