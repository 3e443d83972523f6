"""`booth bench pipeline` runs end to end (short calls) and reports every figure it promises.

No timing assertions: the figures are measured by the bench, not judged by tests."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from booth.bench import pipeline
from booth.bench.plots import PlotsUnavailable, check_available, plot_latency

KEYS = (
    "mic_to_wire_ms",
    "wire_to_speaker_ms",
    "underruns",
    "press_to_mic_open_ms",
    "press_to_first_audio_ms",
    "cpu_pct",
    "cpu_by_role_pct",
    "wakeups_per_s_by_role",
    "floor",
    "cpu_vs_floor",
    "cpu_vs_floor_by_role",
    "rss_mb",
    "idle_rss_mb",
    "idle_after_calls_memory_mb",
    "booth_run_ready_memory_mb",
    "booth_run_after_call_memory_mb",
    "start_to_ready_s",
    "meets_targets",
)


@pytest.mark.slow
def test_pipeline_bench_runs_end_to_end_and_prints_its_keys(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    level = logging.getLogger("booth").level
    code = pipeline.run(
        as_json=True, call_s=1.0, calls=3, cpu_s=1.0, ready_repeats=1, profile=tmp_path / "prof"
    )
    assert code == 0
    assert logging.getLogger("booth").level == level  # quieted for the run only
    result = json.loads(capsys.readouterr().out)
    for key in KEYS:
        assert key in result, key
    # Frames really went mic -> wire and persona audio really reached the speaker device.
    assert result["mic_to_wire_ms"]["frames"] > 0
    assert result["wire_to_speaker_ms"]["chunks"] > 0
    assert result["press_to_mic_open_ms"]["n"] >= 2
    assert result["start_to_ready_s"]["n"] == 1
    assert result["rss_mb"] > 0
    # Idle memory at ready and after the calls: RSS counts shared pages whole, PSS splits them.
    # The same for a real `booth run` at READY=1 and after a call through its control socket;
    # the idle target is judged on that daemon.
    idles = (
        "idle_memory_mb",
        "idle_after_calls_memory_mb",
        "booth_run_ready_memory_mb",
        "booth_run_after_call_memory_mb",
    )
    for idle in (result[key] for key in idles):
        assert 0 < idle["uss"] <= idle["pss"] <= idle["rss"]
    daemon = (result["booth_run_ready_memory_mb"], result["booth_run_after_call_memory_mb"])
    assert result["meets_targets"]["idle_rss_mb"] is (max(m["rss"] for m in daemon) <= 45.0)
    # The I/O floor ran the same call in the same run: its CPU is there to divide by.
    assert result["floor"]["cpu_pct"] > 0 and result["cpu_vs_floor"] > 0
    assert {"loop", "capture", "playback"} <= set(result["cpu_by_role_pct"])
    # How often each thread slept and was woken, beside the floor's.
    assert result["wakeups_per_s_by_role"]["loop"] > 0
    assert result["floor"]["wakeups_per_s_by_role"]["loop"] > 0
    # --profile: one cProfile per thread role, and the top functions in the result.
    assert {p.name for p in (tmp_path / "prof").iterdir()} == {
        "loop.prof",
        "capture.prof",
        "playback.prof",
    }
    assert any("(_frame)" in row["function"] for row in result["profile"]["capture"])
    table = pipeline.render_table(result)
    assert "mic-to-wire p99" in table and "READY=1" in table
    try:
        check_available()
    except PlotsUnavailable:
        return
    png = plot_latency(result, tmp_path)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
