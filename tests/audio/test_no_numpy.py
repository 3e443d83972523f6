"""The daemon's audio path runs without numpy: numpy and its BLAS were 12.7 MB of `booth run`'s
idle RSS (README "Performance"). Each check runs in a fresh interpreter, so an import made by
another test cannot hide one (or fake one)."""

from __future__ import annotations

import subprocess
import sys

# A VoiceActivity update per mic frame, a level, a cue mixed under speech in the jitter buffer
# and read out, a drain of near silence, mono to stereo.
_MODULES = """
import sys
from booth.audio._pcm import to_stereo
from booth.audio.jitter import JitterBuffer
from booth.audio.levels import VoiceActivity, level_dbfs
from booth.daemon.commands import Cue
from booth.daemon.cues import cue_pcm

vad = VoiceActivity()
for _ in range(5):
    vad.update(b"\\x00\\x10" * 320)
assert vad.speaking and level_dbfs(bytes(640)) == -120.0
jitter = JitterBuffer(prebuffer_ms=20, drain=True)
jitter.write_cue(cue_pcm(Cue.START))
jitter.write(b"\\x00\\x10" * 320)
assert jitter.read(320) != bytes(640)
drained = JitterBuffer(prebuffer_ms=20, drain=True)
drained.write(bytes(6400))
drained.read(320)
assert drained.stats.drained_samples
assert to_stereo(b"\\x01\\x02") == b"\\x01\\x02\\x01\\x02"
from booth.ops.doctor import level_dbfs as doctor_level
assert doctor_level(bytes(640)) == float("-inf")
assert "numpy" not in sys.modules, "numpy was imported"
"""

# What `booth run` loads besides, all of which load the framer: the session (through the Atoms
# dialect), the speaker's playback and the daemon.
_DAEMON = """
import sys
import booth.session
import booth.audio.playback
import booth.commands.run
import booth.daemon.app
assert "numpy" not in sys.modules, "numpy was imported"
"""


def run_fresh(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True)


def test_levels_jitter_cues_and_doctor_s_level_need_no_numpy() -> None:
    done = run_fresh(_MODULES)
    assert done.returncode == 0, done.stderr


def test_the_session_playback_and_the_daemon_need_no_numpy() -> None:
    done = run_fresh(_DAEMON)
    assert done.returncode == 0, done.stderr
