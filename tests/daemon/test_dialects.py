"""docs/protocol.md §6.2, row by row, through the real daemon against each devserver mode.

MockFactory pins, the PyAudio mic and speaker on paced ALSA file devices, the call's WebSocket
through a fault proxy that black-holes it like a Wi-Fi drop. Each dialect: a whole call (the
greeting, a push-to-talk turn, the reply, a double press and what comes after it), then a
second call and a drop, then a third press once the network is back.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from booth.config import parse_config
from booth.daemon import timeline as t
from booth.daemon.audio_io import devices_for
from booth.daemon.call import NOT_SCORED
from booth.devserver.calls import Call, CallStatus
from booth.devserver.faults import SocketFaults
from booth.protocol.dialects import traits
from booth.sim.alsa_devices import alsa_file_devices
from tests.daemon.harness import Booth, running_booth

CONFIG: dict[str, dict[str, Any]] = {
    "booth": {"service": {"protocol": "booth"}},
    "seed003": {"service": {"protocol": "seed003", "drill_key": "quick"}},
    "atoms": {"service": {"protocol": "atoms", "agent_id": "quick"}},
}
#: What names the roleplay on the service, as the summary's DRILL_KEY (issue 13, defect 4).
DRILL_SENT = {"booth": "quick", "seed003": "", "atoms": "quick"}


def speech_like(seconds: float, rate: int = 48000) -> np.ndarray:
    t_ = np.arange(int(seconds * rate)) / rate
    voice = np.sin(2 * np.pi * 220 * t_) + 0.5 * np.sin(2 * np.pi * 660 * t_)
    return (voice * 6000).astype(np.int16)


def sections(dialect: str) -> dict[str, dict[str, Any]]:
    return {**CONFIG[dialect], "call": {"score_display": 5.0}}


def audio_config(dialect: str) -> Any:
    # The paced file devices run at 48 kHz, as a USB headset does.
    audio = {"input_device": "boothmic", "output_device": "boothspk"}
    audio |= {"input_rate": 48000, "output_rate": 48000}
    data = {**sections(dialect), "audio": audio}
    return parse_config(data)


def calls(b: Booth) -> list[Call]:
    return list(b.server.calls.values())


def lines_done(call: Call, count: int) -> bool:
    done = [line for line in call.persona_lines if line.end is not None]
    return len(done) >= count


async def heard_out(b: Booth) -> None:
    """The rep lets the persona finish: the booth no longer shows it speaking."""
    await b.until(lambda: b.led != "persona_speaking", what="the persona's turn to end")


def cues_since(b: Booth, start: int) -> list[str]:
    return [e.cue for e in b.timeline[start:] if isinstance(e, t.CueQueued)]


@pytest.mark.parametrize("dialect", ["booth", "seed003", "atoms"])
async def test_a_call_and_a_wifi_drop(tmp_path: Path, dialect: str) -> None:
    d = traits(dialect)
    with alsa_file_devices(tmp_path / "alsa", speech_like(4.0), paced=True, loop_capture=True):
        mic, speaker = devices_for(audio_config(dialect))
        async with running_booth(
            tmp_path,
            mic=mic,  # type: ignore[arg-type]
            speaker=speaker,  # type: ignore[arg-type]
            through_proxy=True,
            server_kw={"resume_window": 10.0},
            **sections(dialect),
        ) as b:
            assert b.proxy is not None
            # ── a whole call ──────────────────────────────────────────────────────────────
            await b.tap()
            await b.wait_state("listening")
            call = calls(b)[0]
            assert call.dialect == dialect
            await b.server.wait_until(lambda: lines_done(call, 1), 10, "the greeting")
            await heard_out(b)
            await b.press()
            await b.server.wait_frames(call.call_id, 40)
            await b.release()
            heard = call.frames_received
            if d.idle_silence:
                # Button up: the line stays open with silence, for the service's turn detection.
                await b.server.wait_frames(call.call_id, heard + 15)
                tail = np.frombuffer(bytes(call.rep_audio[-640 * 10 :]), dtype="<i2")
                assert not tail.any()
            await b.server.wait_until(lambda: lines_done(call, 2), 10, "the reply")
            await heard_out(b)
            assert len(call.rep_turns) == 1
            await b.double_press()
            await b.wait_state("scoring")
            await b.until(lambda: b.app.summaries, what="the summary")
            summary = b.app.summaries[-1]
            assert summary.drill_key == DRILL_SENT[dialect]
            # No false underruns at the natural end of each persona turn, markers or not.
            assert summary.underruns == 0
            assert summary.end_reason == "double_press"
            if d.score:
                await b.until(lambda: b.count("score") == 1, what="the score")
                assert summary.score is not None and summary.no_score is None
            else:
                # "call ended", the reason in the summary, idle after score_display.
                assert summary.score is None and summary.no_score == NOT_SCORED
                assert (summary.call_id is not None) is d.call_id
                await b.until(
                    lambda: "STATUS=Call ended – no score for this call" in b.notifications,
                    what="the no-score status",
                )
                assert b.app.machine.state == "scoring"
                b.clock.jump(5.0)
                await b.wait_state("idle")
                assert b.count("score") == 0

            # ── a second call, and a Wi-Fi drop ─────────────────────────────────────────
            b.clock.jump(30.0)  # past any score shown
            await b.wait_state("idle")
            await b.tap()
            await b.wait_state("listening")
            second = calls(b)[1]
            await b.server.wait_until(lambda: lines_done(second, 1), 10, "the greeting")
            mark = len(b.timeline)
            b.proxy.blackhole()
            if d.resume:
                await b.wait_state("reconnecting", within=10)
                assert cues_since(b, mark) == ["reconnect"]
                b.proxy.restore()
                await b.until(lambda: b.app.machine.state == "listening", 15, "resumed")
                assert second.resumes == 1
            else:
                # No resume: the call ends at once, NETWORK_LOST, the error cue and LEDs,
                # and never the reconnect cue.
                await b.wait_state("error", within=10)
                assert b.app.machine.error_code == "NETWORK_LOST"
                assert "reconnecting" not in b.states()[-3:]
                assert cues_since(b, mark) == ["error"]
                assert b.led == "error"
                # The next press starts a new call once the network is back.
                b.proxy.restore()
                await b.tap()
                await b.wait_state("listening")
                assert len(calls(b)) == 3
                await b.server.wait_call(second.call_id, CallStatus.SCORING, within=10)


@pytest.mark.parametrize("dialect", ["booth", "seed003", "atoms"])
async def test_a_service_error_keeps_its_code(tmp_path: Path, dialect: str) -> None:
    """An `error` followed by a close: that code, the error cue, never NETWORK_LOST, and no
    reconnect cue on the way (issue 13, defect 2)."""
    async with running_booth(tmp_path, **sections(dialect)) as b:
        b.server.faults.socket = SocketFaults(error_after=0.5, error_code="SERVICE_BUSY")
        await b.tap()
        await b.wait_state("listening")
        mark = len(b.timeline)
        await b.wait_state("error")
        assert b.app.machine.error_code == "SERVICE_BUSY"
        assert cues_since(b, mark) == ["error"]
        assert "reconnecting" not in b.states()
        await b.until(lambda: b.app.summaries, what="the summary")
        summary = b.app.summaries[-1]
        assert summary.error_code == "SERVICE_BUSY"
        assert summary.end_reason == "SERVICE_BUSY"
