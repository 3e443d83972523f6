"""What a call may touch of the booth, for as long as it is the booth's call.

The app lends each new call a ``Lease`` and revokes the last call's, so a superseded call
(still ending its session, polling its score) cannot read the mic, play on the speaker, feed the
machine or rewrite the live-call file: not because anything checks which call it is, but
because it no longer holds any of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from pathlib import Path

from booth.daemon import inputs as i
from booth.daemon import orphans
from booth.daemon.audio_io import Microphone, Speaker
from booth.errors import BoothError
from booth.logs import log_event

log = logging.getLogger("booth.daemon")


class Lease:
    """The booth lent to one call: its devices, the machine's input, the live-call file.

    Once ``revoke()``d (the next call started) every method is a no-op: no mic frame reaches
    the call, inputs are dropped, the devices stay as the new call left them.
    """

    def __init__(
        self,
        mic: Microphone,
        speaker: Speaker,
        feed: Callable[[i.Input], None],
        tag_logs: Callable[[str | None, str | None], None],
        state_dir: Path | None = None,
    ) -> None:
        self._mic = mic
        self._speaker = speaker
        self._feed = feed
        self._tag_logs = tag_logs
        self._state_dir = state_dir
        self.held = True

    def revoke(self) -> None:
        self.held = False

    def feed(self, event: i.Input) -> None:
        if self.held:
            self._feed(event)

    def tag_logs(self, call_id: str | None, session_id: str | None) -> None:
        """The booth's log records carry this call's ids (``None``: no call's)."""
        if self.held:
            self._tag_logs(call_id, session_id)

    async def open_devices(self) -> None:
        """Open the mic, then the speaker; BoothError (mic closed again) if either fails."""
        if not self.held:
            return
        await self._mic.open()
        try:
            await self._speaker.open()
        except BoothError:
            await self._mic.close()
            raise

    async def stream_mic(self, consumer: Callable[[bytes], object]) -> None:
        """Hand each mic frame to ``consumer`` until cancelled or the mic is closed (at once
        if the lease is gone); BoothError when the mic is lost."""
        if not self.held:
            return

        def while_held(frame: bytes) -> None:
            if self.held:
                consumer(frame)

        await self._mic.stream(while_held)

    def listen(self, on: bool) -> None:
        """The mic frames audio for the call (True) or idles while it is muted (False)."""
        if self.held:
            self._mic.listen(on)

    def play(self, pcm: bytes) -> None:
        if self.held and self._speaker.is_open:
            self._speaker.write(pcm)

    def room_ms(self) -> float:
        """Persona audio the speaker can take now (none once the lease is gone)."""
        if self.held and self._speaker.is_open:
            return self._speaker.room_ms()
        return float("inf")

    def mark_end(self) -> None:
        if self.held and self._speaker.is_open:
            self._speaker.mark_end()

    def flush(self) -> int:
        if self.held and self._speaker.is_open:
            return self._speaker.flush()
        return 0

    def underruns(self) -> int:
        try:
            return int(self._speaker.underruns)
        except Exception:
            return 0

    async def release(self) -> None:
        """Close the mic, let the last cue play out (bounded), close the speaker."""
        if not self.held:
            return
        with contextlib.suppress(Exception):
            await self._mic.close()
        with contextlib.suppress(Exception):
            async with asyncio.timeout(1.0):
                await self._speaker.drain()  # let the end (or error) cue finish
        if self.held:  # the next call may have started while the cue played
            with contextlib.suppress(Exception):
                await self._speaker.close()

    def keep_live_call(self, call: orphans.LiveCall) -> None:
        if self._state_dir is None or not self.held:
            return
        try:
            orphans.save(self._state_dir, call)
        except OSError as exc:
            log_event(log, logging.WARNING, f"cannot keep the live call: {exc}", EVENT="state")

    def forget_live_call(self) -> None:
        if self._state_dir is not None and self.held:
            orphans.clear(self._state_dir)
