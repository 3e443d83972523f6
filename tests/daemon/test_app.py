"""The real daemon end to end: devserver on loopback, MockFactory pins, a real NOTIFY_SOCKET."""

from __future__ import annotations

from pathlib import Path

import pytest

from booth.daemon.timeline import LedShown
from booth.devserver.calls import CallStatus
from tests.daemon.harness import running_booth


async def test_full_call_through_every_state_with_leds(tmp_path: Path) -> None:
    async with running_booth(tmp_path, call={"score_display": 5.0}) as b:
        assert b.led == "idle"
        await b.until(lambda: any(n.startswith("READY=1") for n in b.notifications), what="READY")
        await b.tap()
        await b.wait_state("listening")
        call = b.call()
        await b.until(lambda: b.led == "persona_speaking", what="persona greeting")
        assert not b.mic.listening  # muted: the mic frames nothing for the call
        # Barge in while the persona speaks: its queued audio is flushed at once.
        await b.press()
        await b.wait_state("talking")
        assert b.led == "talking" and b.count("flush") == 1 and b.speaker.flushes == 1
        assert b.mic.listening
        b.mic.speaking = True
        await b.server.wait_frames(call.call_id, 25)
        b.mic.speaking = False
        await b.release()
        await b.wait_state("listening")
        assert not b.mic.listening
        await b.double_press()
        await b.wait_state("scoring")
        await b.until(lambda: b.led == "score", what="score on the LEDs")
        await b.server.wait_call(call.call_id, CallStatus.SCORED)
        b.clock.jump(6.0)
        await b.wait_state("idle")
        led_of = {
            "connecting": {"connecting"},
            "listening": {"listening", "persona_speaking"},
            "talking": {"talking"},
            "scoring": {"scoring"},
            "idle": {"idle"},
        }
        seen = [(state, led.pattern if led else "") for state, led in b.state_leds]
        for state, led in seen:
            assert led in led_of[state], (state, led)
        assert [s for s, _ in seen] == [
            "connecting",
            "listening",
            "talking",
            "listening",
            "talking",  # the first press of the double press
            "listening",
            "scoring",
            "idle",
        ]
        colours = {e.pattern.name: e.pattern.colour for e in b.timeline if isinstance(e, LedShown)}
        assert colours["score"] in ("green", "amber", "red")
        assert colours["persona_speaking"] == "green+blue" and colours["talking"] == "red"
        assert call.end_reason == "client_requested"
        summary = b.app.summaries[-1]
        assert summary.call_id == call.call_id and summary.end_reason == "double_press"
        assert summary.score == call.score.overall
        assert summary.frames_sent >= 25 and summary.frames_received > 0
        assert b.speaker.cues >= 2  # start and end cues through the speaker path
        assert b.speaker.turns_ended >= 1  # persona turn ends are not counted as underruns
        assert len(b.speaker.audio) > 16000  # the persona's voice reached the speaker
        assert any(n.startswith("STATUS=In call with Alex, 00:0") for n in b.notifications)


async def test_toggle_mode(tmp_path: Path) -> None:
    async with running_booth(tmp_path, panel={"talk_mode": "toggle"}) as b:
        await b.tap()
        await b.wait_state("listening")
        await b.press()
        await b.wait_state("talking")
        await b.release()
        assert b.app.machine.state == "talking"  # release does not close the mic in toggle
        b.mic.speaking = True
        await b.server.wait_frames(b.call().call_id, 10)
        b.mic.speaking = False
        await b.press()
        await b.wait_state("listening")
        await b.release()
        sent = b.call().frames_received
        b.mic.speaking = True  # the mic is closed now: nothing more reaches the service
        await b.double_press()
        await b.wait_state("scoring")
        assert b.call().frames_received <= sent + 3  # the double press's own brief talk


async def test_open_mode_mic_open_all_call(tmp_path: Path) -> None:
    async with running_booth(tmp_path, panel={"talk_mode": "open"}) as b:
        b.mic.speaking = True
        await b.tap()
        await b.wait_state("talking")
        assert b.led == "talking"
        await b.server.wait_frames(b.call().call_id, 20)  # no press needed
        await b.double_press()
        await b.wait_state("scoring")


async def test_idle_timeout_ends_an_abandoned_call(tmp_path: Path) -> None:
    async with running_booth(tmp_path, call={"idle_timeout": 10.0}) as b:
        await b.tap()
        await b.wait_state("listening")
        call = b.call()
        b.clock.jump(11.0)
        await b.wait_state("scoring")
        await b.server.wait_call(call.call_id, CallStatus.SCORED)
        assert call.end_reason == "client_requested"
        await b.until(lambda: b.app.summaries, what="summary")
        assert b.app.summaries[-1].end_reason == "idle_timeout"


async def test_max_call_duration(tmp_path: Path) -> None:
    async with running_booth(tmp_path, call={"idle_timeout": 10.0, "max_duration": 30.0}) as b:
        await b.tap()
        await b.wait_state("listening")
        b.clock.jump(31.0)
        await b.wait_state("scoring")
        await b.until(lambda: b.app.summaries, what="summary")
        assert b.app.summaries[-1].end_reason == "max_duration"


async def test_mic_missing_at_start_then_plugged_in(tmp_path: Path) -> None:
    async with running_booth(tmp_path) as b:
        b.mic.present = False
        await b.tap()
        await b.wait_state("error")
        assert b.app.panel is not None and b.app.panel.led_state.blinks == 2
        assert not b.server.calls  # no call was burnt on the service
        assert any("NO_MIC_AVAILABLE" in n for n in b.notifications)
        b.mic.present = True  # replugged: the booth notices by itself
        await b.wait_state("idle")
        await b.tap()
        await b.wait_state("listening")


async def test_mic_lost_mid_call_and_back(tmp_path: Path) -> None:
    async with running_booth(tmp_path) as b:
        await b.tap()
        await b.wait_state("listening")
        call = b.call()
        b.mic.unplug()
        await b.wait_state("error")
        assert b.app.machine.error_code == "MIC_DEVICE_DISCONNECTED"
        await b.server.wait_call(call.call_id, CallStatus.SCORING)  # ended on the service
        await b.until(lambda: b.app.summaries, what="summary")
        assert b.app.summaries[-1].end_reason == "MIC_DEVICE_DISCONNECTED"
        b.mic.present = True
        await b.wait_state("idle")
        await b.tap()
        await b.wait_state("listening")
        assert b.app.call is not None and b.app.call.call_id != call.call_id


async def test_speaker_missing_at_boot_shows_the_error_and_still_reports_ready(
    tmp_path: Path,
) -> None:
    from booth.sim.fake_audio import FakeSpeaker

    speaker = FakeSpeaker()
    speaker.present = False
    async with running_booth(tmp_path, speaker=speaker) as b:
        assert b.app.machine.state == "error"
        assert b.app.panel is not None and b.app.panel.led_state.blinks == 3
        await b.until(lambda: any(n.startswith("READY=1") for n in b.notifications))
        await b.tap()  # retry while it is still missing: straight back to the error
        await b.until(lambda: b.states()[-2:] == ["connecting", "error"], what="retry fails")
        assert not b.server.calls
        speaker.present = True
        await b.wait_state("idle")
    # Checked apart from the daemon's process at start, in it while awaited (tests/audio/
    # test_presence.py: what each means for the real devices).
    assert speaker.probes[0] is True and len(speaker.probes) > 1
    assert not any(speaker.probes[1:])


async def test_wifi_drop_and_resume(tmp_path: Path) -> None:
    from booth.devserver.faults import SocketFaults

    async with running_booth(tmp_path) as b:
        b.server.faults.socket = SocketFaults(drop_after=1.0)
        await b.tap()
        await b.wait_state("listening")
        await b.wait_state("reconnecting", within=10)
        assert b.led == "reconnecting"
        await b.wait_state("listening", within=15)
        call = b.call()
        assert call.resumes == 1
        await b.double_press()
        await b.wait_state("scoring")
        await b.until(lambda: b.app.summaries, within=15, what="summary")
        summary = b.app.summaries[-1]
        assert summary.reconnects == 1 and summary.longest_outage_sec >= 0.0


async def test_bad_api_key_goes_to_error_and_press_retries(tmp_path: Path) -> None:
    async with running_booth(tmp_path) as b:
        b.server.api_keys.clear()
        await b.tap()
        await b.wait_state("error")
        assert b.app.machine.error_code == "INVALID_API_KEY"
        assert b.app.panel is not None and b.app.panel.led_state.blinks == 4
        from tests.daemon.harness import API_KEY

        b.server.api_keys.add(API_KEY)
        await b.tap()
        await b.wait_state("listening")


async def test_stop_mid_call_ends_it_on_the_server(tmp_path: Path) -> None:
    async with running_booth(tmp_path) as b:
        await b.tap()
        await b.wait_state("listening")
        call = b.call()
        b.app.request_stop()
        await b.server.wait_call(call.call_id, CallStatus.SCORING, within=10)
        assert call.end_reason == "client_requested"
        await b.until(lambda: any(n.startswith("STOPPING=1") for n in b.notifications))
        await b.until(lambda: b.app.summaries, what="summary")
        assert b.app.summaries[-1].end_reason == "shutdown"
        assert b.led == "off"


async def test_watchdog_pings_from_the_daemon_loop(tmp_path: Path) -> None:
    import time

    async with running_booth(tmp_path, watchdog_usec=100_000) as b:
        await b.until(lambda: b.notifications.count("WATCHDOG=1") >= 2, what="pings")
        b.read_notifications()  # whatever was sent before the block
        time.sleep(0.3)  # the fault under test: the loop is blocked for 6 ping intervals
        assert "WATCHDOG=1" not in b.read_notifications()
        before = b.notifications.count("WATCHDOG=1")
        await b.until(lambda: b.notifications.count("WATCHDOG=1") > before, what="resumed")


async def test_booth_without_gpio_still_holds_a_call(tmp_path: Path) -> None:
    from booth.daemon.inputs import Press

    async with running_booth(tmp_path, panel={"enabled": False}) as b:
        assert b.app.panel is not None and "disabled" in b.app.panel.degraded
        b.app.feed(Press())
        await b.wait_state("listening")
        assert b.app.panel.led_state.pattern in ("listening", "persona_speaking")


async def test_score_that_never_comes_is_given_up(tmp_path: Path) -> None:
    async with running_booth(
        tmp_path, server_kw={"scoring_delay": 60.0}, call={"score_wait": 0.5}
    ) as b:
        await b.tap()
        await b.wait_state("listening")
        await b.double_press()
        await b.wait_state("scoring")
        assert b.led == "scoring"
        await b.wait_state("idle")
        summary = b.app.summaries[-1]
        assert summary.score is None and summary.end_reason == "double_press"
        assert b.count("score") == 0


async def test_server_ending_the_call_is_scored_too(tmp_path: Path) -> None:
    from booth.devserver.faults import SocketFaults

    async with running_booth(tmp_path) as b:
        b.server.faults.socket = SocketFaults(end_after=1.0, end_reason="agent_disconnected")
        await b.tap()
        await b.wait_state("listening")
        await b.wait_state("scoring")
        await b.until(lambda: b.app.summaries, what="summary")
        summary = b.app.summaries[-1]
        assert summary.end_reason == "agent_disconnected" and summary.score is not None


@pytest.mark.parametrize("ended_by", ["booth", "service"])
async def test_call_without_call_id_returns_to_idle_after_score_display(
    tmp_path: Path, ended_by: str
) -> None:
    """A seed-003-style service (SDK token, `connected` without a callId): nothing to score."""
    from booth.devserver.faults import SocketFaults

    async with running_booth(
        tmp_path, service={"protocol": "seed003"}, call={"score_display": 5.0}
    ) as b:
        end_after = 1.0 if ended_by == "service" else None
        b.server.faults.socket = SocketFaults(hide_call_id=True, end_after=end_after)
        await b.tap()
        await b.wait_state("listening")
        assert b.app.call is not None and not b.app.call.call_id
        if ended_by == "booth":
            await b.double_press()
        await b.wait_state("scoring")
        await b.until(lambda: b.app.summaries, what="summary")
        summary = b.app.summaries[-1]
        assert summary.call_id is None and summary.score is None
        await b.until(
            lambda: "STATUS=Call ended – no score for this call" in b.notifications,
            what="no-score status",
        )
        assert b.app.machine.state == "scoring"  # it stays up for score_display
        b.clock.jump(5.0)
        await b.wait_state("idle")
        assert b.led == "idle" and b.count("score") == 0
        (call,) = b.server.calls.values()
        assert call.duration_s > 0  # a real call on the service, only without an id


async def test_keyboard_space_bar_drives_the_booth(tmp_path: Path) -> None:
    from booth.sim.demo import KeyboardButton

    async with running_booth(tmp_path, panel={"talk_mode": "toggle"}) as b:
        stopped: list[bool] = []
        keys = KeyboardButton(b.app, lambda: stopped.append(True))
        keys.key(" ")
        await b.wait_state("listening")
        b.clock.jump(1.0)
        keys.key(" ")
        await b.wait_state("talking")
        b.clock.jump(1.0)
        keys.key(" ")
        await b.wait_state("listening")
        b.clock.jump(1.0)
        keys.key("e")
        await b.wait_state("scoring")
        keys.key("q")
        assert stopped == [True]


async def test_speaker_lost_mid_call_ends_it_with_playback_blocked(tmp_path: Path) -> None:
    async with running_booth(tmp_path) as b:
        await b.tap()
        await b.wait_state("listening")
        call = b.call()
        b.speaker.alive = False  # the USB speaker's stream died
        b.speaker.present = False
        await b.wait_state("error")
        assert b.app.machine.error_code == "AUDIO_PLAYBACK_BLOCKED"
        await b.server.wait_call(call.call_id, CallStatus.SCORING)
        b.speaker.alive = b.speaker.present = True
        await b.wait_state("idle")


async def test_next_call_started_while_scoring_still_scores_the_first(tmp_path: Path) -> None:
    async with running_booth(tmp_path) as b:
        await b.tap()
        await b.wait_state("listening")
        first = b.call()
        await b.double_press()
        await b.wait_state("scoring")
        await b.tap()  # the next rep does not wait for the score
        await b.wait_state("listening")
        second = b.call()
        assert second.call_id != first.call_id
        await b.until(
            lambda: any(s.call_id == first.call_id for s in b.app.summaries), what="summary"
        )
        summary = next(s for s in b.app.summaries if s.call_id == first.call_id)
        assert summary.score is not None
        assert b.app.machine.state == "listening"  # the first call's score did not disturb this one
