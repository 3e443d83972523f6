"""`booth bench memory`: what `booth run` loads, measured in a fresh interpreter."""

from __future__ import annotations

from booth.bench import memory


def test_the_daemon_loads_nothing_it_must_not_and_every_step_is_measured() -> None:
    result = memory.measure()
    # The devserver, JWT, aiohttp, plotting, the benches, scipy stay out of `booth run`,
    # even after a call's lazy imports.
    assert result["forbidden"] == []
    assert [s["step"] for s in result["steps"]] == ["python", *(label for label, _ in memory.STEPS)]
    assert result["steps"][-1]["rss_mb"] > result["steps"][0]["rss_mb"] > 0
    # Ready and idle (the daemon's imports and the device probe's child): no WebSocket stack,
    # no httpx, no session yet. The first call loads them.
    by_step = {s["step"]: s["lazy_loaded"] for s in result["steps"]}
    assert by_step["booth daemon (the rest)"] == by_step[memory.READY_STEP] == []
    assert result["steps"][-1]["lazy_loaded"] == list(memory.LAZY)
    assert set(result["portaudio_scan_mb"]) == {"system", "booth"}
    assert any(row["module"] == "booth.daemon.service" for row in result["importtime"])
    assert "booth bench memory" in memory.render_table(result)
