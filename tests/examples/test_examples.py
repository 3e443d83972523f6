"""Each example in examples/ runs, as a user would run it, against the devserver.

One example per dialect, each given a WAV at a rate other than its wire rate (the framer
resamples it): the service hears the rep, and the persona's voice lands in the output WAV.
"""

from __future__ import annotations

import asyncio
import math
import os
import sys
import wave
from pathlib import Path

import numpy as np
import pytest

from booth.devserver import CallStatus
from tests.transport.helpers import KEY, service

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def write_wav(path: Path, rate: int, channels: int, seconds: float) -> None:
    t = np.arange(int(rate * seconds)) / rate
    tone = (9000 * np.sin(2 * math.pi * 300 * t)).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(np.repeat(tone, channels).tobytes())


async def run_example(script: str, *args: str) -> tuple[int, str, str]:
    env = {**os.environ, "BOOTH_API_KEY": KEY}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(EXAMPLES / script),
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), 60)
    finally:
        if proc.returncode is None:  # reap it here, not on a later test's closed loop
            proc.kill()
            await proc.wait()
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


@pytest.mark.parametrize(
    ("script", "extra", "rate", "channels", "wire_rate"),
    [
        ("booth_call.py", ["--drill", "cold-call-skeptic"], 44100, 2, 16000),
        ("seed003_call.py", [], 48000, 1, 16000),
        ("atoms_call.py", ["--agent-id", "cold-call-skeptic"], 8000, 1, 24000),
    ],
)
async def test_each_dialect_example(
    tmp_path: Path, script: str, extra: list[str], rate: int, channels: int, wire_rate: int
) -> None:
    rep, persona = tmp_path / "rep.wav", tmp_path / "persona.wav"
    write_wav(rep, rate, channels, 0.5)
    async with service() as (server, _proxy):
        code, out, err = await run_example(
            script, "--api-url", server.url, "--listen", "1.5", *extra, str(rep), str(persona)
        )
        assert code == 0, err
        [call] = server.calls.values()
        await server.wait_call(call.call_id, CallStatus.SCORING)
    assert KEY not in out + err
    # Half a second of tone reached the service as speech, resampled to the wire rate.
    assert call.rep_turns and call.rep_turns[0].voiced >= 0.4
    with wave.open(str(persona)) as got:
        assert got.getframerate() == wire_rate
        pcm = np.frombuffer(got.readframes(got.getnframes()), dtype="<i2")
    assert pcm.size > wire_rate // 2 and int(np.abs(pcm).max()) > 1000  # the greeting


def test_a_wav_the_framer_cannot_take_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.wav"
    write_wav(bad, 11025, 1, 0.1)
    sys.path.insert(0, str(EXAMPLES))
    try:
        from wav_call import read_rep_audio
    finally:
        sys.path.remove(str(EXAMPLES))
    with pytest.raises(SystemExit, match="11025 Hz is not supported"):
        read_rep_audio(bad, 16000)
