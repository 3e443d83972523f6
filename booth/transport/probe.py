"""Probe hooks: how a bench watches audio cross the layers of a call without patching them.

A link or session takes an optional probe; without one it pays a single ``is None`` test per
frame or chunk. Probe callbacks run on the event loop, in the middle of sending and receiving:
they must only note what they are told (a timestamp, a reference) and return at once.
"""

from __future__ import annotations

from typing import Protocol


class LinkProbe(Protocol):
    def frame_sent(self, message: bytes, at: float) -> None:
        """A binary message (a mic frame as the dialect encodes it: in the booth protocol, the
        very ``bytes`` object given to ``send_audio``) is handed to the WebSocket connection."""


class SessionProbe(LinkProbe, Protocol):
    def persona_audio_received(self, pcm: bytes, at: float) -> None:
        """A persona audio chunk, just decoded off the socket, is queued for the reader."""

    def mic_opened(self, at: float) -> None:
        """``unmute()``: the rep's frames are sent from now on."""
