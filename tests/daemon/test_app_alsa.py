"""The daemon with the real PyAudio adapters on ALSA `file` devices (paced in real time)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from booth.config import AudioSection
from booth.daemon.audio_io import PyAudioMic, PyAudioSpeaker
from booth.devserver.calls import CallStatus
from tests.daemon.harness import running_booth
from tests.support.alsa import alsa_file_devices


def speech_like(seconds: float, rate: int = 48000) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    voice = np.sin(2 * np.pi * 220 * t) + 0.5 * np.sin(2 * np.pi * 660 * t)
    syllables = (np.sin(2 * np.pi * 3 * t) > -0.3).astype(float)  # bursts, like words
    return (voice * syllables * 6000).astype(np.int16)


def devices(**kw: Any) -> tuple[PyAudioMic, PyAudioSpeaker]:
    cfg = AudioSection(input_device="boothmic", output_device="boothspk", **kw)
    return PyAudioMic(cfg), PyAudioSpeaker(cfg)


async def test_call_on_alsa_devices_sends_the_mic_and_plays_the_persona(tmp_path: Path) -> None:
    with alsa_file_devices(tmp_path / "alsa", speech_like(20.0), paced=True) as alsa:
        mic, speaker = devices()
        async with running_booth(tmp_path, mic=mic, speaker=speaker) as b:  # type: ignore[arg-type]
            assert b.app.machine.state == "idle"
            await b.tap()
            await b.wait_state("listening")
            call = b.call()
            await b.until(lambda: b.led == "persona_speaking", what="greeting")
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
        # The persona's greeting and the cues reached the speaker device.
        assert played.size > 0 and int(np.max(np.abs(played))) > 1000
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
