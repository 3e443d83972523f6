"""One grid for the daemon's periodic wake-ups, so that timers which would fire apart fire
together.

A wake-up of the event loop costs more than most of what the timer then does: the kernel's
timer and context switch, and the loop's own turn (on this project's x86 VM, ~100-250 µs of CPU
against a few µs of LED or tick work). The LED animator, the daemon's tick, the capture stall
check, the link watchdog and the device prober each wake on their own beat; with their
deadlines rounded to multiples of ``GRID`` on the loop's clock they coincide, and asyncio runs
every timer that is due in one turn of the loop.

``on_grid`` and ``delay_on_grid`` are pure (the caller gives the loop's time);
``sleep_on_grid`` is the one adapter, for the periodic tasks.
"""

from __future__ import annotations

import asyncio
from typing import Final

#: 20 a second: the LED breathe's step (smooth to the eye for a 1 s breathe), and a divisor
#: of the 0.25 s tick and stall check.
GRID: Final = 0.05


def on_grid(due: float, now: float, every: int = 1) -> float:
    """The multiple of ``every`` grid steps nearest ``due`` (the loop's clock), but later than
    ``now``: timers of the same period land on the same instants, which are grid points too.

    Nearest, not the next one up: a timer that fires a little late on one point asks for
    ``now + interval`` and must land on the next point ``interval`` on, not one beyond it.
    """
    n = max(round(due / (GRID * every)), round(now / (GRID * every)))
    while n * every * GRID <= now:  # (a loop: now // GRID is off by one at some multiples)
        n += 1
    return n * every * GRID  # n * every is exact: the same float for every timer on it


def delay_on_grid(interval: float, now: float) -> float:
    """How long to sleep from ``now`` to wake about ``interval`` on, on the grid. Intervals
    shorter than ``GRID`` (tests, simulations) are left as they are."""
    if interval < GRID:
        return interval
    return on_grid(now + interval, now, round(interval / GRID)) - now


async def sleep_on_grid(interval: float) -> None:
    """Sleep about ``interval`` seconds, waking on the grid with the loop's other timers."""
    await asyncio.sleep(delay_on_grid(interval, asyncio.get_running_loop().time()))
