"""Virtual ALSA devices for another process: a booth running under systemd in a test container.

``python -m booth.sim.fifo_devices --dir /run/booth-sim --asoundrc /etc/asound.conf`` makes
two FIFOs, declares them as the ``boothmic`` / ``boothspk`` file PCMs (the same stanzas as
:func:`booth.sim.alsa_devices.alsa_file_devices`), and paces both in real time until it is
stopped: the mic FIFO gets speech-like syllables (looped), what the booth plays is drained into
``played.raw``. Any process that reads the asoundrc (the system one, ``/etc/asound.conf``)
sees the devices; the FIFOs are 0666 so a service user can open them.
"""

from __future__ import annotations

import argparse
import os
import signal
import stat
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from booth.daemon.notify import Notifier
from booth.sim.alsa_devices import AlsaFileDevices, asoundrc, run_pacers

MIC, SPEAKER = "boothmic", "boothspk"


def syllables(seconds: float, rate: int) -> bytes:
    """A voice-ish tone in syllable bursts with pauses: the devserver hears speech, then not."""
    t = np.arange(int(seconds * rate)) / rate
    voice = np.sin(2 * np.pi * 220 * t) + 0.5 * np.sin(2 * np.pi * 660 * t)
    bursts = (np.sin(2 * np.pi * 3 * t) > -0.3).astype(float)
    return bytes((voice * bursts * 6000).astype("<i2").tobytes())


def _fifo(path: Path) -> int:
    if path.exists() and not stat.S_ISFIFO(path.stat().st_mode):
        path.unlink()
    if not path.exists():
        os.mkfifo(path)
    path.chmod(0o666)
    # Read-write: never blocks on open, never sees EOF or EPIPE while the booth has the
    # device closed (between calls).
    return os.open(path, os.O_RDWR)


def serve(directory: Path, config: Path, rate: int, stop: threading.Event) -> AlsaFileDevices:
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o755)
    mic, speaker = directory / "mic.fifo", directory / "speaker.fifo"
    devs = AlsaFileDevices(
        capture_name=MIC,
        playback_name=SPEAKER,
        config_path=config,
        output_path=directory / "played.raw",
        rate=rate,
        channels=1,
        paced=True,
        env={},
        _stop=stop,
    )
    run_pacers(devs, _fifo(mic), _fifo(speaker), syllables(2.0, rate), loop=True)
    config.write_text(asoundrc(MIC, SPEAKER, f'"{mic}"', f'"{speaker}"'))
    config.chmod(0o644)
    return devs


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m booth.sim.fifo_devices")
    parser.add_argument("--dir", type=Path, required=True, help="where the FIFOs go")
    parser.add_argument("--asoundrc", type=Path, required=True, help="file to declare them in")
    parser.add_argument("--rate", type=int, default=16000, help="the rate the booth opens at")
    args = parser.parse_args(argv)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    serve(args.dir, args.asoundrc, args.rate, stop)
    text = f"{MIC} and {SPEAKER} at {args.rate} Hz in {args.asoundrc}"
    print(text, flush=True)
    Notifier().ready(text)  # Type=notify: a booth ordered after this unit finds the devices
    stop.wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
