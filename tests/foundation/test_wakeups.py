"""The wake-up grid: periodic timers of different intervals land on the same instants."""

from __future__ import annotations

import itertools
import math

from hypothesis import given
from hypothesis import strategies as st

from booth.wakeups import GRID, delay_on_grid, on_grid


@given(st.floats(0.0, 1e6), st.floats(0.0, 10.0))
def test_on_grid_is_the_nearest_grid_point_after_now(now: float, ahead: float) -> None:
    t = on_grid(now + ahead, now)
    assert t > now
    assert math.isclose(t / GRID, round(t / GRID), abs_tol=1e-6)
    assert abs(t - (now + ahead)) <= GRID / 2 + 1e-6 or t - now <= GRID + 1e-6


def _beats(interval: float, start: float, late: float, count: int) -> list[int]:
    """The grid points (as indices) a periodic timer fires on, each time ``late`` s late."""
    now, points = start, []
    for _ in range(count):
        due = now + delay_on_grid(interval, now)
        points.append(round(due / GRID))
        now = due + late
    return points


def test_timers_of_different_intervals_share_wakeups() -> None:
    """A tick and a stall check (0.25 s, started apart) and an LED step (0.05 s), each firing
    a few ms late every time: every tick and stall check falls on an LED step."""
    tick = _beats(0.25, 100.013, 0.002, 40)
    stall = _beats(0.25, 100.171, 0.004, 40)
    led = set(_beats(0.05, 100.0, 0.003, 400))
    assert set(tick) <= led and set(stall) <= led
    assert stall[:30] == tick[1:31]  # the two 0.25 s timers wake together
    assert all(b - a == 5 for a, b in itertools.pairwise(tick))  # no drift or skips


def test_short_intervals_are_not_stretched() -> None:
    assert delay_on_grid(0.01, 123.456) == 0.01
