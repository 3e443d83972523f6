"""Optional noise suppression and automatic gain (webrtc-noise-gain), per 20 ms frame.

WebRTC's audio processing takes 10 ms at 16 kHz; each 640-byte frame is two such chunks.
The `denoise` extra provides the library; without it, asking for denoising is a clear error.
"""

from __future__ import annotations

from typing import Any

from booth.errors import BoothError, ErrorCode

CHUNK_BYTES = 320  # 10 ms of s16le mono at 16 kHz


class Denoiser:
    """Callable frame processor: ``denoiser(frame640) -> frame640``."""

    def __init__(self, noise_suppression: int = 2, auto_gain_dbfs: int = 0) -> None:
        if not 0 <= noise_suppression <= 4:
            raise ValueError(f"noise_suppression must be 0 to 4, got {noise_suppression}")
        if not 0 <= auto_gain_dbfs <= 31:
            raise ValueError(f"auto_gain_dbfs must be 0 to 31, got {auto_gain_dbfs}")
        try:
            from webrtc_noise_gain import AudioProcessor
        except ImportError:
            raise BoothError(
                ErrorCode.NO_MIC_AVAILABLE,
                "audio.noise_suppression/auto_gain_dbfs need webrtc-noise-gain: "
                "pip install 'booth[denoise]'",
            ) from None
        self._processor: Any = AudioProcessor(auto_gain_dbfs, noise_suppression)
        self.last_is_speech = False

    def __call__(self, frame: bytes) -> bytes:
        if len(frame) % CHUNK_BYTES:
            raise ValueError(f"frames must be whole 10 ms chunks, got {len(frame)} bytes")
        out = bytearray()
        speech = False
        for i in range(0, len(frame), CHUNK_BYTES):
            result = self._processor.Process10ms(frame[i : i + CHUNK_BYTES])
            out += result.audio
            speech = speech or bool(result.is_speech)
        self.last_is_speech = speech
        return bytes(out)


def denoiser_for(noise_suppression: int, auto_gain_dbfs: int) -> Denoiser | None:
    """A Denoiser when the config asks for one, else None."""
    if noise_suppression == 0 and auto_gain_dbfs == 0:
        return None
    return Denoiser(noise_suppression, auto_gain_dbfs)
