"""The daemon with the real PyAudio adapters on ALSA `file` devices (paced in real time)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import numpy as np

from booth.audio import jitter
from booth.audio.framer import Framer
from booth.config import AudioSection
from booth.daemon.audio_io import PyAudioMic, PyAudioSpeaker
from booth.daemon.commands import Cue
from booth.daemon.cues import cue_pcm
from booth.devserver.calls import CallStatus
from tests.daemon.harness import running_booth
from tests.support.alsa import alsa_file_devices, find_signal

DEVICE_RATE = 48000


def speech_like(seconds: float, rate: int = 48000) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    voice = np.sin(2 * np.pi * 220 * t) + 0.5 * np.sin(2 * np.pi * 660 * t)
    syllables = (np.sin(2 * np.pi * 3 * t) > -0.3).astype(float)  # bursts, like words
    return (voice * syllables * 6000).astype(np.int16)


def devices(**kw: Any) -> tuple[PyAudioMic, PyAudioSpeaker]:
    # At the paced devices' rate, as a 48 kHz USB headset: a file PCM would open at any rate
    # (16 kHz, by negotiation), and then the 48 kHz pacers run it three times too fast.
    rates = {"input_rate": DEVICE_RATE, "output_rate": DEVICE_RATE}
    cfg = AudioSection(input_device="boothmic", output_device="boothspk", **(rates | kw))
    return PyAudioMic(cfg), PyAudioSpeaker(cfg)


def voiced_blocks_heard(played: np.ndarray, sent16k: bytes, block_ms: int = 20) -> float:
    """The share of the persona's voiced audio, in 20 ms blocks at the device rate, found
    sample-exact in what the speaker played (the framer's output does not depend on how its
    input was chunked). Voiced: no sample of the block is in a 10 ms run of near-silence, which
    the jitter buffer may drop to win back latency. The first 300 ms are left out: the start
    cue plays under them."""
    framer = Framer(16000, DEVICE_RATE, frame_samples=DEVICE_RATE // 1000)
    expected = np.frombuffer(framer.push_bytes(sent16k), dtype="<i2")
    droppable = _in_quiet_runs(expected, DEVICE_RATE // 100)
    block = DEVICE_RATE * block_ms // 1000
    voiced = [
        expected[at : at + block]
        for at in range(DEVICE_RATE * 3 // 10, expected.size - block, block)
        if not droppable[at : at + block].any()
    ]
    assert len(voiced) >= 20, "the greeting has too little voiced audio to judge"
    return sum(find_signal(played, b) >= 0 for b in voiced) / len(voiced)


def _in_quiet_runs(samples: np.ndarray, length: int) -> np.ndarray:
    """Per sample: whether it lies in a run of at least ``length`` near-silent samples."""
    quiet = np.abs(samples.astype(np.int32)) <= jitter.QUIET
    edges = np.flatnonzero(np.diff(np.concatenate(([0], quiet.astype(np.int8), [0]))))
    marked = np.zeros(samples.size, dtype=bool)
    for start, end in zip(edges[::2], edges[1::2], strict=True):
        if end - start >= length:
            marked[start:end] = True
    return marked


async def test_call_on_alsa_devices_sends_the_mic_and_plays_the_persona(tmp_path: Path) -> None:
    with alsa_file_devices(tmp_path / "alsa", speech_like(20.0), paced=True) as alsa:
        mic, speaker = devices()
        async with running_booth(tmp_path, mic=mic, speaker=speaker) as b:  # type: ignore[arg-type]
            assert b.app.machine.state == "idle"
            await b.tap()
            await b.wait_state("listening")
            call = b.call()
            await b.until(lambda: b.led == "persona_speaking", what="greeting")
            # The rep lets the persona finish (a press now would be a barge-in: it would cut
            # the greeting off the speaker).
            await b.until(lambda: b.led != "persona_speaking", what="the greeting's end")
            greeting = bytes(call.persona_audio)
            await b.press()
            await b.wait_state("talking")
            await b.server.wait_frames(call.call_id, 50)
            await b.release()
            await b.double_press()
            await b.wait_state("scoring")
            await b.until(lambda: b.app.summaries, within=15, what="summary")
            summary = b.app.summaries[-1]
        alsa.finish()
        played = alsa.played_samples()
        # The persona's greeting reached the speaker device whole, in real time.
        assert len(greeting) >= 16000  # a second or more of it
        assert voiced_blocks_heard(played, greeting) >= 0.9
        # What the service got from the rep is the mic's tone burst, not silence.
        rep = np.frombuffer(bytes(call.rep_audio), dtype="<i2")
        assert rep.size >= 50 * 320 and int(np.max(np.abs(rep))) > 3000
        assert summary.frames_sent >= 50


async def test_no_capture_device_is_no_mic_available(tmp_path: Path) -> None:
    with alsa_file_devices(tmp_path / "alsa", with_capture=False, paced=True):
        mic, speaker = devices()
        async with running_booth(tmp_path, mic=mic, speaker=speaker) as b:  # type: ignore[arg-type]
            await b.tap()
            await b.wait_state("error")
            assert b.app.machine.error_code in ("NO_MIC_AVAILABLE", "MIC_PERMISSION_DENIED")
            assert not b.server.calls


async def test_no_playback_device_is_playback_blocked_at_boot(tmp_path: Path) -> None:
    with alsa_file_devices(tmp_path / "alsa", speech_like(1.0), with_playback=False, paced=True):
        mic, speaker = devices()
        async with running_booth(tmp_path, mic=mic, speaker=speaker) as b:  # type: ignore[arg-type]
            assert b.app.machine.state == "error"
            assert b.app.machine.error_code == "AUDIO_PLAYBACK_BLOCKED"
            assert b.app.panel is not None and b.app.panel.led_state.blinks == 3


async def test_mic_going_dead_mid_call_and_coming_back(tmp_path: Path) -> None:
    with alsa_file_devices(tmp_path / "alsa", speech_like(30.0), paced=True) as alsa:
        mic, speaker = devices()
        mic.capture.stall_timeout = 0.5
        async with running_booth(tmp_path, mic=mic, speaker=speaker) as b:  # type: ignore[arg-type]
            await b.tap()
            await b.wait_state("listening")
            first = b.call()
            alsa.capture_stalled.set()  # the USB mic stops delivering samples
            await b.wait_state("error")
            assert b.app.machine.error_code == "MIC_DEVICE_DISCONNECTED"
            assert b.app.panel is not None and b.app.panel.led_state.blinks == 2
            await b.server.wait_call(first.call_id, CallStatus.SCORING)  # ended on the service
            alsa.capture_stalled.clear()  # samples flow again
            await b.wait_state("idle")  # the device is there again: ready for the next rep
            await b.tap()
            await b.wait_state("listening")
            await b.press()
            await b.server.wait_frames(b.call().call_id, 25)
            assert b.call().call_id != first.call_id


async def test_speaker_drain_returns_once_the_cue_is_handed_to_the_device(tmp_path: Path) -> None:
    with alsa_file_devices(tmp_path / "alsa", paced=True):
        _, speaker = devices()
        await speaker.open()
        try:
            speaker.play_cue(cue_pcm(Cue.END, 0.3, 16000))  # 360 ms, played in real time
            assert speaker.playback.buffered_ms > 0
            async with asyncio.timeout(5):
                await speaker.drain()
            assert speaker.playback.buffered_ms == 0
        finally:
            await speaker.close()
