"""The bench's per-thread figures from /proc: CPU and wake-ups, grouped by role."""

from __future__ import annotations

import threading
import time

from booth.bench.procstat import CpuMeter, ThreadRoles


def test_wake_ups_are_counted_for_the_thread_that_blocks() -> None:
    roles = ThreadRoles()
    ready, go, slept, release = (threading.Event() for _ in range(4))

    def sleeper() -> None:
        roles.mark("playback")
        ready.set()
        go.wait()
        for _ in range(50):
            time.sleep(0.001)  # each sleep blocks the thread once: a voluntary switch
        slept.set()
        release.wait()  # alive until measured: /proc forgets a thread that has ended

    thread = threading.Thread(target=sleeper)
    pacer = threading.Thread(target=release.wait, name="alsa-feed")  # the sound card's stand-in
    thread.start()
    pacer.start()
    assert ready.wait(10)
    start = time.monotonic()
    meter = CpuMeter(roles, start)
    go.set()
    assert slept.wait(10)  # the main thread blocks here too
    stop = time.monotonic()
    figures = meter.stop(stop)
    release.set()
    thread.join()
    pacer.join()
    counts = {
        role: round(figures[f"{role}_wakeups_per_s"] * (stop - start))
        for role in ("playback", "loop")
    }
    assert counts["playback"] >= 50 and counts["loop"] >= 1
    assert "playback_pct" in figures
    assert "pacers_wakeups_per_s" not in figures  # left out, as the pacers' CPU is
