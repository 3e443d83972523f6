"""`booth bench`'s dispatcher: missing targets are skipped, targets' JSON is collected."""

from __future__ import annotations

import argparse
import json
import types
from pathlib import Path

import pytest

from booth.commands import bench
from booth.errors import EX_UNAVAILABLE, EX_USAGE


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


def test_calls_goes_to_the_pipeline_and_makes_every_call_equally_long(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from booth.bench import pipeline

    seen: list[dict[str, object]] = []

    async def measure(**kwargs: object) -> dict[str, object]:
        seen.append(kwargs)
        return {"fake": True}

    monkeypatch.setattr(pipeline, "measure", measure)
    for calls in (None, 10):
        args = argparse.Namespace(what="pipeline", json=True, plot=None, calls=calls)
        assert bench.run(args) == 0
    default, ten = seen
    assert (default["calls"], default["cpu_s"], default["call_s"]) == (4, 60.0, 20.0)
    assert (ten["calls"], ten["cpu_s"], ten["call_s"]) == (10, 20.0, 20.0)
    assert json.loads(capsys.readouterr().out.splitlines()[-1]) == {"fake": True}


@pytest.mark.parametrize(("what", "calls"), [("audio", 10), ("pipeline", 1)])
def test_calls_is_for_the_pipeline_and_at_least_two(
    what: str, calls: int, capsys: pytest.CaptureFixture[str]
) -> None:
    args = argparse.Namespace(what=what, json=True, plot=None, calls=calls)
    assert bench.run(args) == EX_USAGE
    assert "--calls" in capsys.readouterr().err
