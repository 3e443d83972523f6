"""`booth demo`'s engine: the whole scripted call runs, is scored, and leaves two WAV files."""

from __future__ import annotations

import io
import wave
from pathlib import Path

import pytest

from booth.sim.demo import run_demo

pytestmark = pytest.mark.slow


async def test_demo_runs_the_whole_script(tmp_path: Path) -> None:
    out = io.StringIO()
    result = await run_demo(tmp_path / "demo", out=out, use_espeak=False)
    text = out.getvalue()
    assert result.score is not None and 0 <= result.score <= 100
    for step in (
        "idle → connecting",
        "listening → talking",
        "barge-in",
        "reconnecting",
        "double press",
        "scoring → idle",
        "Call summary",
        f"score {result.score}/100",
    ):
        assert step in text, step
    assert result.summary.reconnects == 1 and result.summary.end_reason == "double_press"
    for path in (result.persona_wav, result.rep_wav):
        with wave.open(str(path), "rb") as wav:
            assert wav.getframerate() == 16000 and wav.getnframes() > 16000  # over a second
