"""Level meter and voice activity with hysteresis, for userSpeaking / personaSpeaking.

Sans-I/O: time advances by the duration of each frame fed in, never by a clock.
"""

from __future__ import annotations

import math

from booth.audio._pcm import sum_squares

SILENCE_DBFS = -120.0


def rms(pcm: bytes | bytearray | memoryview) -> float:
    """RMS of native int16 PCM, 0.0 for none. The sum of squares is exact (an integer), so
    it does not depend on summation order."""
    n = memoryview(pcm).nbytes // 2
    return math.sqrt(sum_squares(pcm) / n) if n else 0.0


def level_dbfs(pcm: bytes | bytearray | memoryview) -> float:
    """RMS level of native int16 PCM in dBFS (0 dBFS = RMS of a full-scale square wave),
    floored at -120 dBFS."""
    level = rms(pcm)
    if level <= 0.0:
        return SILENCE_DBFS
    return max(SILENCE_DBFS, 20.0 * math.log10(level / 32768.0))


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

    def reset(self) -> None:
        self.speaking = False
        self.level = SILENCE_DBFS
        self._run_ms = 0.0

    def update(self, pcm: bytes | bytearray | memoryview) -> bool | None:
        """Feed one frame; return the new state when it changes, else None."""
        duration_ms = 1000.0 * (len(pcm) // 2) / self.rate
        self.level = level_dbfs(pcm)
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
