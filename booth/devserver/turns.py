"""When the rep speaks and when a rep turn ends. Sans-I/O: frames and times come in as arguments.

A frame is speech when its RMS level (booth.audio.levels) is above ``threshold_dbfs``. A turn
starts at the first speech frame and ends on ``turn_end`` or after ``silence_s`` without speech
(silent frames or no frames at all, as when a push-to-talk client stops sending).
"""

from __future__ import annotations

from dataclasses import dataclass

from booth.audio.levels import level_dbfs

FRAME_SECONDS = 0.02


@dataclass(frozen=True)
class RepTurn:
    start: float  # call-relative seconds
    end: float
    voiced: float  # seconds of speech frames in the turn

    @property
    def duration(self) -> float:
        return max(self.end - self.start, self.voiced)


class TurnDetector:
    def __init__(self, *, threshold_dbfs: float = -45.0, silence_s: float = 0.7) -> None:
        self.threshold_dbfs = threshold_dbfs
        self.silence_s = silence_s
        self._start: float | None = None
        self._last_voice = 0.0
        self._voiced = 0.0

    @property
    def in_turn(self) -> bool:
        return self._start is not None

    def frame(self, pcm: bytes, now: float) -> bool:
        """Feed one received frame; True when it started a new turn (the rep began speaking)."""
        if level_dbfs(pcm) < self.threshold_dbfs:
            return False
        started = self._start is None
        if started:
            self._start = max(0.0, now - FRAME_SECONDS)
            self._voiced = 0.0
        self._voiced += len(pcm) / 2 / 16000
        self._last_voice = now
        return started

    def poll(self, now: float) -> RepTurn | None:
        """The turn, once ``silence_s`` has passed since the last speech."""
        if self._start is not None and now - self._last_voice >= self.silence_s:
            return self._finish()
        return None

    def turn_end(self) -> RepTurn | None:
        """The client said its turn is over (talk button released)."""
        return self._finish() if self._start is not None else None

    def _finish(self) -> RepTurn:
        assert self._start is not None
        turn = RepTurn(self._start, self._last_voice, self._voiced)
        self._start = None
        return turn
