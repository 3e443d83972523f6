"""Holds one call's WebSocket across drops: the adapter between the links and the reconnect plan.

:class:`~booth.transport.reconnect.ReconnectPlan` decides (pure code, time as an argument) when
to dial, when to give up and what to report; this module dials, sends ``resume``, sleeps on
the event loop, and reports each transition once: to the log and, as a typed
:data:`SupervisorEvent`, to its listener (the session).

Dialling during an outage races handshakes: a new attempt starts at each backoff step even while
an older one hangs (a black-holed SYN), and the first WebSocket that opens wins; only the winner
sends the ``resume`` message, the rest are aborted before they say anything. So a link that comes
back is used within one backoff step, not after a stuck attempt's timeout.

Time: ``clock`` (``time.monotonic`` unless given) stamps every report and feeds the plan; the
waits run on the event loop, whose own clock must be the same one (the real loop's is
``time.monotonic``; the tests run a virtual-time loop and pass its ``time``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, Protocol

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
from booth.transport.link import LinkClosed, LinkError, LinkRefused
from booth.transport.reconnect import (
    CLIENT_REQUESTED,
    Closed,
    Dial,
    Reconnected,
    Reconnecting,
    ReconnectPlan,
    ReconnectPolicy,
    ReconnectState,
)

__all__ = [
    "Closed",
    "ConnectRefused",
    "LinkLike",
    "LinkStats",
    "Message",
    "Outage",
    "ReconnectPolicy",
    "Reconnected",
    "Reconnecting",
    "Supervisor",
    "SupervisorEvent",
]

log = logging.getLogger(__name__)


class LinkLike(Protocol):
    """What the supervisor and the session use of a :class:`~booth.transport.link.Link`."""

    frames_sent: int
    frames_dropped: int

    def send_audio(self, frame: str | bytes) -> bool: ...

    def send_text(self, message: str) -> bool: ...

    async def recv(self) -> str | bytes: ...

    def abort(self) -> None: ...

    async def close(self) -> None: ...


Dialler = Callable[[], Coroutine[Any, Any, LinkLike]]


@dataclass(frozen=True)
class Message:
    """A server event of the call, decoded and checked by the protocol layer."""

    event: ServerEvent


#: What a supervisor tells its listener: every server event, the reconnects, and finally
#: exactly one :class:`Closed`.
SupervisorEvent = Message | Reconnecting | Reconnected | Closed
Listener = Callable[[SupervisorEvent], None]


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

    ``listener`` gets a :class:`Message` for every server event, :class:`Reconnecting` and
    :class:`Reconnected` around each outage, and finally one :class:`Closed`.
    """

    def __init__(
        self,
        protocol: ClientProtocol,
        dial: Dialler,
        listener: Listener,
        *,
        policy: ReconnectPolicy | None = None,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.protocol = protocol
        self._dial = dial
        self._listener = listener
        self.policy = policy or ReconnectPolicy()
        self._clock = clock
        self.plan = ReconnectPlan(self.policy, rng or random.Random())  # noqa: S311 (jitter)
        self.link: LinkLike | None = None
        self.stats = LinkStats()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._reported_unknown: set[str] = set()  # at most UNKNOWN_TYPES
        self._unknown_log = Throttle()
        self._malformed_log = Throttle()

    # ── opening ─────────────────────────────────────────────────────────────────

    async def open(
        self,
        token: str,
        accept_within: float = 10.0,
        renew: Callable[[], Coroutine[Any, Any, str]] | None = None,
    ) -> Connected:
        """Dial, send the first message, wait for ``connected``; then run in the background.

        A dial that fails is retried briefly: with the same ticket when only the first message
        spends it; where the dial itself spends it (``dial_spends_ticket``), with a new one
        from ``renew`` (without ``renew`` the first failure is final).
        """
        renewing = renew if self.protocol.dial_spends_ticket else None
        link = None
        for attempt in range(3):
            try:
                link = await self._dial()
                break
            except LinkRefused:
                raise  # the service said no: the same token will not do better
            except LinkError:
                if attempt == 2 or (self.protocol.dial_spends_ticket and renewing is None):
                    raise
                await asyncio.sleep(self.policy.first_delay * (attempt + 1))
                if renewing is not None:
                    log.info("the dial failed after its ticket was sent; asking for a new one")
                    token = await renewing()
        assert link is not None
        try:
            opening = self.protocol.opening(token)
            if opening is not None:  # Atoms: the token went in the URL
                link.send_text(opening)
            async with asyncio.timeout(accept_within):
                connected = await self._await_open(link)
        except BaseException:
            await link.close()
            raise
        self.link = link
        self._keep_secret()
        self._task = asyncio.create_task(self._run(), name="call-supervisor")
        return connected

    async def _await_open(self, link: LinkLike) -> Connected:
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
                    case ProtocolError(about=about, problem=problem) if (
                        about == self.protocol.connected_type
                    ):
                        # A `connected` we cannot take will not come right by waiting for it.
                        raise ConnectRefused(ErrorCode.PROTOCOL_ERROR, problem)
                    case _:
                        self._dispatch(event)

    # ── running ─────────────────────────────────────────────────────────────────

    async def _run(self) -> None:
        closed: Closed | None = None
        try:
            while True:
                assert self.link is not None
                drop = await self._pump(self.link)
                if drop is None:  # the service ended the call (or we did)
                    reason = self.protocol.end_reason or "session_closed"
                    closed = self.plan.close(self._clock(), reason=reason)
                    break
                if self._closing:
                    closed = self.plan.close(self._clock())
                    break
                closed = self._closed_by_service(drop)
                if closed is not None:
                    break
                closed = await self._recover(drop)
                if closed is not None:
                    break
        except asyncio.CancelledError:
            closed = self.plan.close(self._clock())
            raise
        except Exception:
            log.exception("call supervisor failed")
            closed = Closed(self._clock(), "internal_error", str(ErrorCode.INTERNAL_ERROR))
        finally:
            self._report_held_back()
            closed = closed or Closed(self._clock(), CLIENT_REQUESTED)
            self.protocol.mark_ended(closed.reason)
            link = self.link
            # The end is known now: report it before the (bounded) closing handshake, which a
            # server slow to drop the connection can stretch to the whole close timeout.
            self._report(closed)
            if link is not None:
                await link.close()
            self._retire()

    async def _pump(self, link: LinkLike) -> LinkClosed | None:
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
        self._listener(Message(event))

    def _report(self, event: Reconnecting | Reconnected | Closed) -> None:
        """Log one transition of the plan, once, and pass it on."""
        match event:
            case Reconnecting(reason=reason):
                log_event(
                    log,
                    logging.WARNING,
                    f"link lost ({reason}); reconnecting",
                    EVENT="reconnecting",
                )
            case Reconnected(outage=outage):
                log_event(
                    log, logging.INFO, f"reconnected after {outage:.2f} s", EVENT="reconnected"
                )
            case Closed(reason=reason, code=None):
                log.debug("link closed (%s)", reason)
            case Closed(reason=reason, code=code, message=message):
                log_event(
                    log, logging.WARNING, f"link given up ({code}): {message}", EVENT="link_closed"
                )
        self._listener(event)

    def _closed_by_service(self, drop: LinkClosed) -> Closed | None:
        """A close the service meant (an ``error`` then a close, or a close from a service
        without resume): the call is over, and not for a network reason."""
        match self.protocol.closed(drop.code):
            case ServerError(code=code):
                # Its CallFailed went out with the message; the end carries the same code.
                return self.plan.close(self._clock(), reason=code)
            case SessionEnded(reason=reason):
                return self.plan.close(self._clock(), reason=reason)
        return None

    # ── recovering ──────────────────────────────────────────────────────────────

    async def _recover(self, drop: LinkClosed) -> Closed | None:
        """Get the call back on a new link (None) or say why not."""
        now = self._clock()
        report = self.plan.lost(
            at=now,
            dropped_at=drop.dropped_at,
            reason=drop.reason,
            can_resume=self.protocol.can_resume,
        )
        assert self.plan.dropped_at is not None
        outage = Outage(dropped_at=self.plan.dropped_at, detected_at=now, reason=drop.reason)
        self.stats.outages.append(outage)
        self._retire()
        if isinstance(report, Closed):  # no resume: reported once, by _run
            return report
        self._report(report)
        result = await self._redial()
        if isinstance(result, Closed):
            return result
        outage.recovered_at = result.at
        self.stats.reconnects += 1
        self._report(result)
        return None

    async def _redial(self) -> Reconnected | Closed:
        dials: set[asyncio.Task[LinkLike]] = set()
        try:
            while True:
                now = self._clock()
                if self._closing:
                    return self.plan.close(now) or Closed(now, CLIENT_REQUESTED)
                step = self.plan.tick(now)
                while step is Dial.NOW:
                    dials.add(asyncio.create_task(self._dial(), name="redial"))
                    step = self.plan.tick(now)
                if isinstance(step, Closed):
                    return step
                wake_at = self.plan.wake_at
                assert wake_at is not None
                done: set[asyncio.Task[LinkLike]] = set()
                if dials:
                    done, _ = await asyncio.wait(
                        dials, timeout=max(0.0, wake_at - now), return_when="FIRST_COMPLETED"
                    )
                else:
                    await asyncio.sleep(max(0.0, wake_at - now))
                winner: LinkLike | None = None
                for task in done:
                    dials.discard(task)
                    if task.exception() is not None:
                        continue
                    if winner is None and self.plan.opened(self._clock()):
                        winner = task.result()
                    else:
                        task.result().abort()  # a tie, or too late: only one link may resume
                if winner is None:
                    continue
                # Silence the other attempts before the winner sends its resume.
                await _abandon(dials)
                outcome = await self._resume(winner)
                if outcome is not None:
                    return outcome
                # That link died during the resume: keep dialling.
        finally:
            await _abandon(dials)

    async def _resume(self, link: LinkLike) -> Reconnected | Closed | None:
        """Send ``resume``: the plan's verdict on ``resumed`` or a refusal, None to dial on."""
        link.send_text(self.protocol.resume_hello())
        try:
            async with asyncio.timeout(self.plan.resume_timeout(self._clock())):
                while True:
                    message = await link.recv()
                    for event in self.protocol.receive(message):
                        match event:
                            case Resumed():
                                self._keep_secret()
                                self.link = link
                                return self.plan.resumed(self._clock())
                            case ServerError(code=code, message=text):
                                await link.close()
                                return self.plan.refused(
                                    self._clock(), reason=code, code=code, message=text
                                )
                            case SessionEnded(reason=reason):
                                await link.close()
                                return self.plan.refused(self._clock(), reason=reason, code=None)
                            case _:
                                self._dispatch(event)
        except (TimeoutError, LinkClosed):
            link.abort()
            return self.plan.resume_failed(self._clock())
        except asyncio.CancelledError:
            link.abort()
            raise

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
        """End locally: stop reconnecting at once, or close the live link (bounded); returns
        once ``Closed`` has been reported."""
        self._closing = True
        task = self._task
        if task is None or task.done():
            if self.link is not None:
                await self.link.close()
            return
        if self.plan.state in (ReconnectState.DIALLING, ReconnectState.RESUMING):
            task.cancel()  # no live link to say goodbye on: stop dialling now
        elif self.link is not None:
            await self.link.close()
        done, _ = await asyncio.wait({task}, timeout=2.0)
        if not done:
            task.cancel()
            await asyncio.wait({task})


async def _abandon(dials: set[asyncio.Task[LinkLike]]) -> None:
    """Cancel dial attempts; abort any link one of them opened meanwhile."""
    for task in dials:
        task.cancel()
    if dials:
        await asyncio.wait(dials)
    for task in dials:
        if not task.cancelled() and task.exception() is None:
            task.result().abort()
    dials.clear()
