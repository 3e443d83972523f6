"""Holds one call's WebSocket across drops: reconnect with backoff, resume, give up at the cutoff.

Dialling during an outage races handshakes: a new attempt starts at each backoff step even while
an older one hangs (a black-holed SYN), and the first WebSocket that opens wins; only the winner
sends the ``resume`` message, the rest are aborted before they say anything. So a link that comes
back is used within one backoff step, not after a stuck attempt's timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from booth.errors import ErrorCode
from booth.limits import UNKNOWN_TYPES
from booth.logs import Throttle, log_event, register_secret
from booth.protocol.client import ClientProtocol, Phase
from booth.protocol.messages import (
    Audio,
    Connected,
    ProtocolError,
    Resumed,
    ServerError,
    ServerEvent,
    SessionEnded,
    Unknown,
)
from booth.transport.link import Link, LinkClosed, LinkError

log = logging.getLogger(__name__)

Dial = Callable[[], Coroutine[Any, Any, Link]]
Notify = Callable[[str, dict[str, Any]], None]


@dataclass(frozen=True)
class ReconnectPolicy:
    cutoff: float = 30.0  # seconds after the drop: NETWORK_LOST and the call ends
    first_delay: float = 0.1
    base: float = 0.25
    factor: float = 2.0
    cap: float = 0.8  # with equal jitter: a returning link is retried within 0.8 s
    resume_timeout: float = 3.0  # the winner's wait for `resumed`

    def delays(self, rng: random.Random) -> list[float]:
        """Delays between attempt starts: first well under 1 s, then equal-jitter backoff."""
        out = [self.first_delay]
        step = self.base
        total = self.first_delay
        while total < self.cutoff:
            d = min(self.cap, step)
            d = d / 2 + rng.uniform(0, d / 2)
            out.append(d)
            total += d
            step *= self.factor
        return out


@dataclass
class Outage:
    dropped_at: float
    detected_at: float
    reason: str
    recovered_at: float | None = None

    @property
    def duration(self) -> float | None:
        return None if self.recovered_at is None else self.recovered_at - self.dropped_at


@dataclass
class LinkStats:
    reconnects: int = 0
    outages: list[Outage] = field(default_factory=list)
    frames_received: int = 0
    bytes_received: int = 0
    protocol_errors: int = 0
    frames_sent: int = 0  # on links already retired
    frames_dropped: int = 0

    @property
    def longest_outage(self) -> float:
        spans = [o.duration for o in self.outages if o.duration is not None]
        return max(spans, default=0.0)


class ConnectRefused(Exception):
    """The service answered the first message with an error (code and message kept)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class Supervisor:
    """Runs the receive loop and the reconnects of one call.

    ``notify(name, payload)`` gets ``reconnecting``, ``reconnected``, ``message`` (every server
    event, payload ``{"event": …}``) and finally ``closed`` with ``{"reason", "code"?,
    "message"?}``. Timestamps (monotonic ``at``) come from ``clock``.
    """

    def __init__(
        self,
        protocol: ClientProtocol,
        dial: Dial,
        notify: Notify,
        *,
        policy: ReconnectPolicy | None = None,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.protocol = protocol
        self._dial = dial
        self._notify = notify
        self.policy = policy or ReconnectPolicy()
        self._rng = rng or random.Random()  # noqa: S311 (jitter, not secrets)
        self._clock = clock
        self.link: Link | None = None
        self.stats = LinkStats()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._reported_unknown: set[str] = set()  # at most UNKNOWN_TYPES
        self._unknown_log = Throttle()
        self._malformed_log = Throttle()
        self.dropped_frames_offline = 0

    # ── opening ─────────────────────────────────────────────────────────────────

    async def open(self, token: str, accept_within: float = 10.0) -> Connected:
        """Dial, send the first message, wait for ``connected``; then run in the background.

        A dial that fails is retried briefly (the ticket is spent only by the first message).
        """
        link = None
        for attempt in range(3):
            try:
                link = await self._dial()
                break
            except LinkError:
                if attempt == 2:
                    raise
                await asyncio.sleep(self.policy.first_delay * (attempt + 1))
        assert link is not None
        try:
            link.send_text(self.protocol.hello(token))
            async with asyncio.timeout(accept_within):
                connected = await self._await_open(link)
        except BaseException:
            await link.close()
            raise
        self.link = link
        self._keep_secret()
        self._task = asyncio.create_task(self._run(), name="call-supervisor")
        return connected

    async def _await_open(self, link: Link) -> Connected:
        """Messages up to ``connected``; anything else before it is passed on or refused."""
        while True:
            try:
                message = await link.recv()
            except LinkClosed as exc:
                raise LinkError(f"the service closed the link before accepting it: {exc}") from None
            for event in self.protocol.receive(message):
                match event:
                    case Connected():
                        return event
                    case ServerError(code=code, message=text):
                        raise ConnectRefused(code, text)
                    case SessionEnded(reason=reason):
                        raise ConnectRefused(reason, "the service ended the session at once")
                    case _:
                        self._dispatch(event)

    # ── running ─────────────────────────────────────────────────────────────────

    async def _run(self) -> None:
        closed: dict[str, Any] = {"reason": "session_closed"}
        try:
            while True:
                assert self.link is not None
                drop = await self._pump(self.link)
                if drop is None:  # the service ended the call (or we did)
                    closed = {"reason": self.protocol.end_reason or "session_closed"}
                    break
                if self._closing:
                    closed = {"reason": "client_requested"}
                    break
                outcome = await self._recover(drop)
                if isinstance(outcome, dict):
                    closed = outcome
                    break
                self.link = outcome
        except asyncio.CancelledError:
            closed = {"reason": "client_requested"}
            raise
        except Exception:
            log.exception("call supervisor failed")
            closed = {"reason": "internal_error", "code": ErrorCode.INTERNAL_ERROR}
        finally:
            if self.link is not None:
                await self.link.close()
            self._retire()
            self._report_held_back()
            self.protocol.mark_ended(str(closed["reason"]))
            self._notify("closed", closed)

    async def _pump(self, link: Link) -> LinkClosed | None:
        """Receive until the call ends (None) or the link dies (the drop)."""
        while True:
            try:
                message = await link.recv()
            except LinkClosed as drop:
                return None if self.protocol.phase is Phase.ENDED else drop
            for event in self.protocol.receive(message):
                self._dispatch(event)
            if self.protocol.phase is Phase.ENDED:
                return None

    def _dispatch(self, event: ServerEvent) -> None:
        match event:
            case ProtocolError(problem=problem):
                self.stats.protocol_errors += 1
                count = self._malformed_log.note(self._clock())
                if count is not None:  # a flood must not flood the journal
                    log_event(
                        log,
                        logging.WARNING,
                        f"skipped {count} bad message(s) ({self.stats.protocol_errors} in this "
                        f"call), the latest: {problem}",
                        EVENT="protocol_error",
                    )
                return
            case Unknown(type=kind):
                if kind in self._reported_unknown:
                    return
                if len(self._reported_unknown) < UNKNOWN_TYPES.value:
                    self._reported_unknown.add(kind)
                count = self._unknown_log.note(self._clock())
                if count is not None:
                    log.info("ignoring message type %r (%d new unknown type(s))", kind, count)
                return
        if isinstance(event, Audio):
            self.stats.frames_received += 1
            self.stats.bytes_received += len(event.pcm)
        self._notify("message", {"event": event})

    # ── recovering ──────────────────────────────────────────────────────────────

    async def _recover(self, drop: LinkClosed) -> Link | dict[str, Any]:
        now = self._clock()
        # A silence-detected drop started at the last inbound byte, not when we noticed it.
        dropped_at = min(drop.dropped_at, now)
        outage = Outage(dropped_at=dropped_at, detected_at=now, reason=drop.reason)
        self.stats.outages.append(outage)
        log_event(
            log,
            logging.WARNING,
            f"link lost ({drop.reason}); reconnecting",
            EVENT="reconnecting",
        )
        self._notify("reconnecting", {"droppedAt": dropped_at, "reason": drop.reason, "at": now})
        self._retire()
        if not self.protocol.can_resume:
            return _network_lost("the service offers no resume for this call")
        deadline = dropped_at + self.policy.cutoff
        result = await self._redial(deadline)
        if isinstance(result, Link):
            outage.recovered_at = self._clock()
            self.stats.reconnects += 1
            self._notify(
                "reconnected",
                {
                    "callId": self.protocol.call_id,
                    "outageSec": round(outage.recovered_at - dropped_at, 3),
                    "at": outage.recovered_at,
                },
            )
            log_event(
                log,
                logging.INFO,
                f"reconnected after {outage.recovered_at - dropped_at:.2f} s",
                EVENT="reconnected",
            )
        return result

    async def _redial(self, deadline: float) -> Link | dict[str, Any]:
        delays = iter(self.policy.delays(self._rng))
        dials: set[asyncio.Task[Link]] = set()
        next_start = self._clock() + next(delays)
        try:
            while True:
                now = self._clock()
                if self._closing:
                    return {"reason": "client_requested"}
                if now >= deadline:
                    return _network_lost(f"no link for {self.policy.cutoff:g} s")
                if now >= next_start:
                    dials.add(asyncio.create_task(self._dial(), name="redial"))
                    next_start = now + next(delays, self.policy.cap)
                wait_until = min(next_start, deadline)
                done: set[asyncio.Task[Link]] = set()
                if dials:
                    done, _ = await asyncio.wait(
                        dials, timeout=max(0.0, wait_until - now), return_when="FIRST_COMPLETED"
                    )
                else:
                    await asyncio.sleep(max(0.0, wait_until - now))
                winner: Link | None = None
                for task in done:
                    dials.discard(task)
                    if task.exception() is not None:
                        continue
                    if winner is None:
                        winner = task.result()
                    else:
                        task.result().abort()  # a tie: only one link may resume
                if winner is None:
                    continue
                # Silence the other attempts before the winner sends its resume.
                await _abandon(dials)
                outcome = await self._resume(winner, deadline)
                if outcome is not None:
                    return outcome
                # That link died during the resume: keep dialling.
        finally:
            await _abandon(dials)

    async def _resume(self, link: Link, deadline: float) -> Link | dict[str, Any] | None:
        """Send ``resume``; the link on ``resumed``, a close reason if refused, None to retry."""
        link.send_text(self.protocol.resume_hello())
        timeout = max(0.1, min(self.policy.resume_timeout, deadline - self._clock()))
        try:
            async with asyncio.timeout(timeout):
                while True:
                    message = await link.recv()
                    for event in self.protocol.receive(message):
                        match event:
                            case Resumed():
                                self._keep_secret()
                                return link
                            case ServerError(code=code, message=text):
                                await link.close()
                                return {"reason": code, "code": code, "message": text}
                            case SessionEnded(reason=reason):
                                await link.close()
                                return {"reason": reason}
                            case _:
                                self._dispatch(event)
        except (TimeoutError, LinkClosed):
            link.abort()
            return None

    def _report_held_back(self) -> None:
        """The counts the throttles held back since their last line, once, at the end."""
        malformed = self._malformed_log.flush()
        if malformed:
            log_event(
                log,
                logging.WARNING,
                f"skipped {malformed} more bad message(s)",
                EVENT="protocol_error",
            )
        unknown = self._unknown_log.flush()
        if unknown:
            log.info("ignored %d more new unknown message type(s)", unknown)

    def _keep_secret(self) -> None:
        if self.protocol.resume_token:
            register_secret(self.protocol.resume_token)

    def _retire(self) -> None:
        """Abort the current link and keep its counters."""
        if self.link is not None:
            self.link.abort()
            self.stats.frames_sent += self.link.frames_sent
            self.stats.frames_dropped += self.link.frames_dropped
            self.link = None

    # ── closing ────────────────────────────────────────────────────────────────

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def wait(self) -> None:
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.shield(self._task)

    async def close(self) -> None:
        """End locally: close the link (bounded), stop reconnecting, wait for ``closed``."""
        self._closing = True
        if self.link is not None:
            await self.link.close()
        if self._task is not None and not self._task.done():
            try:
                async with asyncio.timeout(2.0):
                    await asyncio.shield(self._task)
            except TimeoutError:
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task


async def _abandon(dials: set[asyncio.Task[Link]]) -> None:
    """Cancel dial attempts; abort any link one of them opened meanwhile."""
    for task in dials:
        task.cancel()
    if dials:
        await asyncio.wait(dials)
    for task in dials:
        if not task.cancelled() and task.exception() is None:
            task.result().abort()
    dials.clear()


def _network_lost(message: str) -> dict[str, Any]:
    return {"reason": "network_lost", "code": ErrorCode.NETWORK_LOST, "message": message}
