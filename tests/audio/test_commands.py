"""`booth devices` against the test ALSA devices, and `booth bench audio`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from booth.bench import audio as bench_audio
from booth.cli import main
from tests.support.alsa import alsa_file_devices


def test_devices_lists_inputs_outputs_and_rates(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with alsa_file_devices(tmp_path, np.zeros(10, np.int16)):
        assert main(["devices", "--json"]) == 0
        rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
        assert main(["devices"]) == 0
        table = capsys.readouterr().out
    assert rows["boothmic"]["input"]["channels"] > 0
    assert "output" not in rows["boothmic"]
    assert 48000 in rows["boothmic"]["input"]["rates"]
    assert 16000 in rows["boothspk"]["output"]["rates"]
    assert "input devices:" in table and "boothmic" in table


def test_bench_audio_report_has_the_figures() -> None:
    result = bench_audio.measure(repeats=2)
    for key in (
        "alias_rejection_db",
        "passband_ripple_db",
        "snr_vs_soxr_db",
        "framer_us_per_frame",
        "soxr_us_per_frame",
        "naive_alias_rejection_db",
    ):
        assert isinstance(result[key], float), key
    assert result["chunking_invariant"] is True
    assert result["matches_int64_reference"] is True
    assert result["naive_alias_rejection_db"] < 3
    for rate in ("48000", "44100"):
        entry = result["inputs"][rate]
        # Each figure stands beside soxr HQ's from the same run.
        for key in ("alias_rejection_db", "passband_ripple_db", "us_per_block"):
            assert set(entry["figures"][key]) == {"framer", "soxr_hq"}, (rate, key)
        assert entry["time_ratio"]["min"] > 0
        # Quality is deterministic, so it is checked here; speed is only reported.
        framer = entry["methods"]["framer"]
        assert framer["alias_rejection_db"] >= 80, rate
        assert framer["passband_ripple_db"] <= 0.1, rate
        assert framer["snr_vs_soxr_vhq_db"] >= 60, rate
    assert len(result["stage_us_per_20ms"]) == 4  # the Pi projection's per-frame costs
    assert all(us > 0 for us in result["stage_us_per_20ms"].values())
    table = bench_audio.render_table(result)
    assert "44100 Hz -> 16000 Hz" in table and "soxr HQ" in table
