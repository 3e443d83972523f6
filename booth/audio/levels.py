"""Level meter and voice activity with hysteresis, for userSpeaking / personaSpeaking.

Sans-I/O: time advances by the duration of each frame fed in, never by a clock.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

SILENCE_DBFS = -120.0


def level_dbfs(
    pcm: bytes | bytearray | memoryview, scratch: npt.NDArray[np.float64] | None = None
) -> float:
    """RMS level of int16 PCM in dBFS (0 dBFS = RMS of a full-scale square wave), floored
    at -120 dBFS. ``scratch``, a float64 array of the PCM's sample count, saves the one
    temporary array (VoiceActivity passes its own: no allocation per frame)."""
    samples = np.frombuffer(pcm, dtype="<i2")
    if samples.size == 0:
        return SILENCE_DBFS
    if scratch is None or scratch.size != samples.size:
        scratch = np.empty(samples.size)
    np.copyto(scratch, samples, casting="safe")
    rms = math.sqrt(float(np.dot(scratch, scratch)) / samples.size)
    if rms <= 0.0:
        return SILENCE_DBFS
    return max(SILENCE_DBFS, 20.0 * math.log10(rms / 32768.0))


class VoiceActivity:
    """Speaking / not speaking from frame levels, with two thresholds and hold times.

    Turns on after ``attack_ms`` of frames at or above ``on_dbfs``; turns off after
    ``release_ms`` of frames below ``off_dbfs``. Levels in between keep the current state,
    so a voice hovering near one threshold does not flap.
    """

    def __init__(
        self,
        rate: int = 16000,
        on_dbfs: float = -40.0,
        off_dbfs: float = -48.0,
        attack_ms: float = 40.0,
        release_ms: float = 400.0,
    ) -> None:
        if off_dbfs > on_dbfs:
            raise ValueError(f"off_dbfs ({off_dbfs}) must not exceed on_dbfs ({on_dbfs})")
        self.rate = rate
        self.on_dbfs = on_dbfs
        self.off_dbfs = off_dbfs
        self.attack_ms = attack_ms
        self.release_ms = release_ms
        self.speaking = False
        self.level = SILENCE_DBFS
        self._run_ms = 0.0
        self._scratch = np.empty(320)  # one 20 ms frame at 16 kHz; resized if frames differ

    def reset(self) -> None:
        self.speaking = False
        self.level = SILENCE_DBFS
        self._run_ms = 0.0

    def update(self, pcm: bytes | bytearray | memoryview) -> bool | None:
        """Feed one frame; return the new state when it changes, else None."""
        samples = len(pcm) // 2
        duration_ms = 1000.0 * samples / self.rate
        if self._scratch.size != samples:
            self._scratch = np.empty(samples)
        self.level = level_dbfs(pcm, self._scratch)
        if self.speaking:
            quiet = self.level < self.off_dbfs
            self._run_ms = self._run_ms + duration_ms if quiet else 0.0
            if quiet and self._run_ms >= self.release_ms:
                self.speaking, self._run_ms = False, 0.0
                return False
        else:
            loud = self.level >= self.on_dbfs
            self._run_ms = self._run_ms + duration_ms if loud else 0.0
            if loud and self._run_ms >= self.attack_ms:
                self.speaking, self._run_ms = True, 0.0
                return True
        return None
