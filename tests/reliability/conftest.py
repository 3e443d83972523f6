"""The reliability suite's figures: each scenario records its runs, passes and worst values.

`booth bench reliability` runs this suite with BOOTH_RELIABILITY_FULL=1 (the long scenarios and
the 300-call soak) and BOOTH_RELIABILITY_FIGURES=<file>, and prints what was recorded.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Generator
from pathlib import Path
from typing import Any

import pytest

FULL = os.environ.get("BOOTH_RELIABILITY_FULL") == "1"
FIGURES: dict[str, dict[str, Any]] = {}

Record = Callable[[str, float], None]


def scenario_name(item: pytest.Item) -> str:
    return item.name.removeprefix("test_")


@pytest.fixture
def figure(request: pytest.FixtureRequest) -> Record:
    """``figure("resume_s", 0.4)``: keep the worst (largest) value per scenario and key."""
    entry = FIGURES.setdefault(scenario_name(request.node), {"runs": 0, "passes": 0})

    def record(key: str, value: float) -> None:
        worst = entry.setdefault("worst", {})
        worst[key] = round(max(value, worst.get(key, value)), 3)

    return record


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.when == "call":
        entry = FIGURES.setdefault(scenario_name(item), {"runs": 0, "passes": 0})
        entry["suite"] = item.path.stem
        entry["runs"] += 1
        entry["passes"] += int(report.passed)
    return report


def pytest_sessionfinish(session: pytest.Session) -> None:
    target = os.environ.get("BOOTH_RELIABILITY_FIGURES")
    if target:
        Path(target).write_text(json.dumps(FIGURES, indent=2, sort_keys=True))
