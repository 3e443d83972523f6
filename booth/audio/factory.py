"""Build the audio adapters from the ``[audio]`` config section."""

from __future__ import annotations

from typing import Any

from booth.audio.capture import Capture
from booth.audio.denoise import denoiser_for
from booth.audio.playback import Playback
from booth.config import AudioSection


def capture_from_config(audio: AudioSection, **overrides: Any) -> Capture:
    kwargs: dict[str, Any] = {"dc_block": audio.dc_block, "gain_db": audio.input_gain_db}
    if overrides.get("out_rate", 16000) == 16000:  # webrtc takes 16 kHz (config checks it)
        kwargs["processor"] = denoiser_for(audio.noise_suppression, audio.auto_gain_dbfs)
    kwargs.update(overrides)
    return Capture(audio.input_device, audio.input_rate, audio.input_channels, **kwargs)


def playback_from_config(audio: AudioSection, **overrides: Any) -> Playback:
    kwargs: dict[str, Any] = {
        "prebuffer_ms": audio.prebuffer_ms,
        "capacity_ms": audio.jitter_buffer_ms,
        "gain_db": audio.output_gain_db,
    }
    kwargs.update(overrides)
    return Playback(audio.output_device, audio.output_rate, **kwargs)
