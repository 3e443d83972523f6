"""Whether audio devices are there, asked of PortAudio in a short-lived process of its own.

A PortAudio start-up leaves ~2 MB resident in the process that made it, after ``Pa_Terminate``:
its JACK host API tries a client, and libjack's client open opens JACK's metadata database
(Berkeley DB, in ``/dev/shm/jack_db-UID``) whether or not a JACK server runs, so the pages of
libdb, libjack and alsa-lib's parser that ran stay mapped. The daemon needs PortAudio only
while a stream is open; to know at start whether the booth's devices are there it runs
``python -m booth.audio.presence in PATTERN out PATTERN ...``, which scans once and prints
``1`` or ``0`` per device, in order. The child inherits the daemon's environment, so it scans
through the same ALSA configuration (:mod:`booth.audio.alsaconf`).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from booth.audio import devices
from booth.errors import BoothError
from booth.interpreter import module_command

#: (device name pattern, input?) as the config names them.
Wanted = tuple[str, bool]

_DIRECTIONS = {"in": True, "out": False}


def command(wanted: Sequence[Wanted]) -> list[str]:
    """The child's command line: this interpreter, this module, a direction and pattern each."""
    argv = module_command(__name__)
    for pattern, input in wanted:
        argv += ["in" if input else "out", pattern]
    return argv


def parse(output: bytes, count: int) -> list[bool]:
    """The child's answers, in the order asked; ValueError if they are not ``count`` of 0/1."""
    lines = output.decode("ascii", "replace").split()
    if len(lines) != count or any(line not in ("0", "1") for line in lines):
        raise ValueError(f"device probe answered {output[:80]!r} to {count} question(s)")
    return [line == "1" for line in lines]


def there(pa: object, pattern: str, *, input: bool) -> bool:
    """Whether ``select_device`` finds a device for ``pattern`` in this scan."""
    try:
        devices.select_device(pa, pattern, input=input)
    except BoothError:
        return False
    return True


def main(argv: Sequence[str]) -> int:
    if len(argv) % 2 or any(direction not in _DIRECTIONS for direction in argv[::2]):
        print("usage: python -m booth.audio.presence (in|out) PATTERN ...", file=sys.stderr)
        return 2
    # Its stderr is a pipe the daemon reads only when the probe fails: no need to quiet the
    # C libraries (that costs three `ldconfig -p` runs).
    with devices.portaudio(quiet=False) as pa:
        answers = [
            there(pa, pattern, input=_DIRECTIONS[direction])
            for direction, pattern in zip(argv[::2], argv[1::2], strict=True)
        ]
    print("\n".join("1" if answer else "0" for answer in answers))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
