"""When to dial, when to give up, what to report: the reconnect plan of one call, as pure code.

No clock, no sockets, no tasks: every method takes the time (``at``, seconds on the caller's
monotonic clock) and returns what the caller must do or report. The supervisor
(:mod:`booth.transport.supervisor`) is the adapter that dials, sends ``resume`` and logs each
report once.

States and transitions (each arrow is one method)::

    CONNECTED --lost()--------------> DIALLING      report Reconnecting
    CONNECTED --lost(no resume)-----> ENDED         report Closed(network_lost, NETWORK_LOST)
    DIALLING  --tick() past cutoff--> ENDED         report Closed(network_lost, NETWORK_LOST)
    DIALLING  --opened()------------> RESUMING      (the adapter sends resume on that link)
    RESUMING  --resumed()-----------> CONNECTED     report Reconnected
    RESUMING  --refused()-----------> ENDED         report Closed(<the service's code>)
    RESUMING  --resume_failed()-----> DIALLING      (or ENDED past the cutoff)
    any but ENDED --close()---------> ENDED         report Closed(client_requested, or the
                                                    service's reason on a live link)

A service that offers no resume ends the call at the drop, without a ``Reconnecting`` report:
there is nothing to wait for, so the booth never announces a reconnect it cannot make.

The cutoff is measured from the drop (``dropped_at``: for a silent link, the last inbound byte),
not from when the drop was noticed. Dial attempts start on a schedule (first soon, then
equal-jitter backoff capped at ``cap``) whether or not earlier attempts have finished: a
black-holed SYN must not hold up the attempt that would succeed.
"""

from __future__ import annotations

import enum
import random
from collections.abc import Iterator
from dataclasses import dataclass

from booth.config import RECONNECT_CUTOFF_S
from booth.errors import ErrorCode

NETWORK_LOST_REASON = "network_lost"
CLIENT_REQUESTED = "client_requested"


@dataclass(frozen=True)
class ReconnectPolicy:
    cutoff: float = RECONNECT_CUTOFF_S  # seconds after the drop: NETWORK_LOST and the call ends
    first_delay: float = 0.1
    base: float = 0.25
    factor: float = 2.0
    cap: float = 0.8  # with equal jitter: a returning link is retried within 0.8 s
    resume_timeout: float = 3.0  # the winning link's wait for `resumed`

    def delay_steps(self, rng: random.Random) -> Iterator[float]:
        """Delays between attempt starts, without end: ``first_delay``, then equal-jitter
        backoff (each step ``d`` drawn from ``[d/2, d]``, ``d`` doubling up to ``cap``)."""
        yield self.first_delay
        step = self.base
        while True:
            d = min(self.cap, step)
            yield d / 2 + rng.uniform(0, d / 2)
            step = min(step * self.factor, self.cap)

    def delays(self, rng: random.Random) -> list[float]:
        """The delays of one whole outage: enough attempts to reach the cutoff."""
        out: list[float] = []
        total = 0.0
        for d in self.delay_steps(rng):
            out.append(d)
            total += d
            if total >= self.cutoff:
                return out
        raise AssertionError("unreachable")  # pragma: no cover


class ReconnectState(enum.Enum):
    #: A live link; nothing to plan until it is lost.
    CONNECTED = "connected"
    #: The link is lost; dial attempts start on the backoff schedule until the cutoff.
    DIALLING = "dialling"
    #: A dial opened a link and ``resume`` is in flight on it; other attempts are abandoned.
    RESUMING = "resuming"
    #: Given up, refused, or closed locally: nothing more is dialled.
    ENDED = "ended"


# ── reports (what the adapter passes on) ─────────────────────────────────────────


@dataclass(frozen=True)
class Reconnecting:
    """The link was lost and the call is being recovered."""

    at: float  # when the loss was noticed
    dropped_at: float  # best estimate of when the link died (no later than ``at``)
    reason: str


@dataclass(frozen=True)
class Reconnected:
    """The call is back on a new link."""

    at: float
    outage: float  # seconds from the drop to the resume


@dataclass(frozen=True)
class Closed:
    """The call is over. ``code`` is an error code when it ended in failure."""

    at: float
    reason: str
    code: str | None = None
    message: str = ""


def network_lost(at: float, message: str) -> Closed:
    return Closed(at, NETWORK_LOST_REASON, str(ErrorCode.NETWORK_LOST), message)


class Dial(enum.Enum):
    """:meth:`ReconnectPlan.tick`'s answer when an attempt is due."""

    NOW = "dial now"


class ReconnectPlan:
    """One call's reconnect state; feed it the drop and each attempt's outcome."""

    def __init__(self, policy: ReconnectPolicy, rng: random.Random) -> None:
        self.policy = policy
        self._rng = rng
        self.state = ReconnectState.CONNECTED
        self.dropped_at: float | None = None
        #: Give up at this time (``dropped_at + cutoff``) while recovering.
        self.deadline: float | None = None
        #: Start the next dial attempt at this time while dialling.
        self.next_dial_at: float | None = None
        self.attempts = 0
        self._steps: Iterator[float] = iter(())

    @property
    def wake_at(self) -> float | None:
        """When :meth:`tick` next has something to say (None: only an outcome can change it)."""
        if self.state is ReconnectState.DIALLING:
            assert self.next_dial_at is not None
            assert self.deadline is not None
            return min(self.next_dial_at, self.deadline)
        return None

    def lost(
        self, *, at: float, dropped_at: float, reason: str, can_resume: bool
    ) -> Reconnecting | Closed:
        """The live link died (noticed at ``at``)."""
        if self.state is not ReconnectState.CONNECTED:
            raise RuntimeError(f"link lost while {self.state.value}")
        self.dropped_at = min(dropped_at, at)
        if not can_resume:
            self.state = ReconnectState.ENDED
            return network_lost(at, "the service offers no resume for this call")
        self.state = ReconnectState.DIALLING
        self.deadline = self.dropped_at + self.policy.cutoff
        self._steps = self.policy.delay_steps(self._rng)
        self.next_dial_at = at + next(self._steps)
        return Reconnecting(at, self.dropped_at, reason)

    def tick(self, at: float) -> Dial | Closed | None:
        """What is due at ``at``: a dial attempt, giving up, or nothing (wait for ``wake_at``).

        Call again after acting on ``Dial.NOW``: several attempts may be due at once."""
        if self.state is not ReconnectState.DIALLING:
            return None
        assert self.deadline is not None
        assert self.next_dial_at is not None
        if at >= self.deadline:
            return self._give_up(at)
        if at >= self.next_dial_at:
            self.attempts += 1
            self.next_dial_at = at + next(self._steps)
            return Dial.NOW
        return None

    def opened(self, at: float) -> bool:
        """A dial attempt opened a link: True to resume on it, False to abort it (another is
        already resuming, the call is over, or the cutoff has passed)."""
        if self.state is not ReconnectState.DIALLING:
            return False
        assert self.deadline is not None
        if at >= self.deadline:
            return False
        self.state = ReconnectState.RESUMING
        return True

    def resume_timeout(self, at: float) -> float:
        """How long the resuming link may wait for ``resumed``: never past the cutoff by more
        than a moment (the answer may already be on the wire)."""
        assert self.deadline is not None
        return max(0.1, min(self.policy.resume_timeout, self.deadline - at))

    def resumed(self, at: float) -> Reconnected:
        if self.state is not ReconnectState.RESUMING:
            raise RuntimeError(f"resumed while {self.state.value}")
        assert self.dropped_at is not None
        self.state = ReconnectState.CONNECTED
        outage = at - self.dropped_at
        self.dropped_at = self.deadline = self.next_dial_at = None
        return Reconnected(at, outage)

    def refused(self, at: float, *, reason: str, code: str | None, message: str = "") -> Closed:
        """The service answered the resume with an error or an end: the call is over."""
        if self.state is not ReconnectState.RESUMING:
            raise RuntimeError(f"resume refused while {self.state.value}")
        self.state = ReconnectState.ENDED
        return Closed(at, reason, code, message)

    def resume_failed(self, at: float) -> Closed | None:
        """The resuming link died or never answered: dial on (None), or give up at the cutoff."""
        if self.state is not ReconnectState.RESUMING:
            raise RuntimeError(f"resume failed while {self.state.value}")
        self.state = ReconnectState.DIALLING
        assert self.deadline is not None
        if at >= self.deadline:
            return self._give_up(at)
        return None  # an attempt already due starts at the adapter's next tick

    def close(
        self, at: float, *, reason: str = CLIENT_REQUESTED, code: str | None = None
    ) -> Closed | None:
        """The call is over for another reason than the plan's (the booth ended it, the
        service ended it on a live link); None if it was already over."""
        if self.state is ReconnectState.ENDED:
            return None
        self.state = ReconnectState.ENDED
        return Closed(at, reason, code)

    def _give_up(self, at: float) -> Closed:
        self.state = ReconnectState.ENDED
        return network_lost(at, f"no link for {self.policy.cutoff:g} s")
