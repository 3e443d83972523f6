"""The reconnect plan on its own: pure code, time passed in, every transition and report."""

from __future__ import annotations

import random

import pytest

from booth.config import RECONNECT_CUTOFF_S, CallSection
from booth.errors import ErrorCode
from booth.transport.reconnect import (
    Closed,
    Dial,
    Reconnected,
    Reconnecting,
    ReconnectPlan,
    ReconnectPolicy,
    ReconnectState,
)


def plan(seed: int = 0, **policy: float) -> ReconnectPlan:
    return ReconnectPlan(ReconnectPolicy(**policy), random.Random(seed))


def lost(p: ReconnectPlan, at: float = 102.5, dropped_at: float = 100.0) -> Reconnecting:
    report = p.lost(at=at, dropped_at=dropped_at, reason="no traffic", can_resume=True)
    assert isinstance(report, Reconnecting)
    return report


def dials_until(p: ReconnectPlan, end: float, step: float = 0.01) -> list[float]:
    """Tick every ``step`` s up to ``end``: the times at which the plan asks for a dial."""
    out = []
    t = p.next_dial_at or 0.0
    while t < end and p.state is ReconnectState.DIALLING:
        while p.tick(t) is Dial.NOW:
            out.append(t)
        t += step
    return out


def test_one_default_cutoff() -> None:
    assert ReconnectPolicy().cutoff == RECONNECT_CUTOFF_S == CallSection().reconnect_cutoff


def test_a_drop_starts_dialling_and_reports_reconnecting() -> None:
    p = plan()
    report = lost(p)
    assert report == Reconnecting(at=102.5, dropped_at=100.0, reason="no traffic")
    assert p.state is ReconnectState.DIALLING
    assert p.deadline == 100.0 + RECONNECT_CUTOFF_S
    assert p.next_dial_at == pytest.approx(102.5 + p.policy.first_delay)
    assert p.wake_at == p.next_dial_at
    assert p.tick(102.5) is None  # nothing due before the first delay
    due = p.next_dial_at
    assert p.tick(due) is Dial.NOW
    assert p.tick(due) is None  # one attempt per step
    assert p.attempts == 1


def test_a_drop_dated_after_its_detection_counts_from_the_detection() -> None:
    p = plan()
    report = lost(p, at=50.0, dropped_at=51.0)
    assert report.dropped_at == 50.0
    assert p.deadline == 50.0 + RECONNECT_CUTOFF_S


def test_no_resume_ends_at_the_drop_without_reconnecting() -> None:
    p = plan()
    report = p.lost(at=3.0, dropped_at=1.0, reason="connection lost", can_resume=False)
    assert isinstance(report, Closed)
    assert (report.at, report.reason, report.code) == (3.0, "network_lost", ErrorCode.NETWORK_LOST)
    assert p.state is ReconnectState.ENDED
    assert p.tick(4.0) is None and p.wake_at is None


@pytest.mark.parametrize("outage", [5.0, 15.0, 29.0])
def test_a_link_back_before_the_cutoff_resumes(outage: float) -> None:
    p = plan()
    lost(p)
    dials = dials_until(p, 100.0 + outage)
    assert dials and max(dials) < 100.0 + outage
    assert p.opened(100.0 + outage)
    assert p.state is ReconnectState.RESUMING
    assert p.wake_at is None and p.tick(100.0 + outage) is None  # no dial while resuming
    assert not p.opened(100.0 + outage)  # a second link: abort it
    assert p.resume_timeout(100.0 + outage) == min(3.0, RECONNECT_CUTOFF_S - outage)
    back = p.resumed(100.0 + outage + 0.05)
    assert back == Reconnected(at=100.0 + outage + 0.05, outage=pytest.approx(outage + 0.05))
    assert p.state is ReconnectState.CONNECTED
    assert p.deadline is None and p.wake_at is None


def test_the_cutoff_gives_up_at_exactly_the_deadline() -> None:
    p = plan()
    lost(p)
    deadline = 100.0 + RECONNECT_CUTOFF_S
    dials = dials_until(p, deadline - 1e-9, step=0.001)
    assert max(dials) < deadline
    assert p.wake_at is not None and p.wake_at <= deadline
    closed = p.tick(deadline)
    assert isinstance(closed, Closed)
    assert (closed.at, closed.code) == (deadline, ErrorCode.NETWORK_LOST)
    assert "30 s" in closed.message
    assert p.state is ReconnectState.ENDED
    assert not p.opened(deadline + 0.1)  # a link that opens too late is aborted
    assert p.close(deadline + 1) is None  # reported once


def test_a_resume_that_dies_dials_on_and_one_past_the_cutoff_gives_up() -> None:
    p = plan()
    lost(p)
    assert p.opened(110.0)
    assert p.resume_failed(113.0) is None
    assert p.state is ReconnectState.DIALLING
    assert p.tick(113.0) is Dial.NOW  # the attempt that was due meanwhile starts at once
    assert p.opened(128.0)
    closed = p.resume_failed(131.0)
    assert isinstance(closed, Closed) and closed.code == ErrorCode.NETWORK_LOST
    assert p.state is ReconnectState.ENDED


def test_the_resume_wait_never_runs_far_past_the_cutoff() -> None:
    p = plan()
    lost(p)
    assert p.resume_timeout(129.5) == pytest.approx(0.5)
    assert p.resume_timeout(129.99) == 0.1  # the answer may already be on the wire


def test_a_refused_resume_ends_with_the_services_code() -> None:
    p = plan()
    lost(p)
    assert p.opened(105.0)
    closed = p.refused(105.1, reason="RESUME_REJECTED", code="RESUME_REJECTED", message="gone")
    assert closed == Closed(105.1, "RESUME_REJECTED", "RESUME_REJECTED", "gone")
    assert p.state is ReconnectState.ENDED


def test_closing_during_an_outage_is_not_an_error() -> None:
    p = plan()
    lost(p)
    closed = p.close(104.0)
    assert closed == Closed(104.0, "client_requested", None)
    assert p.state is ReconnectState.ENDED
    assert p.tick(200.0) is None  # no dial, no NETWORK_LOST afterwards


def test_the_service_ending_a_live_call_keeps_its_reason() -> None:
    p = plan()
    assert p.close(5.0, reason="server_shutdown") == Closed(5.0, "server_shutdown")


def test_transitions_out_of_order_are_refused() -> None:
    p = plan()
    with pytest.raises(RuntimeError):
        p.resumed(1.0)
    lost(p)
    with pytest.raises(RuntimeError):
        lost(p)
    with pytest.raises(RuntimeError):
        p.refused(1.0, reason="x", code=None)


def test_reconnect_delays_start_fast_and_stay_capped() -> None:
    policy = ReconnectPolicy()
    for seed in range(20):
        delays = policy.delays(random.Random(seed))
        assert delays[0] == policy.first_delay < 0.5
        assert max(delays) <= policy.cap
        assert sum(delays) >= policy.cutoff
        assert sum(delays[:-1]) < policy.cutoff  # just enough for one outage
        step = policy.base
        for d in delays[1:]:
            bound = min(step, policy.cap)
            assert bound / 2 <= d <= bound  # equal jitter
            step *= policy.factor
        assert len(set(delays[3:])) > 1  # jittered, not lock-step across a fleet


def test_the_schedule_follows_the_policys_delays() -> None:
    p = plan(seed=7)
    expected = ReconnectPolicy().delays(random.Random(7))
    lost(p, at=0.0, dropped_at=0.0)
    t = 0.0
    for delay in expected[:10]:
        t += delay
        assert p.next_dial_at == pytest.approx(t)
        assert p.tick(t) is Dial.NOW
