"""The client side of a hostile-service scenario, in a process of its own so that its memory
figures are its own: ``python -m booth.sim.probe '<spec as JSON>'`` prints one JSON line.

The probe runs a :class:`~booth.session.RoleplaySession` against the given service (reading its
persona audio or stalling), records every call event with its time since ``connect()`` began,
the log lines the booth wrote (formatted as on stderr), the exception ``connect()`` raised, and
the peak RSS growth during the scenario (``VmHWM`` reset through ``/proc/self/clear_refs``, so
start-up and imports do not count). With ``retry_url`` it then connects a fresh session there:
a hostile answer must not leave anything behind that breaks the next call.

With ``"soak": N`` it instead makes N calls to a (polite) service through a fault proxy of its
own, resetting the link once in every call so each call resumes, and reports the RSS growth
after a warm-up and the time to format a log line after the warm-up, half-way and at the end
(every call registers secrets to scrub; that list must not make logging slower month by month).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import inspect
import io
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

from booth.sim.child import run_child

_STATUS = Path("/proc/self/status")


def status_kb(field: str) -> int:
    for line in _STATUS.read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def reset_peak() -> int:
    """Reset VmHWM to the current RSS (Linux >= 4.0); returns that RSS in kB."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")
    return status_kb("VmRSS")


def _event_row(event: Any, t0: float) -> dict[str, Any]:
    row: dict[str, Any] = {"type": type(event).__name__, "t": round(event.at - t0, 3)}
    for key in ("code", "message", "reason"):
        if hasattr(event, key):
            row[key] = getattr(event, key)
    return row


async def _drain(session: Any) -> None:
    async for _ in session.persona_audio():
        pass


async def _one_call(spec: dict[str, Any], api_url: str, log_stream: io.StringIO) -> dict[str, Any]:
    from booth.session import RoleplaySession

    kwargs: dict[str, Any] = {
        "booth_id": "booth-hostile",
        "request_timeout": spec.get("request_timeout", 2.0),
        "reconnect_cutoff": spec.get("reconnect_cutoff", 3.0),
    }
    if "connect_deadline" in inspect.signature(RoleplaySession).parameters:
        kwargs["connect_deadline"] = spec.get("connect_deadline", 8.0)
    session = RoleplaySession(api_url, spec["api_key"], "hostile-drill", **kwargs)
    events: list[Any] = []
    session.subscribe(events.append)
    gc.collect()
    baseline_kb = reset_peak()
    t0 = time.monotonic()
    error: str | None = None
    hung = False
    reader: asyncio.Task[None] | None = None
    try:
        async with asyncio.timeout(spec.get("give_up", 60.0)):
            try:
                await session.connect()
            except Exception as exc:  # what connect() raised, as text: it must be clean
                error = f"{type(exc).__name__}: {exc}"
            else:
                if spec.get("read_audio", True):
                    reader = asyncio.create_task(_drain(session))
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(spec.get("hold", 5.0)):
                        await session.wait_ended()
    except TimeoutError:
        hung = True
    peak_kb = status_kb("VmHWM")
    with contextlib.suppress(Exception):
        async with asyncio.timeout(5.0):
            await session.disconnect()
    if reader is not None:
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader
    typed = [e for e in events if type(e).__name__ in ("CallFailed", "Ended")]
    return {
        "events": [_event_row(e, t0) for e in events],
        "error": error,
        "hung": hung,
        "time_to_typed": round(typed[0].at - t0, 3) if typed else None,
        "peak_rss_growth_mb": round(max(0, peak_kb - baseline_kb) / 1024, 1),
        "state": session.state,
    }


def _log_capture() -> io.StringIO:
    from booth.logs import StderrFormatter

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(StderrFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    return stream


async def probe(spec: dict[str, Any]) -> dict[str, Any]:
    stream = _log_capture()
    result = await _one_call(spec, spec["api_url"], stream)
    if spec.get("retry_url"):
        again = await _one_call(spec | {"hold": 1.0}, spec["retry_url"], stream)
        result["retry"] = {
            "connected": any(e["type"] == "Ready" for e in again["events"]),
            "error": again["error"],
        }
    text = stream.getvalue()
    lines = text.splitlines()
    result["log_lines"] = len(lines)
    result["log_bytes"] = len(text)
    result["log_head"] = lines[:200]
    result["log_text_has"] = {s: s in text for s in spec.get("look_for", [])}
    return result


class _Watch:
    """A session subscriber that can be awaited for an event kind."""

    def __init__(self) -> None:
        self.events: list[Any] = []
        self._arrived = asyncio.Event()

    def __call__(self, event: Any) -> None:
        self.events.append(event)
        self._arrived.set()

    async def until(self, kind: str, within: float) -> None:
        async with asyncio.timeout(within):
            while not any(type(e).__name__ == kind for e in self.events):
                self._arrived.clear()
                await self._arrived.wait()


def line_cost_us(lines: int = 1000, repeats: int = 5) -> float:
    """Microseconds to format one log line as the stderr sink does (scrubbing included): the
    best of ``repeats`` runs, so a busy machine adds less noise."""
    from booth.logs import StderrFormatter

    formatter = StderrFormatter()
    record = logging.LogRecord(
        "booth.soak", logging.INFO, __file__, 1, "call ended (%s) after %d s", ("x", 3), None
    )
    record.__dict__["fields"] = {"CALL_ID": "call_0123456789", "END_REASON": "session_closed"}
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        for _ in range(lines):
            formatter.format(record)
        best = min(best, time.perf_counter() - started)
    return best / lines * 1e6


async def soak(spec: dict[str, Any]) -> dict[str, Any]:
    from booth.logs import registered_secrets
    from booth.session import RoleplaySession
    from booth.sim.faultproxy import TcpProxy

    _log_capture()
    calls: int = spec["soak"]
    warm_up = min(10, max(1, calls // 10))
    rss_start = line_start = line_half = 0.0
    resumes = 0
    async with TcpProxy("127.0.0.1", spec["ws_port"]) as proxy:
        for number in range(calls):
            session = RoleplaySession(
                spec["api_url"],
                spec["api_key"],
                spec.get("drill", "quick"),
                booth_id="booth-soak",
                route=proxy.rewrite,
                reconnect_cutoff=10.0,
            )
            watch = _Watch()
            session.subscribe(watch)
            await session.connect()
            await watch.until("Ready", 10.0)
            proxy.reset()
            await watch.until("Reconnected", 15.0)
            resumes += 1
            await session.end()
            if number + 1 == warm_up:
                gc.collect()
                rss_start = status_kb("VmRSS") / 1024
                line_start = line_cost_us()
            if number + 1 == calls // 2:  # the scrub list is full by now (4 secrets a call)
                line_half = line_cost_us()
    gc.collect()
    return {
        "calls": calls,
        "resumes": resumes,
        "rss_growth_mb": round(status_kb("VmRSS") / 1024 - rss_start, 2),
        "line_us_start": round(line_start, 2),
        "line_us_half": round(line_half, 2),
        "line_us_end": round(line_cost_us(), 2),
        "secrets_held": len(registered_secrets()),
    }


async def run_in_child(spec: dict[str, Any], within: float = 600.0) -> dict[str, Any]:
    """Run the probe with ``spec`` in a child interpreter (spec on stdin: it holds the key)."""
    return await run_child("booth.sim.probe", spec, within)


def main() -> int:
    spec = json.loads(sys.stdin.read())
    result = asyncio.run(soak(spec) if "soak" in spec else probe(spec))
    sys.stdout.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
