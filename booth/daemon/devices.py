"""Whether the booth's mic and speaker are there: at start, and while an error shows their loss.

A booth with a missing device still comes up, showing the error on the LEDs; a replugged USB
device is noticed by probing every ``interval`` while the machine is in ``error`` for it. The
start-up check asks ``apart`` (the real devices scan in a child process), so that a booth that
comes up ready holds nothing of PortAudio until its first call; the probes that wait for a
device's return scan in the daemon, ~14× cheaper in CPU, in a booth that is out of service.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from booth.daemon import inputs as i
from booth.daemon.audio_io import Microphone, Speaker
from booth.errors import MIC_CODES, SPEAKER_CODES, ErrorCode
from booth.wakeups import sleep_on_grid

log = logging.getLogger("booth.daemon")

#: Mic errors a replug can cure (a denied permission needs a person, not a probe).
_MIC_GONE = MIC_CODES - {ErrorCode.MIC_PERMISSION_DENIED}


async def available(device: Microphone | Speaker, *, apart: bool = False) -> bool:
    try:
        return await device.available(apart=apart)
    except Exception:
        log.exception("device probe failed")
        return False


async def missing_at_start(mic: Microphone, speaker: Speaker) -> i.DeviceError | None:
    """The error to show when a device is missing at start (the speaker is checked first)."""
    if not await available(speaker, apart=True):
        return i.DeviceError(ErrorCode.AUDIO_PLAYBACK_BLOCKED, "no usable output device")
    if not await available(mic, apart=True):
        return i.DeviceError(ErrorCode.NO_MIC_AVAILABLE, "no usable input device")
    return None


async def watch_for_return(
    mic: Microphone,
    speaker: Speaker,
    device_error: Callable[[], str | None],
    feed: Callable[[i.Input], None],
    interval: float,
) -> None:
    """Forever: while ``device_error()`` names a lost device, probe it and report its return."""
    while True:
        await sleep_on_grid(interval)
        code = device_error()
        if code in _MIC_GONE:
            if await available(mic):
                feed(i.DeviceRestored("mic"))
        elif code in SPEAKER_CODES and await available(speaker):
            feed(i.DeviceRestored("speaker"))
