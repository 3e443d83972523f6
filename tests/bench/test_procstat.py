"""The bench's per-thread figures from /proc: CPU and wake-ups, grouped by role."""

from __future__ import annotations

import threading
import time

from booth.bench.procstat import CpuMeter, ThreadRoles


def test_wake_ups_are_counted_for_the_thread_that_blocks() -> None:
    roles = ThreadRoles()
    go, woke, leave = threading.Semaphore(0), threading.Semaphore(0), threading.Event()

    def waiter() -> None:
        roles.mark("playback")
        for _ in range(50):
            go.acquire()  # blocks until released: one sleep of this thread each time
            woke.release()
        leave.wait()  # alive until measured: /proc forgets a thread that has ended

    thread = threading.Thread(target=waiter)
    thread.start()
    start = time.monotonic()
    meter = CpuMeter(roles, start)
    for _ in range(50):
        go.release()
        woke.acquire()  # the main thread blocks too, so the waiter finds go empty again
    stop = time.monotonic()
    figures = meter.stop(stop)
    leave.set()
    thread.join()
    # Each hand-over puts one side to sleep; most find the other already waiting.
    assert figures["playback_wakeups_per_s"] * (stop - start) >= 25
    assert figures["loop_wakeups_per_s"] * (stop - start) >= 25
    assert "playback_pct" in figures
