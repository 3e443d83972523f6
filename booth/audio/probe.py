"""Probe hook for playback: how a bench times persona audio from the jitter buffer to the
device without patching it (the :mod:`booth.transport.probe` pattern).

Playback takes an optional probe; without one it pays a single ``is None`` test per chunk and
per device read. Positions are speech bytes at the device rate (``JitterBuffer.speech_written``
/ ``speech_read``): cues are left out, so a chunk mixed over a cue is timed where it plays.
Callbacks run under playback's lock, on the event loop (``queued``) or on playback's writer
thread (``read``): they must only note what they are told and return at once.
"""

from __future__ import annotations

from typing import Protocol


class PlaybackProbe(Protocol):
    def queued(self, pcm: bytes, position: int, at: float) -> None:
        """Persona audio (the very ``bytes`` given to ``Playback.write``) is in the jitter
        buffer; its first sample is speech byte ``position``."""

    def read(self, position: int, underruns: int, queued_ms: float, at: float) -> None:
        """A device read: speech bytes before ``position`` have been handed to the device;
        ``underruns`` is the buffer's count so far, ``queued_ms`` what is left queued."""

    def reset(self, at: float) -> None:
        """Queued audio was dropped (a flush) or a new stream opened: positions so far are
        void."""
