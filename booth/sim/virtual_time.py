"""An asyncio event loop on virtual time: sleeps and timeouts take no real time.

The loop's clock starts at 0 and, whenever nothing is ready to run, jumps straight to the next
timer. So a 30 s reconnect cutoff, with its backoff and hanging dials, plays out in
milliseconds, and every timestamp is exact. Pass the loop's :meth:`~VirtualTimeLoop.time` as
the ``clock`` of the code under test, so its clock and its waits agree.

For code whose I/O is faked (no sockets): real I/O still works, but waiting for it never
advances the clock, and a loop with nothing scheduled and nothing ready fails at once instead
of hanging.
"""

from __future__ import annotations

import asyncio
import selectors
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class _JumpingSelector:
    """Wraps the loop's selector: polls without blocking, then moves the clock by the wait."""

    def __init__(self, real: Any, advance: Callable[[float], None]) -> None:
        self._real: selectors.BaseSelector = real
        self._advance = advance

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        ready = self._real.select(0)
        if ready or timeout == 0:
            return ready
        if timeout is None:
            raise RuntimeError("virtual time: nothing scheduled and nothing ready (deadlock)")
        self._advance(timeout)
        return ready

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    def __init__(self) -> None:
        super().__init__()
        self._virtual_now = 0.0
        # The selector is the one place a selector loop waits; asyncio has no public hook.
        self._selector = _JumpingSelector(self._selector, self._advance)  # type: ignore[has-type]

    def time(self) -> float:
        return self._virtual_now

    def _advance(self, seconds: float) -> None:
        self._virtual_now += seconds


def run(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run`` on a fresh :class:`VirtualTimeLoop`."""
    with asyncio.Runner(loop_factory=VirtualTimeLoop) as runner:
        return runner.run(main)
