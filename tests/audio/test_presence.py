"""Device probes in a child process (booth.audio.presence), against ALSA file devices."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from booth.audio import presence
from booth.config import AudioSection
from booth.daemon import devices
from booth.daemon.audio_io import PyAudioMic
from tests.support.alsa import alsa_file_devices

BOTH = [("boothmic", True), ("boothspk", False)]


def ask(wanted: list[tuple[str, bool]]) -> list[bool]:
    done = subprocess.run(presence.command(wanted), capture_output=True, check=True, timeout=60)
    return presence.parse(done.stdout, len(wanted))


def test_the_child_answers_each_device_in_order(tmp_path: Path) -> None:
    with alsa_file_devices(tmp_path / "both", np.zeros(10, np.int16)):
        assert ask(BOTH) == [True, True]
    with alsa_file_devices(tmp_path / "no-mic", with_capture=False):
        assert ask(BOTH) == [False, True]
    with alsa_file_devices(tmp_path / "no-speaker", np.zeros(10, np.int16), with_playback=False):
        assert ask(BOTH) == [True, False]


def test_a_booth_package_in_the_working_directory_does_not_stand_in(tmp_path: Path) -> None:
    """The daemon may be started from a clone: its child still runs the installed package."""
    shadow = tmp_path / "cwd" / "booth"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise SystemExit(97)\n")
    with alsa_file_devices(tmp_path / "devices", np.zeros(10, np.int16)):
        argv = presence.command(BOTH)
        done = subprocess.run(argv, check=False, cwd=shadow.parent, capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr[-500:]
    assert presence.parse(done.stdout, 2) == [True, True]


def test_answers_that_are_not_one_per_question_are_refused() -> None:
    assert presence.parse(b"1\n0\n", 2) == [True, False]
    for output in (b"", b"1\n", b"1\n0\n1\n", b"yes\n0\n"):
        with pytest.raises(ValueError):
            presence.parse(output, 2)


def test_a_bad_command_line_is_a_usage_error() -> None:
    assert presence.main(["sideways", "boothmic"]) == 2
    assert presence.main(["in"]) == 2


# The start-up check (``apart``) scans in a child, whatever this process has done before.
_MIC_GOES_AND_COMES_BACK = """
import asyncio, json, sys
from pathlib import Path
from booth.config import AudioSection
from booth.daemon.audio_io import PyAudioMic, PyAudioSpeaker
from booth.sim.alsa_devices import alsa_file_devices
cfg = AudioSection(input_device="boothmic", output_device="boothspk")
async def main(tmp):
    answers = []
    for step, with_capture in (("there", True), ("gone", False), ("back", True)):
        with alsa_file_devices(tmp / step, bytes(64), with_capture=with_capture):
            mic, speaker = PyAudioMic(cfg), PyAudioSpeaker(cfg)
            answers.append([await mic.available(apart=True), await speaker.available(apart=True)])
    return answers
print(json.dumps(asyncio.run(main(Path(sys.argv[1])))))
"""


def test_a_probe_in_a_child_sees_the_mic_go_and_come_back(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _MIC_GOES_AND_COMES_BACK, str(tmp_path)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert json.loads(done.stdout) == [[True, True], [False, True], [True, True]]


# A spy counts the PyAudio instances made in the probing process: none for the start-up check
# (``apart``), one per later probe.
_PROBES_APART_AND_HERE = """
import asyncio, json, pyaudio
from booth.config import AudioSection
from booth.daemon.audio_io import PyAudioMic, PyAudioSpeaker
started = []
class Spy(pyaudio.PyAudio):
    def __init__(self):
        started.append(1)
        super().__init__()
pyaudio.PyAudio = Spy
cfg = AudioSection(input_device="boothmic", output_device="boothspk")
async def main():
    mic, speaker = PyAudioMic(cfg), PyAudioSpeaker(cfg)
    apart = [await mic.available(apart=True), await speaker.available(apart=True), len(started)]
    return apart + [await mic.available(), await speaker.available(), len(started)]
print(json.dumps(asyncio.run(main())))
"""


def test_the_start_up_check_leaves_portaudio_unstarted_and_later_probes_scan_here(
    tmp_path: Path,
) -> None:
    with alsa_file_devices(tmp_path, np.zeros(10, np.int16)):
        done = subprocess.run(
            [sys.executable, "-c", _PROBES_APART_AND_HERE],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
    assert json.loads(done.stdout) == [True, True, 0, True, True, 2]


async def test_a_child_that_fails_is_a_failed_probe_with_its_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    mic = PyAudioMic(AudioSection(input_device="boothmic"))
    # The child finds a PyAudio that cannot load (PYTHONPATH comes before site-packages).
    (tmp_path / "pyaudio.py").write_text("raise ImportError('no PortAudio here')\n")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    assert not await devices.available(mic, apart=True)
    failure = next(r for r in caplog.records if r.getMessage() == "device probe failed")
    assert failure.exc_info is not None
    assert "no PortAudio here" in str(failure.exc_info[1])
