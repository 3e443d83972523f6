"""Error mapping, the config factory and the optional denoiser."""

from __future__ import annotations

import numpy as np

from booth.audio import devices
from booth.audio.denoise import Denoiser, denoiser_for
from booth.audio.factory import capture_from_config, playback_from_config
from booth.audio.levels import level_dbfs
from booth.config import AudioSection
from booth.errors import ErrorCode


def test_open_errors_map_to_codes_and_keep_portaudio_text() -> None:
    busy = OSError("Device unavailable", -9985)
    err = devices.map_open_error(busy, input=False, device="USB speaker")
    assert err.code == ErrorCode.AUDIO_PLAYBACK_BLOCKED
    assert "-9985" in err.message and "Device unavailable" in err.message
    gone = OSError("Invalid device", -9996)
    assert devices.map_open_error(gone, input=True, device="mic").code in {
        ErrorCode.NO_MIC_AVAILABLE,
        ErrorCode.MIC_PERMISSION_DENIED,  # only if this machine's /dev/snd is unreadable
    }
    denied = OSError("Permission denied", -9999)
    assert devices.map_open_error(denied, input=True, device="mic").code == (
        ErrorCode.MIC_PERMISSION_DENIED
    )


def test_name_matching() -> None:
    assert devices.name_matches("usb", "Blue USB Mic: Audio (hw:1,0)")
    assert devices.name_matches("/hw:1,\\d/", "Blue USB Mic: Audio (hw:1,0)")
    assert not devices.name_matches("/^USB/", "Blue USB Mic")


def test_factory_applies_the_audio_section() -> None:
    audio = AudioSection(
        input_device="usb",
        input_rate=48000,
        input_channels=2,
        input_gain_db=6.0,
        dc_block=True,
        noise_suppression=2,
        output_device="/spk/",
        prebuffer_ms=80,
        jitter_buffer_ms=2000,
        output_gain_db=-3.0,
    )
    cap = capture_from_config(audio)
    assert (cap.device_pattern, cap.configured_rate, cap.channels) == ("usb", 48000, 2)
    assert cap.dc_block and cap.gain_db == 6.0
    assert isinstance(cap.processor, Denoiser)
    play = playback_from_config(audio)
    assert (play.device_pattern, play.prebuffer_ms, play.capacity_ms) == ("/spk/", 80, 2000)
    assert play.gain_db == -3.0
    assert capture_from_config(AudioSection()).processor is None


def test_denoiser_reduces_steady_noise() -> None:
    assert denoiser_for(0, 0) is None
    denoise = Denoiser(noise_suppression=4)
    rng = np.random.default_rng(5)
    frames = [rng.normal(0, 800, 320).astype("<i2").tobytes() for _ in range(100)]
    out = [denoise(f) for f in frames]
    assert all(len(f) == 640 for f in out)
    before = np.mean([level_dbfs(f) for f in frames[-20:]])
    after = np.mean([level_dbfs(f) for f in out[-20:]])
    assert after < before - 6
