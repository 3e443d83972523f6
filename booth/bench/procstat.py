"""CPU and memory of the process the bench runs in, thread by thread, from /proc (Linux).

Threads are grouped into roles so the booth and the I/O floor can be compared role by role:
``loop`` (the main thread: the event loop), ``capture`` and ``playback`` (PortAudio's callback
threads, as the code running on them reports its native id), ``pacers`` (the threads that
stand in for the sound card, left out of the totals) and ``other`` (executors, OpenBLAS...).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path

_TICK = os.sysconf("SC_CLK_TCK")


def rss_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def memory_mb(pid: int | None = None) -> dict[str, float]:
    """A process's (this one's by default) RSS, PSS (shared pages split between the processes
    mapping them) and USS (pages only it maps), in MB, from /proc/PID/smaps_rollup."""
    fields: dict[str, int] = {}
    rollup = Path(f"/proc/{pid or 'self'}/smaps_rollup")
    for line in rollup.read_text().splitlines()[1:]:
        name, _, rest = line.partition(":")
        fields[name] = int(rest.split()[0])
    uss = fields.get("Private_Clean", 0) + fields.get("Private_Dirty", 0)
    return {
        "rss": fields.get("Rss", 0) / 1024,
        "pss": fields.get("Pss", 0) / 1024,
        "uss": uss / 1024,
    }


def _each_thread(name: str) -> Iterator[tuple[int, str]]:
    """(thread id, text of /proc/self/task/<id>/<name>) for each thread of this process."""
    for task in Path("/proc/self/task").iterdir():
        try:
            yield int(task.name), (task / name).read_text()
        except OSError:
            continue  # the thread ended while we looked


def thread_cpu() -> dict[int, float]:
    """CPU seconds (user + system) per thread id."""
    out: dict[int, float] = {}
    for tid, stat in _each_thread("stat"):
        fields = stat.rsplit(")", 1)[1].split()
        out[tid] = (int(fields[11]) + int(fields[12])) / _TICK
    return out


def thread_sleeps() -> dict[int, int]:
    """Times each thread blocked (voluntary context switches: a wait for I/O, a timer, a lock
    or the GIL) per thread id: what waking it up cost the kernel and the caches."""
    out: dict[int, int] = {}
    for tid, status in _each_thread("status"):
        for line in status.splitlines():
            if line.startswith("voluntary_ctxt_switches:"):
                out[tid] = int(line.split()[1])
    return out


class ThreadRoles:
    """Which thread does what: code on a callback thread calls ``mark(role)`` once."""

    def __init__(self) -> None:
        self._roles: dict[int, str] = {threading.main_thread().native_id or 0: "loop"}

    def mark(self, role: str, tid: int | None = None) -> None:
        self._roles[tid if tid is not None else threading.get_native_id()] = role

    def role(self, tid: int) -> str:
        if tid in self._roles:
            return self._roles[tid]
        for thread in threading.enumerate():
            if thread.native_id == tid:
                return "pacers" if thread.name.startswith("alsa-") else "other"
        return "other"


class CpuMeter:
    """Process CPU over a window, per role, as % of one core."""

    def __init__(self, roles: ThreadRoles, clock: float) -> None:
        self.roles = roles
        self._start_clock = clock
        self._start_process = _process_cpu()
        self._start_threads = thread_cpu()
        self._start_sleeps = thread_sleeps()

    def stop(self, clock: float) -> dict[str, float]:
        """``{"cpu_pct": total without pacers, "pacer_cpu_pct": ..., "<role>_pct": ...,
        "<role>_wakeups_per_s": ...}``."""
        wall = clock - self._start_clock
        by_role: dict[str, float] = {}
        for tid, seconds in thread_cpu().items():
            used = seconds - self._start_threads.get(tid, 0.0)
            role = self.roles.role(tid)
            by_role[role] = by_role.get(role, 0.0) + used
        total = _process_cpu() - self._start_process  # includes threads that have ended
        pacers = by_role.pop("pacers", 0.0)
        result = {"cpu_pct": 100.0 * (total - pacers) / wall, "pacer_cpu_pct": 100 * pacers / wall}
        for role, used in sorted(by_role.items()):
            result[f"{role}_pct"] = 100.0 * used / wall
        wakeups: dict[str, int] = {}
        for tid, count in thread_sleeps().items():
            role = self.roles.role(tid)
            wakeups[role] = wakeups.get(role, 0) + count - self._start_sleeps.get(tid, 0)
        wakeups.pop("pacers", None)  # the emulated sound card's, as for CPU
        for role, count in sorted(wakeups.items()):
            result[f"{role}_wakeups_per_s"] = count / wall
        return result


def _process_cpu() -> float:
    t = os.times()
    return t.user + t.system
