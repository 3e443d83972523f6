"""`booth bench reliability`: the reliability suite at full length, as figures.

Runs tests/reliability (a source checkout's) with every scenario (black-holes of 1–29 s, 31 and
60 s past the cutoff, a 300-call soak) and prints, per scenario, runs, passes and the worst
figure each recorded (time for audio to flow again, cutoff error, RSS and fd growth…), then the
hostile-service suite's totals: scenarios, survived, the peak RSS growth of the worst and the
longest time to a typed error. ``BOOTH_BENCH_RELIABILITY_K`` (a pytest ``-k`` expression) runs a
part, e.g. ``hostile or resume_soak``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from booth.errors import EX_UNAVAILABLE

SUITE = Path(__file__).resolve().parents[2] / "tests" / "reliability"
HOSTILE = "test_hostile_"  # test_hostile_service (the Python API), test_hostile_daemon


def hostile_summary(scenarios: dict[str, Any]) -> dict[str, Any]:
    """The hostile suite in four numbers."""
    hostile = [e for e in scenarios.values() if str(e.get("suite", "")).startswith(HOSTILE)]
    worst = [e.get("worst", {}) for e in hostile]
    return {
        "scenarios": sum(e["runs"] for e in hostile),
        "survived": sum(e["passes"] for e in hostile),
        "peak_rss_growth_mb": max((w.get("peak_rss_growth_mb", 0.0) for w in worst), default=0.0),
        "longest_time_to_typed_error_s": max(
            (w.get("time_to_typed_error_s", 0.0) for w in worst), default=0.0
        ),
    }


def measure(select: str | None = None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="booth-reliability-") as tmp:
        figures = Path(tmp) / "figures.json"
        env = dict(os.environ, BOOTH_RELIABILITY_FULL="1", BOOTH_RELIABILITY_FIGURES=str(figures))
        proc = subprocess.run(  # noqa: S603 (our own interpreter, our own suite)
            [
                sys.executable,
                "-m",
                "pytest",
                "-q",
                "-p",
                "no:cacheprovider",
                "--basetemp",
                str(Path(tmp) / "t"),
                str(SUITE),
                *(["-k", select] if select else []),
            ],
            cwd=SUITE.parents[1],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        scenarios = json.loads(figures.read_text()) if figures.exists() else {}
    tail = proc.stdout.strip().splitlines()[-1:] or [""]
    return {
        "scenarios": scenarios,
        "hostile": hostile_summary(scenarios),
        "pytest": tail[0],
        "exit_code": proc.returncode,
    }


def render_table(result: dict[str, Any]) -> str:
    lines = [f"{'scenario':<62} {'runs':>4} {'pass':>4}  worst"]
    for name, entry in sorted(result["scenarios"].items()):
        worst = ", ".join(f"{k} {v:g}" for k, v in sorted(entry.get("worst", {}).items()))
        lines.append(f"{name:<62} {entry['runs']:>4} {entry['passes']:>4}  {worst}")
    hostile = result.get("hostile") or {}
    if hostile.get("scenarios"):
        rss = hostile["peak_rss_growth_mb"]
        longest = hostile["longest_time_to_typed_error_s"]
        lines += [
            "",
            "hostile service: scenarios  survived  peak RSS growth  longest time to typed error",
            f"{hostile['scenarios']:>26} {hostile['survived']:>9} {rss:>13.1f} MB"
            f" {longest:>26.2f} s",
        ]
    lines.append(f"pytest: {result['pytest']}")
    return "\n".join(lines)


def run(*, as_json: bool) -> int:
    if not SUITE.is_dir():
        print(
            "booth bench reliability: needs a source checkout (tests/reliability)", file=sys.stderr
        )
        return EX_UNAVAILABLE
    result = measure(os.environ.get("BOOTH_BENCH_RELIABILITY_K") or None)
    print(json.dumps(result, indent=2) if as_json else render_table(result))
    return 0 if result["exit_code"] == 0 else 1
