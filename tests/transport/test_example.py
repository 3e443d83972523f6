"""examples/wav_call.py holds a whole call against the devserver and writes the persona's voice."""

from __future__ import annotations

import importlib.util
import wave
from pathlib import Path

import pytest

from tests.transport.helpers import KEY, LOUD, service

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "wav_call.py"


def load_example():
    spec = importlib.util.spec_from_file_location("wav_call", EXAMPLE)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def test_wav_call(tmp_path: Path) -> None:
    rep = tmp_path / "rep.wav"
    with wave.open(str(rep), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16000)
        out.writeframes(LOUD * 25)  # half a second of "speech"
    persona = tmp_path / "persona.wav"
    example = load_example()
    async with service() as (server, _proxy):
        summary = await example.hold_call(server.url, KEY, rep, persona, listen=1.5)
        assert summary["callId"] in server.calls
    assert summary["reason"] == "client_requested"
    assert summary["framesSent"] == 25
    with wave.open(str(persona), "rb") as got:
        assert got.getframerate() == 16000
        assert got.getnframes() > 0


def test_wrong_wav_format_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.wav"
    with wave.open(str(bad), "wb") as out:
        out.setnchannels(2)
        out.setsampwidth(2)
        out.setframerate(44100)
        out.writeframes(b"\x00" * 400)
    with pytest.raises(SystemExit, match="16000 Hz mono"):
        load_example().read_rep_audio(bad)
