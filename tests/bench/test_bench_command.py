"""`booth bench`'s dispatcher: missing targets are skipped, targets' JSON is collected."""

from __future__ import annotations

import argparse
import json
import types
from pathlib import Path

import pytest

from booth.commands import bench
from booth.errors import EX_UNAVAILABLE


def test_a_missing_target_module_is_none_not_an_error() -> None:
    assert bench._load("no_such_target") is None
    assert bench._load("pipeline") is not None


@pytest.mark.parametrize("indent", [None, 2])
def test_collect_reads_a_targets_json_however_it_is_printed(indent: int | None) -> None:
    def run(*, as_json: bool) -> int:
        print("some chatter" if indent is None else "", end="\n" if indent is None else "")
        print(json.dumps({"as_json": as_json, "x": [1, 2]}, indent=indent))
        return 0

    module = types.SimpleNamespace(run=run)
    assert bench._collect(module) == {"as_json": True, "x": [1, 2]}


def test_plot_without_matplotlib_fails_fast_with_a_clear_message(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from booth.bench import plots

    def unavailable() -> None:
        raise plots.PlotsUnavailable("--plot needs matplotlib: pip install 'booth[plot]'")

    monkeypatch.setattr(plots, "check_available", unavailable)
    args = argparse.Namespace(what="pipeline", json=False, plot=tmp_path)
    assert bench.run(args) == EX_UNAVAILABLE
    assert "matplotlib" in capsys.readouterr().err
