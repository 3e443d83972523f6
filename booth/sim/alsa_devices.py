"""Virtual ALSA devices without a sound card: `file` PCMs on a `null` slave (tests, `booth bench`).

A capture PCM reads its samples from ``infile``; a playback PCM writes what it plays to
``file``. Both are declared in a private asoundrc that alsa-lib loads through
``ALSA_CONFIG_PATH`` (a colon-separated list: the stock ``alsa.conf`` first, then ours), so
nothing outside the test directory changes. PortAudio sees them as devices named
``capture_name`` / ``playback_name`` (each shows both input and output channels).

Things to know (measured on alsa-lib 1.2.8 / PortAudio 19.6):

* alsa-lib reads the config when PortAudio initialises; a new ``pyaudio.PyAudio()`` made
  inside the context (and after every earlier instance was terminated: PortAudio counts
  initialisations and only the first one scans) sees the test devices, in-process.
* The ``null`` slave is **not paced**: it is always ready, so PortAudio runs callbacks
  back to back, as fast as the CPU allows. Fine for checking samples, useless for timing.
  ``paced=True`` paces both directions in real time instead: the capture PCM reads from a
  pipe that a thread fills at the device rate, and the playback PCM writes to a pipe
  (shrunk to one page) that a thread drains at the device rate, so PortAudio blocks the
  way it would on a sound card. The pipeline latency bench needs this. Paced capture is
  sample-exact only when the stream reads one ``period_ms`` period per callback (open it
  with ``frames_per_buffer = rate * period_ms / 1000``; booth's Capture uses 20 ms).
* Playback output starts with the silence PortAudio primes the buffers with (two
  buffers' worth); use :func:`find_signal` to locate the played audio.
* The file PCM accepts any rate and channel count: the numbers given here only say how the
  samples are meant. Paced devices must be opened at ``rate`` (configure it: negotiation
  would settle on 16 kHz): the pacers run at it, so a stream at 16 kHz on 48 kHz devices
  runs three times faster than real time, and its playback breaks up.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
import time
import wave
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from booth.audio.alsaconf import STOCK_CONFIG

F_SETPIPE_SZ = 1031
#: A pacer this far behind had no reader (a FIFO between calls): it restarts its clock.
LATE = 0.5


@dataclass
class AlsaFileDevices:
    capture_name: str
    playback_name: str
    config_path: Path
    output_path: Path
    rate: int
    channels: int
    paced: bool
    env: dict[str, str]
    period_ms: int = 20
    _threads: list[threading.Thread] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _fds: list[int] = field(default_factory=list)
    #: Paced mode: while set, the capture pipe gets nothing (a mic that went dead).
    capture_stalled: threading.Event = field(default_factory=threading.Event)
    #: Paced mode: set once the feeder has seen ``capture_stalled`` and writes nothing more.
    capture_parked: threading.Event = field(default_factory=threading.Event)
    #: Paced mode: while set, nothing is taken from the playback pipe (a speaker that hangs).
    playback_stalled: threading.Event = field(default_factory=threading.Event)
    #: Paced mode: set once the drain has seen ``playback_stalled`` and reads nothing more.
    playback_parked: threading.Event = field(default_factory=threading.Event)
    #: Paced mode: once set, the playback pipe's reader goes away (a speaker that is gone):
    #: writes to it fail.
    playback_broken: threading.Event = field(default_factory=threading.Event)

    def finish(self) -> None:
        """Stop the pacers and let every played byte reach ``output_path`` (idempotent).

        Close the streams first: the drain thread reads until the playback pipe's EOF."""
        self._stop.set()
        fds, self._fds = self._fds, []
        # These fd numbers are named in the asoundrc: a PCM that is still open (a stream closed
        # late, on another thread) keeps using the *number*. Closing it would let the number be
        # reused by an unrelated file (a WAV being written, the CA bundle being read) and ALSA
        # would read from or write into that file. Point the numbers at /dev/null instead:
        # late I/O is harmless, the drain still sees EOF, and the two descriptors per device
        # set stay reserved for the life of the process.
        null = os.open(os.devnull, os.O_RDWR)
        try:
            for fd in fds:
                with contextlib.suppress(OSError):
                    os.dup2(null, fd)
        finally:
            os.close(null)
        for thread in self._threads:
            thread.join(timeout=10)

    def played(self) -> bytes:
        """Everything the playback PCM has written so far (raw s16le)."""
        return self.output_path.read_bytes() if self.output_path.exists() else b""

    def played_samples(self) -> np.ndarray:
        data = self.played()
        return np.frombuffer(data[: len(data) - len(data) % 2], dtype="<i2")

    def wait_played(self, nbytes: int, timeout: float = 10.0) -> bool:
        """Wait until at least ``nbytes`` have reached the output file (polls the file)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.output_path.exists() and self.output_path.stat().st_size >= nbytes:
                return True
            time.sleep(0.01)
        return False


def blocked_in_pipe_read(native_id: int) -> bool:
    """Whether that thread of this process sleeps in a pipe read (Linux: its ``wchan``). With
    the paced capture stalled and parked, a capture reader found there is inside a device read
    that cannot return until the feeder writes again."""
    return _blocked_in(native_id, "pipe_read")  # or anon_pipe_read on newer kernels


def blocked_in_pipe_write(native_id: int) -> bool:
    """Whether that thread of this process sleeps in a pipe write: with the paced playback
    stalled, a playback writer found there is inside a device write that cannot return until
    the drain reads again."""
    return _blocked_in(native_id, "pipe_write")


def _blocked_in(native_id: int, call: str) -> bool:
    try:
        wchan = Path(f"/proc/self/task/{native_id}/wchan").read_text()
    except OSError:
        return False
    return call in wchan


def read_pcm(source: Path | bytes | np.ndarray) -> bytes:
    """Raw s16le bytes from a WAV/raw file, bytes, or an int16 array."""
    if isinstance(source, np.ndarray):
        return source.astype("<i2").tobytes()
    if isinstance(source, bytes | bytearray):
        return bytes(source)
    path = Path(source)
    if path.suffix.lower() == ".wav":
        with wave.open(str(path), "rb") as wav:
            if wav.getsampwidth() != 2:
                raise ValueError(f"{path}: only 16-bit WAV is supported")
            return wav.readframes(wav.getnframes())
    return path.read_bytes()


def find_signal(played: np.ndarray, expected: np.ndarray) -> int:
    """Index where ``expected`` starts in ``played`` (after the priming silence), or -1."""
    nonzero = np.flatnonzero(expected)
    if nonzero.size == 0:
        return -1
    first = int(nonzero[0])
    hits = np.flatnonzero(played == expected[first])
    for hit in hits:
        start = int(hit) - first
        if start < 0:
            continue
        window = played[start : start + expected.size]
        if window.size == expected.size and np.array_equal(window, expected):
            return start
    return -1


@contextlib.contextmanager
def alsa_file_devices(
    tmp_path: Path,
    capture_source: Path | bytes | np.ndarray | None = None,
    *,
    rate: int = 48000,
    channels: int = 1,
    paced: bool = False,
    period_ms: int = 20,
    loop_capture: bool = False,
    capture_name: str = "boothmic",
    playback_name: str = "boothspk",
    with_capture: bool = True,
    with_playback: bool = True,
) -> Iterator[AlsaFileDevices]:
    """Declare file-backed ALSA devices and point alsa-lib at them for the duration.

    ``with_capture=False`` declares no capture device at all (for NO_MIC_AVAILABLE tests).
    ``loop_capture=True`` (paced only) repeats the capture source instead of going silent,
    so a long call needs only a short clip in memory.
    """
    pcm = read_pcm(capture_source) if capture_source is not None else b""
    tmp_path.mkdir(parents=True, exist_ok=True)
    output = tmp_path / "played.raw"
    infile = tmp_path / "capture.raw"
    infile.write_bytes(pcm)
    devs = AlsaFileDevices(
        capture_name=capture_name,
        playback_name=playback_name,
        config_path=tmp_path / "asoundrc",
        output_path=output,
        rate=rate,
        channels=channels,
        paced=paced,
        env={},
        period_ms=period_ms,
    )
    capture_in: str = _quote(infile)
    playback_out: str = _quote(output)
    if paced:
        capture_in, playback_out = _start_pacers(devs, pcm, loop_capture)
    devs.config_path.write_text(
        asoundrc(
            capture_name if with_capture else None,
            playback_name if with_playback else None,
            capture_in,
            playback_out,
        )
    )
    devs.env = alsa_env(devs.config_path)
    saved = {k: os.environ.get(k) for k in devs.env}
    os.environ.update(devs.env)
    try:
        yield devs
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        devs.finish()


def alsa_env(config_path: Path) -> dict[str, str]:
    """The environment that points alsa-lib (and so PortAudio) at the devices declared in
    ``config_path``, after the stock configuration; no JACK server is started by a scan."""
    return {"ALSA_CONFIG_PATH": f"{STOCK_CONFIG}:{config_path}", "JACK_NO_START_SERVER": "1"}


def asoundrc(
    capture_name: str | None, playback_name: str | None, capture_in: str, playback_out: str
) -> str:
    """The PCM declarations (``capture_in``/``playback_out``: a quoted path or an fd number)."""
    stanzas = []
    if capture_name:
        stanzas.append(
            f"pcm.{capture_name} {{\n  type asym\n  capture.pcm {{\n    type file\n"
            f'    slave.pcm "null"\n    file "/dev/null"\n    infile {capture_in}\n'
            f'    format "raw"\n  }}\n}}\n'
        )
    if playback_name:
        # asym with only a playback side: the speaker cannot be opened for capture, as
        # with a real speaker (a bare file PCM would also offer 128 input channels).
        stanzas.append(
            f"pcm.{playback_name} {{\n  type asym\n  playback.pcm {{\n    type file\n"
            f'    slave.pcm "null"\n    file {playback_out}\n    format "raw"\n  }}\n}}\n'
        )
    return "".join(stanzas)


def _quote(path: Path) -> str:
    return '"' + str(path).replace("\\", "\\\\").replace('"', '\\"') + '"'


def _start_pacers(devs: AlsaFileDevices, pcm: bytes, loop: bool = False) -> tuple[str, str]:
    """Pipes fed/drained in real time; returns the asoundrc values (fd numbers)."""
    cap_r, cap_w = os.pipe()
    out_r, out_w = os.pipe()
    devs._fds += [cap_r, out_w]  # the PCMs use these; closed when the context ends
    run_pacers(devs, cap_w, out_r, pcm, loop)
    return str(cap_r), str(out_w)


def run_pacers(devs: AlsaFileDevices, cap_w: int, out_r: int, pcm: bytes, loop: bool) -> None:
    """Threads that fill ``cap_w`` and drain ``out_r`` at the device rate (the ends of two
    pipes or FIFOs whose other ends the capture and playback PCMs use)."""
    bytes_per_sec = devs.rate * devs.channels * 2
    # The file PCM copies whatever one read() returns into a whole period and moves on, so a
    # short read would misplace samples: write exactly one period per write (atomic, below
    # PIPE_BUF) so that every read of one period gets a whole one.
    chunk = devs.rate * devs.period_ms // 1000 * devs.channels * 2
    for fd in (cap_w, out_r):
        with contextlib.suppress(OSError):
            fcntl.fcntl(fd, F_SETPIPE_SZ, 4096)

    def feed() -> None:
        start = time.monotonic()
        sent = 0
        # After the source runs out, keep the mic "live" with silence, like a real one.
        while not devs._stop.is_set():
            if devs.capture_stalled.is_set():
                devs.capture_parked.set()
                devs._stop.wait(0.01)
                start = time.monotonic() - sent / bytes_per_sec
                continue
            devs.capture_parked.clear()
            at = sent % len(pcm) if loop and len(pcm) >= chunk else sent
            block = pcm[at : at + chunk] if at < len(pcm) else bytes(chunk)
            block = block.ljust(chunk, b"\0")
            try:
                os.write(cap_w, block)
            except OSError:
                break
            sent += chunk
            delay = start + sent / bytes_per_sec - time.monotonic()
            if delay > 0:
                devs._stop.wait(delay)
            elif delay < -LATE:
                # No reader for a while (a FIFO between calls): carry on from now rather
                # than bursting the missed audio into the next capture.
                start = time.monotonic() - sent / bytes_per_sec
        os.close(cap_w)

    def drain() -> None:
        start = time.monotonic()
        got = 0
        with devs.output_path.open("wb") as out:
            # Until EOF, not until _stop: finish() closes the write end and wants every
            # byte played before that in the file (pacing stops once _stop is set).
            while True:
                if devs.playback_broken.is_set():
                    break
                if devs.playback_stalled.is_set() and not devs._stop.is_set():
                    devs.playback_parked.set()
                    devs._stop.wait(0.01)
                    start = time.monotonic() - got / bytes_per_sec
                    continue
                devs.playback_parked.clear()
                try:
                    data = os.read(out_r, chunk)
                except OSError:
                    break
                if not data:
                    break
                out.write(data)
                out.flush()
                got += len(data)
                delay = start + got / bytes_per_sec - time.monotonic()
                if delay > 0:
                    devs._stop.wait(delay)
                elif delay < -LATE:  # nothing played for a while: pace from now
                    start = time.monotonic() - got / bytes_per_sec
        os.close(out_r)

    for target in (feed, drain):
        thread = threading.Thread(target=target, name=f"alsa-{target.__name__}", daemon=True)
        thread.start()
        devs._threads.append(thread)
