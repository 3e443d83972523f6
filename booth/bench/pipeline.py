"""`booth bench pipeline`: latency, underruns, CPU and memory of the whole booth, end to end.

The voice service (the devserver) and a jitter proxy (±20 ms on the service-to-booth
direction) run in a child process of their own (booth.bench.pipeline_service); the booth runs
in another (booth.bench.pipeline_booth) with the real daemon, real PyAudio adapters on ALSA
devices paced in real time, and MockFactory pins pressed like a finger. So the booth child's
CPU and RSS are the booth's own, and a stall of the service's event loop is not the booth's.

- ``mic_to_wire_ms``: a sample captured → its 20 ms frame handed to the WebSocket (the frame's
  own 20 ms of filling is included: the first sample waits for the frame to fill).
- ``wire_to_speaker_ms``: a persona chunk off the socket → its first sample handed to the
  output device (includes the jitter buffer's prebuffer, audio.prebuffer_ms, 80 ms by default).
- ``underruns``: playback underruns per call, with the jitter injected throughout.
- ``press_to_mic_open_ms``: talk button pressed (pin edge) → the mic unmuted.
- ``press_to_first_audio_ms``: idle button pressed → the persona's first sample handed to the
  output device (REST session, WebSocket, greeting).
- ``cpu_pct`` / ``rss_mb``: the booth process during the first call (``cpu_s`` long), ALSA
  pacer threads taken out. That call runs without the latency probes (the I/O floor has none
  either); the latency figures come from the calls after it.
- ``start_to_ready_s``: a real ``booth run`` process with a NOTIFY_SOCKET, exec to ``READY=1``.
- ``booth_run_ready_memory_mb`` / ``booth_run_after_call_memory_mb``: that daemon's RSS, PSS
  and USS at ``READY=1``, and idle again after a call made through its control socket; the
  idle target (``idle_rss_mb``) is judged on these, not on the bench's booth process, which
  also holds the bench's own modules.

p50/p99 are per call; the table shows their median over calls and the spread (min–max).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import os
import statistics
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import numpy as np

from booth.bench import BENCH_ENV, quiet_booth_logs
from booth.bench.pipeline_floor import DEVICE_RATE
from booth.bench.procstat import memory_mb
from booth.daemon import control
from booth.interpreter import module_command
from booth.sim.child import run_child, serving_child
from booth.sim.supervised import booth_process

KEY = "ath_live_bench_pipeline_key_00000001"
DRILL = "cold-call-skeptic"
log = logging.getLogger(__name__)

CALL_S = 20.0  # each call after the first (`--calls N`: every call)
TARGETS: dict[str, tuple[str, float]] = {
    "mic_to_wire_p99_ms": ("<=", 45.0),  # 25 ms beyond the 20 ms frame
    "wire_to_speaker_p50_ms": ("<=", 80.0),
    "wire_to_speaker_p99_ms": ("<=", 120.0),
    "underruns": ("<=", 0),
    "cpu_pct": ("<=", 3.0),
    "cpu_vs_floor": ("<=", 1.3),
    "rss_mb": ("<=", 60.0),
    "idle_rss_mb": ("<=", 45.0),
    "start_to_ready_s": ("<=", 1.5),
    "press_to_mic_open_ms": ("<=", 30.0),
}


def spread(values: list[float | None] | list[float]) -> dict[str, Any]:
    """Median and spread of repeated measurements (None when there are none)."""
    vals = [v for v in values if v is not None]
    if not vals:
        return {"median": None, "min": None, "max": None, "n": 0}
    return {
        "median": statistics.median(vals),
        "min": min(vals),
        "max": max(vals),
        "n": len(vals),
    }


def percentiles_ms(samples: list[float]) -> dict[str, float | None]:
    if not samples:
        return {"p50": None, "p99": None}
    arr = np.asarray(samples) * 1000
    return {"p50": float(np.percentile(arr, 50)), "p99": float(np.percentile(arr, 99))}


async def start_to_ready(
    api_url: str, workdir: Path, repeats: int
) -> tuple[list[float], list[dict[str, float]], dict[str, Any]]:
    """A real `booth run` process each time: exec → READY=1 on its NOTIFY_SOCKET, and its
    RSS/PSS/USS then (the daemon alone, idle, none of the bench's modules loaded). The last
    one then takes a call through its control socket, and its RSS/PSS/USS once it is idle
    again is the third value: what a booth holds between calls."""
    key_file = workdir / "api_key"
    key_file.write_text(KEY + "\n")
    key_file.chmod(0o600)
    config = workdir / "booth.toml"
    # The paced devices run at DEVICE_RATE: the daemon must open them at it.
    config.write_text(
        f'[booth]\nid = "bench-ready"\n'
        f'[service]\napi_url = "{api_url}"\ndrill_key = "{DRILL}"\n'
        f'api_key_file = "{key_file}"\n'
        f'[audio]\ninput_device = "boothmic"\noutput_device = "boothspk"\n'
        f"input_rate = {DEVICE_RATE}\noutput_rate = {DEVICE_RATE}\n"
        f"[call]\nscore_display = 1.0\n"
        f'[panel]\npin_factory = "mock"\n[logging]\ntarget = "stderr"\nlevel = "warning"\n'
    )
    times: list[float] = []
    memory: list[dict[str, float]] = []
    after_call: dict[str, Any] = {}
    async with fifo_devices(workdir / "devices") as devices_env:
        for i in range(repeats):
            control_socket = workdir / f"control-{i}.sock"
            env = {**devices_env, "BOOTH_CONTROL_SOCKET": str(control_socket)}
            started = time.monotonic()
            async with booth_process(config, workdir / f"notify-{i}", env=env) as booth:
                await booth.wait_for("READY=1")
                times.append(time.monotonic() - started)
                memory.append(memory_mb(booth.pid))
                if i == repeats - 1:
                    try:
                        await _one_call_by_control(control_socket)
                    except (TimeoutError, RuntimeError, OSError, control.ControlError) as exc:
                        # The rest of the run still stands; the figure is reported missing.
                        log.warning("no idle figure after a call: %s", exc)
                        after_call = {"error": str(exc)}
                    else:
                        after_call = memory_mb(booth.pid)
    return times, memory, after_call


@contextlib.asynccontextmanager
async def fifo_devices(directory: Path) -> AsyncIterator[dict[str, str]]:
    """The paced mic and speaker for another process (``booth.sim.fifo_devices``: FIFOs, since
    the in-process devices' pipe descriptors do not pass to a child), in a process of their
    own; yields the environment that points alsa-lib at them."""
    from booth.sim.alsa_devices import alsa_env

    asoundrc = directory / "asoundrc"
    proc = await asyncio.create_subprocess_exec(
        *module_command("booth.sim.fifo_devices", "--dir", str(directory),
                        "--asoundrc", str(asoundrc), "--rate", str(DEVICE_RATE)),
        stdout=asyncio.subprocess.PIPE, env={**os.environ, **BENCH_ENV},
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        async with asyncio.timeout(30):
            await proc.stdout.readline()  # the devices are declared and paced
        yield alsa_env(asoundrc)
    finally:
        if proc.returncode is None:
            proc.terminate()
        await proc.wait()


async def _one_call_by_control(socket_path: Path, talk_s: float = 3.0) -> None:
    """A call as a rep would make one, through the daemon's control socket: start it, talk
    for ``talk_s`` (the mic's looped speech), let the persona answer, end it, and return
    once the booth is idle again with the call's summary written."""

    async def command(name: control.Command) -> control.Status:
        response = await asyncio.to_thread(control.request, name, socket_path, timeout=5.0)
        if not response.ok or response.status is None:
            raise RuntimeError(f"control {name}: {response.error}")
        return response.status

    async def state(*wanted: str, within: float = 30.0) -> control.Status:
        deadline = time.monotonic() + within
        while True:
            status = await command("status")
            if status.state in wanted:
                return status
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"the booth did not reach {wanted} within {within:g} s: it is "
                    f"{status.state} ({status.status})"
                )
            await asyncio.sleep(0.1)  # a bench polling a daemon: no event to wait on

    await command("test_call")
    await state("listening")
    await asyncio.sleep(2.0)  # the greeting
    await command("press")
    await asyncio.sleep(talk_s)
    await command("release")
    await asyncio.sleep(2.0)  # the persona's answer
    await command("end_call")
    status = await state("idle", within=60.0)
    summary = status.last_summary or {}
    if summary.get("END_REASON") != "double_press":  # not an error (no mic, speaker lost…)
        raise RuntimeError(f"the call did not end as the rep ended it: {summary}")


async def measure(
    *,
    call_s: float = CALL_S,
    calls: int = 4,
    cpu_s: float = 60.0,
    ready_repeats: int = 5,
    jitter_ms: float = 20.0,
    prebuffer_ms: int | None = None,
    profile: Path | None = None,
) -> dict[str, Any]:
    with quiet_booth_logs():
        return await _measure(
            call_s=call_s,
            calls=calls,
            cpu_s=cpu_s,
            ready_repeats=ready_repeats,
            jitter_ms=jitter_ms,
            prebuffer_ms=prebuffer_ms,
            profile=profile,
        )


async def _measure(
    *,
    call_s: float,
    calls: int,
    cpu_s: float,
    ready_repeats: int,
    jitter_ms: float,
    prebuffer_ms: int | None,
    profile: Path | None,
) -> dict[str, Any]:
    limit = cpu_s + (calls - 1) * call_s + 60.0 * calls + 60
    service_plan = {"api_key": KEY, "jitter_ms": jitter_ms}
    async with serving_child(
        "booth.bench.pipeline_service", service_plan, limit_s=limit + cpu_s + 120
    ) as service:
        api_url = service.ready["api_url"]
        plan = {
            "api_url": api_url,
            "api_key": KEY,
            "drill": DRILL,
            "proxy_port": service.ready["proxy_port"],
            "call_s": call_s,
            "calls": calls,
            "cpu_s": cpu_s,
            "prebuffer_ms": prebuffer_ms,  # None: the booth's default
            "profile": str(profile) if profile is not None else None,
        }
        # Both children load numpy for the bench's probes: OpenBLAS single-threaded.
        raw = await run_child("booth.bench.pipeline_booth", plan, limit_s=limit, env=BENCH_ENV)
        # The I/O floor: the same call done plainly, same service, proxy and devices.
        floor = await run_child(
            "booth.bench.pipeline_floor", plan, limit_s=cpu_s + 60, env=BENCH_ENV
        )
        with tempfile.TemporaryDirectory(prefix="booth-bench-ready-") as tmp:
            ready, ready_memory, after_call = await start_to_ready(
                api_url, Path(tmp), ready_repeats
            )
    _note_proxy_gaps(raw.get("underrun_log", []), service.result["released"])
    per_call = raw["calls"]
    resources, timed = per_call[0], per_call[1:]  # the CPU call runs without latency probes
    m2w = [percentiles_ms(c["mic_to_wire_s"]) for c in timed]
    w2s = [percentiles_ms(c["wire_to_speaker_s"]) for c in timed]
    mic_open = [1000 * v for c in timed for v in c["press_to_mic_open_s"]]
    first = [c["press_to_first_audio_s"] for c in timed]
    all_m2w = [1000 * v for c in timed for v in c["mic_to_wire_s"]]
    all_w2s = [1000 * v for c in timed for v in c["wire_to_speaker_s"]]
    result: dict[str, Any] = {
        "mic_to_wire_ms": {
            "p50": spread([p["p50"] for p in m2w]),
            "p99": spread([p["p99"] for p in m2w]),
            "frames": len(all_m2w),
        },
        "wire_to_speaker_ms": {
            "p50": spread([p["p50"] for p in w2s]),
            "p99": spread([p["p99"] for p in w2s]),
            "chunks": len(all_w2s),
        },
        "underruns": spread([c["underruns"] for c in per_call]),
        # Near-silence the jitter buffer dropped to bring a late start's latency down.
        "drained_ms": spread([c["drained_ms"] for c in per_call]),
        "press_to_mic_open_ms": {
            **spread(mic_open),
            "p99": float(np.percentile(mic_open, 99)) if mic_open else None,
        },
        "press_to_first_audio_ms": spread([1000 * v for v in first if v is not None]),
        "cpu_pct": resources.get("cpu_pct"),
        "pacer_cpu_pct": resources.get("pacer_cpu_pct"),
        "cpu_by_role_pct": _roles(resources),
        "wakeups_per_s_by_role": _roles(resources, "_wakeups_per_s"),
        "floor": {
            "cpu_pct": floor.get("cpu_pct"),
            "cpu_by_role_pct": _roles(floor),
            "wakeups_per_s_by_role": _roles(floor, "_wakeups_per_s"),
            "rss_mb": floor.get("rss_mb_max"),
            "seconds": floor.get("seconds"),
        },
        "cpu_vs_floor": _ratio(resources.get("cpu_pct"), floor.get("cpu_pct")),
        "cpu_vs_floor_by_role": {
            role: _ratio(pct, _roles(floor).get(role)) for role, pct in _roles(resources).items()
        },
        "profile": raw.get("profile") or None,
        "rss_mb": resources.get("rss_mb_max"),
        "rss_mb_median": resources.get("rss_mb_median"),
        "idle_rss_mb": raw.get("idle_rss_mb"),
        # RSS / PSS / USS at ready and once idle again after the last call (steady state).
        "idle_memory_mb": raw.get("idle_memory_mb"),
        "idle_after_calls_memory_mb": raw.get("idle_after_calls_memory_mb"),
        # A real `booth run` at READY=1 (median over the repeats): the daemon without the bench.
        "booth_run_ready_memory_mb": {
            k: float(np.median([m[k] for m in ready_memory])) for k in ("rss", "pss", "uss")
        },
        # The same daemon idle again after a call through its control socket.
        "booth_run_after_call_memory_mb": after_call,
        "resource_call_s": resources.get("seconds"),
        "start_to_ready_s": spread(ready),
        "settings": {
            "calls": calls,
            "call_s": call_s,
            "cpu_s": cpu_s,
            "ready_repeats": ready_repeats,
            "jitter": f"service→booth delayed {jitter_ms:g} ± {jitter_ms:g} ms (uniform, in order)",
            "devices": f"ALSA file PCMs paced in real time, {raw.get('device_rate')} Hz",
            "prebuffer_ms": raw.get("prebuffer_ms"),
        },
        "samples": {
            "mic_to_wire_ms": all_m2w,
            "wire_to_speaker_ms": all_w2s,
            # When each wire-to-speaker sample's chunk came off the socket (time.monotonic),
            # to place the tail beside underrun_log's times.
            "wire_to_speaker_at": [t for c in per_call for t in c["wire_at"]],
        },
        "underrun_log": raw.get("underrun_log", []),
        "targets": {k: list(v) for k, v in TARGETS.items()},
    }
    result["meets_targets"] = _meets_all(result)
    return result


def _note_proxy_gaps(underruns: list[dict[str, Any]], released: list[float]) -> None:
    """Add to each underrun the longest the proxy went without handing the booth anything in
    the 300 ms before it (same monotonic clock): near ``since_received_ms``, the gap came from
    the service side of this machine; near zero, from the booth's side of the socket."""
    for entry in underruns:
        at = entry["at"]
        times = [t for t in released if at - 0.3 <= t <= at]
        before = [t for t in released if t < at - 0.3]
        edges = ([before[-1]] if before else []) + times + [at]
        gaps = [b - a for a, b in itertools.pairwise(edges)]
        entry["proxy_gap_ms"] = 1000 * max(gaps, default=0.0)


def _roles(figures: dict[str, Any], suffix: str = "_pct") -> dict[str, float]:
    """A figure per thread role (loop, capture, playback, other) from a child's figures: CPU %
    by default, or the one named by ``suffix`` (``_wakeups_per_s``)."""
    return {
        key[: -len(suffix)]: value
        for key, value in figures.items()
        if key.endswith(suffix)
        and key not in ("cpu_pct", "pacer_cpu_pct")
        and isinstance(value, int | float)
    }


def _ratio(ours: float | None, floor: float | None) -> float | None:
    return ours / floor if ours is not None and floor else None


def headline(result: dict[str, Any]) -> dict[str, float | None]:
    """The single figure each target is judged on (worst case where there is spread)."""
    return {
        "mic_to_wire_p99_ms": result["mic_to_wire_ms"]["p99"]["max"],
        "wire_to_speaker_p50_ms": result["wire_to_speaker_ms"]["p50"]["max"],
        "wire_to_speaker_p99_ms": result["wire_to_speaker_ms"]["p99"]["max"],
        "underruns": result["underruns"]["max"],
        "cpu_pct": result["cpu_pct"],
        "cpu_vs_floor": result["cpu_vs_floor"],
        "rss_mb": result["rss_mb"],
        "idle_rss_mb": _idle_rss(result),
        "start_to_ready_s": result["start_to_ready_s"]["median"],
        "press_to_mic_open_ms": result["press_to_mic_open_ms"]["max"],
    }


def _idle_rss(result: dict[str, Any]) -> float | None:
    """Idle RSS of a real `booth run`, the worse of at READY=1 and after a call (the steady
    state). The bench's booth process is not judged on it: it also holds the bench's modules
    and probes (numpy among them), which a booth never loads."""
    ready = result.get("booth_run_ready_memory_mb") or {}
    after = result.get("booth_run_after_call_memory_mb") or {}
    if ready.get("rss") is None or after.get("rss") is None:
        return None  # not judged on half the figure
    return float(max(ready["rss"], after["rss"]))


def _meets_all(result: dict[str, Any]) -> dict[str, bool | None]:
    out: dict[str, bool | None] = {}
    for name, value in headline(result).items():
        op, target = TARGETS[name]
        out[name] = None if value is None else (value <= target if op == "<=" else value >= target)
    return out


def _fmt(stats: dict[str, Any], digits: int = 1) -> str:
    if stats.get("median") is None:
        return "–"
    med, lo, hi = stats["median"], stats["min"], stats["max"]
    if stats.get("n", 0) <= 1 or lo == hi:
        return f"{med:.{digits}f}"
    return f"{med:.{digits}f} ({lo:.{digits}f}–{hi:.{digits}f})"


def table_rows(result: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(measure, value, target, verdict) rows, shared by the text table and the README."""
    meets = result["meets_targets"]

    def verdict(name: str) -> str:
        ok = meets.get(name)
        return "–" if ok is None else ("yes" if ok else "NO")

    def num(v: float | None, digits: int = 1) -> str:
        return "–" if v is None else f"{v:.{digits}f}"

    return [
        ("mic-to-wire p50 (ms)", _fmt(result["mic_to_wire_ms"]["p50"]), "", ""),
        (
            "mic-to-wire p99 (ms)",
            _fmt(result["mic_to_wire_ms"]["p99"]),
            "≤ 45 (20 + 25)",
            verdict("mic_to_wire_p99_ms"),
        ),
        (
            "wire-to-speaker p50 (ms)",
            _fmt(result["wire_to_speaker_ms"]["p50"]),
            "≤ 80",
            verdict("wire_to_speaker_p50_ms"),
        ),
        (
            "wire-to-speaker p99 (ms)",
            _fmt(result["wire_to_speaker_ms"]["p99"]),
            "≤ 120",
            verdict("wire_to_speaker_p99_ms"),
        ),
        (
            "underruns per call, ±20 ms jitter",
            _fmt(result["underruns"], 0),
            "0",
            verdict("underruns"),
        ),
        (
            "press → mic open (ms)",
            _fmt(result["press_to_mic_open_ms"], 2),
            "≤ 30",
            verdict("press_to_mic_open_ms"),
        ),
        ("press → first persona audio (ms)", _fmt(result["press_to_first_audio_ms"], 0), "", ""),
        (
            f"CPU, % of one core ({num(result['resource_call_s'], 0)} s call)",
            num(result["cpu_pct"], 2),
            "≤ 3",
            verdict("cpu_pct"),
        ),
        (
            f"CPU / I/O floor's ({num(result['floor']['cpu_pct'], 2)} %)",
            num(result["cpu_vs_floor"], 2),
            "≤ 1.3",
            verdict("cpu_vs_floor"),
        ),
        *(
            (
                f"  {role}: booth % / floor % (ratio)",
                f"{pct:.2f} / {num(result['floor']['cpu_by_role_pct'].get(role), 2)}"
                f" ({num(result['cpu_vs_floor_by_role'].get(role), 2)})",
                "",
                "",
            )
            for role, pct in result["cpu_by_role_pct"].items()
        ),
        *(
            (
                f"  {role}: wake-ups a second, booth / floor",
                f"{count:.0f} / {num(result['floor']['wakeups_per_s_by_role'].get(role), 0)}",
                "",
                "",
            )
            for role, count in result["wakeups_per_s_by_role"].items()
        ),
        (
            "RSS during the call, max (MB)",
            f"{num(result['rss_mb'])} (floor {num(result['floor']['rss_mb'])})",
            "≤ 60",
            verdict("rss_mb"),
        ),
        (
            "`booth run` idle RSS: at READY=1 / after a call (MB)",
            f"{num((result.get('booth_run_ready_memory_mb') or {}).get('rss'))} / "
            f"{num((result.get('booth_run_after_call_memory_mb') or {}).get('rss'))}",
            "≤ 45",
            verdict("idle_rss_mb"),
        ),
        (
            "`booth run` after a call: RSS / PSS / USS (MB)",
            " / ".join(
                num((result.get("booth_run_after_call_memory_mb") or {}).get(k))
                for k in ("rss", "pss", "uss")
            ),
            "",
            "",
        ),
        (
            "bench's booth process idle RSS: at ready / after the calls (MB)",
            f"{num(result.get('idle_rss_mb'))} / "
            f"{num((result.get('idle_after_calls_memory_mb') or {}).get('rss'))}",
            "",
            "",
        ),
        (
            "process start → READY=1 (s)",
            _fmt(result["start_to_ready_s"], 2),
            "≤ 1.5",
            verdict("start_to_ready_s"),
        ),
    ]


def render_table(result: dict[str, Any]) -> str:
    rows = [("measure", "median (min–max)", "target", "met"), *table_rows(result)]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = ["booth bench pipeline"]
    for row in rows:
        lines.append("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)))
    s = result["settings"]
    lines.append(
        f"{s['calls']} calls ({s['cpu_s']:g} s, then {s['call_s']:g} s each), {s['jitter']}; "
        f"{s['devices']}; pacer threads' CPU {result['pacer_cpu_pct'] or 0:.2f} % taken out"
    )
    return "\n".join(lines)


def run(
    *,
    as_json: bool,
    call_s: float = CALL_S,
    calls: int = 4,
    cpu_s: float = 60.0,
    ready_repeats: int = 5,
    profile: Path | None = None,
) -> int:
    result = asyncio.run(
        measure(
            call_s=call_s, calls=calls, cpu_s=cpu_s, ready_repeats=ready_repeats, profile=profile
        )
    )
    if as_json:
        print(json.dumps(result))
    else:
        print(render_table(result))
        if result.get("profile"):
            print(render_profile(result["profile"], profile))
    return 0


def render_profile(profile: dict[str, list[dict[str, Any]]], out_dir: Path | None) -> str:
    lines = [f"profile of the booth during the measured call (full profiles in {out_dir}):"]
    for role, rows in profile.items():
        lines.append(f"  {role}: own s, cumulative s, calls, function")
        for row in rows[:10]:
            lines.append(
                f"    {row['own_s']:8.3f} {row['cumulative_s']:8.3f} {row['calls']:8d}  "
                f"{row['function']}"
            )
    return "\n".join(lines)
