"""The booth state machine: every path of its table, plus random input sequences."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from booth.daemon.commands import (
    CloseMic,
    Command,
    Cue,
    EndCall,
    FetchScore,
    FlushPlayback,
    Log,
    OpenMic,
    PlayCue,
    SendTurnEnd,
    SetLed,
    SetStatus,
    StartCall,
)
from booth.daemon.inputs import (
    INPUT_TYPES,
    CallEnded,
    CallError,
    CallReady,
    CallReconnected,
    CallReconnecting,
    DeviceError,
    DeviceRestored,
    DoublePress,
    Input,
    PersonaSpeaking,
    Press,
    Release,
    ScoreGaveUp,
    ScoreReceived,
    Shutdown,
    Tick,
    UserSpeech,
)
from booth.daemon.machine import (
    CALL_STATES,
    TABLE,
    BoothMachine,
    Settings,
    State,
    TalkMode,
    mermaid,
)
from booth.panel.display import error_blinks, score_band


class Driver:
    """Feeds inputs at explicit times and keeps every command for assertions."""

    def __init__(self, **kw: object) -> None:
        self.m = BoothMachine(Settings(**kw))  # type: ignore[arg-type]
        self.now = 1000.0
        self.out: list[Command] = self.m.start(self.now)

    def feed(self, event: Input, *, after: float = 0.0) -> list[Command]:
        self.now += after
        cmds = self.m.feed(event, self.now)
        self.out += cmds
        return cmds

    @property
    def state(self) -> State:
        return self.m.state

    @property
    def led(self) -> str:
        leds = [c for c in self.out if isinstance(c, SetLed)]
        return leds[-1].pattern.name

    def into_call(self, persona: str = "Alex", call_id: str = "athos_call_1") -> None:
        self.feed(Press())
        self.feed(Release(), after=0.1)
        self.feed(CallReady(persona, call_id), after=1.0)


def kinds(cmds: Sequence[Command]) -> list[type]:
    return [type(c) for c in cmds if not isinstance(c, Log | SetStatus)]


def test_full_ptt_call_through_every_state() -> None:
    d = Driver(score_display=20.0)
    assert d.state is State.IDLE and d.led == "idle"
    cmds = d.feed(Press())
    assert StartCall() in cmds and d.state is State.CONNECTING and d.led == "connecting"
    d.feed(Release(), after=0.1)
    cmds = d.feed(CallReady("Alex", "athos_call_1"), after=1.0)
    assert d.state is State.LISTENING and d.led == "listening"
    assert PlayCue(Cue.START) in cmds and OpenMic() not in cmds
    d.feed(PersonaSpeaking(True))
    assert d.led == "persona_speaking"
    cmds = d.feed(Press(), after=2.0)  # barge-in
    assert kinds(cmds)[:2] == [FlushPlayback, OpenMic]
    assert d.state is State.TALKING and d.led == "talking" and d.m.mic_open
    cmds = d.feed(Release(), after=3.0)
    assert kinds(cmds)[:2] == [CloseMic, SendTurnEnd] and d.state is State.LISTENING
    assert d.led == "listening"  # barge-in cleared the persona-speaking pulse
    d.feed(CallReconnecting(), after=1.0)
    assert d.state is State.RECONNECTING and d.led == "reconnecting"
    d.feed(CallReconnected(), after=4.0)
    assert d.state is State.LISTENING and d.m.call.longest_outage == pytest.approx(4.0)
    d.feed(Press(), after=1.0)
    d.feed(Release(), after=0.1)
    cmds = d.feed(DoublePress(), after=0.2)
    assert EndCall("double_press") in cmds and PlayCue(Cue.END) in cmds
    assert d.state is State.SCORING and d.led == "scoring" and not d.m.mic_open
    cmds = d.feed(CallEnded("client_requested", "athos_call_1"), after=0.3)
    assert cmds == [FetchScore("athos_call_1")]
    d.feed(ScoreReceived(81), after=5.0)
    assert d.led == "score" and d.state is State.SCORING
    assert [c for c in d.out if isinstance(c, SetLed)][-1].pattern.colour == "green"
    d.feed(Tick(), after=19.0)
    assert d.state is State.SCORING
    d.feed(Tick(), after=1.0)
    assert d.state is State.IDLE and d.led == "idle"
    assert not [c for c in d.out if isinstance(c, Log) and c.level == "warning"]
    assert d.m.call.reconnects == 1 and d.m.call.end_reason == "double_press"


def test_toggle_mode_press_opens_and_press_closes() -> None:
    d = Driver(talk_mode="toggle")
    d.into_call()
    cmds = d.feed(Press(), after=1.0)
    assert OpenMic() in cmds and d.state is State.TALKING
    assert d.feed(Release(), after=0.2) == [] and d.state is State.TALKING
    cmds = d.feed(Press(), after=3.0)
    assert kinds(cmds)[:2] == [CloseMic, SendTurnEnd] and d.state is State.LISTENING


def test_open_mode_mic_open_for_the_whole_call() -> None:
    d = Driver(talk_mode="open")
    d.feed(Press())
    cmds = d.feed(CallReady("Alex", "c1"), after=1.0)
    assert OpenMic() in cmds and d.state is State.TALKING
    d.feed(PersonaSpeaking(True))
    cmds = d.feed(Press(), after=1.0)
    assert cmds == [FlushPlayback()] and d.state is State.TALKING
    assert d.feed(Release(), after=0.1) == []
    cmds = d.feed(CallReconnecting())
    assert CloseMic() in cmds and not d.m.mic_open
    cmds = d.feed(CallReconnected(), after=2.0)
    assert OpenMic() in cmds and d.state is State.TALKING


def test_barge_in_only_flushes_while_persona_speaks() -> None:
    d = Driver()
    d.into_call()
    cmds = d.feed(Press())
    assert FlushPlayback() not in cmds
    d.feed(Release())
    d.feed(PersonaSpeaking(True))
    d.feed(PersonaSpeaking(False))
    assert FlushPlayback() not in d.feed(Press())


def test_idle_timeout_ends_an_abandoned_call_and_speech_keeps_it_alive() -> None:
    d = Driver(idle_timeout=30.0)
    d.into_call()
    d.feed(Tick(), after=29.0)
    assert d.state is State.LISTENING
    d.feed(UserSpeech(True))
    d.feed(Tick(), after=29.0)
    assert d.state is State.LISTENING
    cmds = d.feed(Tick(), after=1.5)
    assert EndCall("idle_timeout") in cmds and d.state is State.SCORING


def test_idle_timeout_applies_while_the_button_is_stuck_down() -> None:
    d = Driver(idle_timeout=30.0)
    d.into_call()
    d.feed(Press())
    cmds = d.feed(Tick(), after=31.0)
    assert kinds(cmds)[:2] == [CloseMic, EndCall] and not d.m.mic_open


def test_max_duration_ends_even_a_lively_call() -> None:
    d = Driver(idle_timeout=30.0, max_duration=60.0)
    d.into_call()
    for _ in range(5):
        d.feed(UserSpeech(True), after=11.0)
        d.feed(Tick())
    assert d.state is State.LISTENING
    cmds = d.feed(Tick(), after=6.0)
    assert EndCall("max_duration") in cmds and d.m.call.end_reason == "max_duration"


def test_server_ends_the_call_we_score_it() -> None:
    d = Driver()
    d.into_call(call_id="athos_call_9")
    cmds = d.feed(CallEnded("max_duration"), after=5.0)
    assert FetchScore("athos_call_9") in cmds and EndCall not in kinds(cmds)
    assert d.state is State.SCORING
    assert d.feed(CallEnded("max_duration")) == []  # repeated: no second fetch


def test_network_lost_goes_to_error_with_one_blink_and_press_retries() -> None:
    d = Driver()
    d.into_call()
    d.feed(CallReconnecting(), after=1.0)
    d.feed(Tick(), after=7.0)
    assert SetStatus("Reconnecting (7 s)") in d.out
    assert d.feed(Press()) == [] and d.state is State.RECONNECTING  # ignored
    d.feed(CallError("NETWORK_LOST", "gone"), after=23.0)
    assert d.state is State.ERROR and d.led == "error"
    assert [c for c in d.out if isinstance(c, SetLed)][-1].pattern.blinks == 1
    assert d.m.call.longest_outage == pytest.approx(30.0)
    assert d.feed(CallEnded("NETWORK_LOST")) == []  # the late ended of the same call
    cmds = d.feed(Press(), after=5.0)
    assert StartCall() in cmds and d.state is State.CONNECTING


def test_mic_missing_at_start_then_plugged_back_in() -> None:
    d = Driver()
    d.feed(Press())
    cmds = d.feed(DeviceError("NO_MIC_AVAILABLE", "no input device"))
    assert EndCall("NO_MIC_AVAILABLE") in cmds and PlayCue(Cue.ERROR) in cmds
    assert d.state is State.ERROR
    assert [c for c in d.out if isinstance(c, SetLed)][-1].pattern.blinks == 2
    assert d.feed(DeviceRestored("speaker")) == [] and d.state is State.ERROR
    d.feed(DeviceRestored("mic"))
    assert d.state is State.IDLE


def test_mic_lost_mid_call_ends_it_and_closes_the_mic() -> None:
    d = Driver()
    d.into_call()
    d.feed(Press())
    cmds = d.feed(DeviceError("MIC_DEVICE_DISCONNECTED"), after=2.0)
    assert kinds(cmds)[:2] == [CloseMic, EndCall] and d.state is State.ERROR


def test_speaker_missing_shows_three_blinks() -> None:
    d = Driver()
    d.feed(DeviceError("AUDIO_PLAYBACK_BLOCKED"))
    assert d.state is State.ERROR
    assert [c for c in d.out if isinstance(c, SetLed)][-1].pattern.blinks == 3
    assert "AUDIO_PLAYBACK_BLOCKED" in d.m.status_text(d.now)


def test_rest_error_while_connecting() -> None:
    d = Driver()
    d.feed(Press())
    d.feed(CallError("INVALID_API_KEY", "bad key"))
    assert d.state is State.ERROR and d.m.error_code == "INVALID_API_KEY"
    assert [c for c in d.out if isinstance(c, SetLed)][-1].pattern.blinks == 4


def test_double_press_while_connecting_cancels() -> None:
    d = Driver()
    d.feed(Press())
    cmds = d.feed(DoublePress(), after=0.2)
    assert EndCall("cancelled") in cmds and d.state is State.IDLE


def test_connect_timeout_never_leaves_the_booth_hanging() -> None:
    d = Driver(connect_timeout=20.0)
    d.feed(Press())
    d.feed(Tick(), after=19.0)
    assert d.state is State.CONNECTING
    cmds = d.feed(Tick(), after=2.0)
    assert EndCall("connect_timeout") in cmds and d.state is State.ERROR


def test_ready_after_the_booth_moved_on_is_ended() -> None:
    d = Driver()
    d.feed(Press())
    d.feed(DoublePress())
    assert d.feed(CallReady("Alex", "c2")) == [EndCall("stale")]
    assert d.state is State.IDLE


def test_end_without_ended_still_fetches_the_score() -> None:
    d = Driver(end_grace=10.0)
    d.into_call(call_id="c3")
    d.feed(DoublePress())
    assert FetchScore("c3") not in d.feed(Tick(), after=5.0)
    assert FetchScore("c3") in d.feed(Tick(), after=5.0)
    assert FetchScore("c3") not in d.feed(CallEnded("client_requested"))


def test_score_gave_up_and_zero_display() -> None:
    d = Driver()
    d.into_call()
    d.feed(DoublePress())
    d.feed(CallEnded("client_requested"))
    cmds = d.feed(ScoreGaveUp(), after=180.0)
    assert d.state is State.IDLE and SetLed in kinds(cmds)
    d2 = Driver(score_display=0.0)
    d2.into_call()
    d2.feed(CallEnded("agent_disconnected"))
    d2.feed(ScoreReceived(40))
    assert d2.state is State.IDLE and d2.m.call.score == 40


def test_press_while_scoring_starts_the_next_call_and_late_score_is_quiet() -> None:
    d = Driver()
    d.into_call()
    d.feed(CallEnded("agent_disconnected"))
    d.feed(Press(), after=1.0)
    assert d.state is State.CONNECTING
    assert d.feed(ScoreReceived(70)) == [] and d.state is State.CONNECTING


def test_press_while_scoring_before_ended_still_scores_the_last_call() -> None:
    d = Driver()
    d.into_call(call_id="athos_call_1")
    d.feed(DoublePress(), after=1.0)
    assert d.state is State.SCORING
    cmds = d.feed(Press(), after=0.5)  # the service has not said `ended` yet
    assert kinds(cmds)[:2] == [FetchScore, StartCall] and FetchScore("athos_call_1") in cmds
    assert d.state is State.CONNECTING


@pytest.mark.parametrize("ended_by_service", [True, False])
def test_call_without_call_id_is_not_scored_and_idles_after_score_display(
    ended_by_service: bool,
) -> None:
    d = Driver(score_display=20.0)
    d.into_call(call_id="")
    if ended_by_service:
        cmds = d.feed(CallEnded("agent_disconnected", ""), after=5.0)
    else:
        d.feed(DoublePress(), after=5.0)
        cmds = d.feed(CallEnded("client_requested", ""), after=0.2)
    assert d.state is State.SCORING and FetchScore not in kinds(cmds)
    d.feed(Tick(), after=19.0)
    assert d.state is State.SCORING
    assert SetStatus("Call ended – no score for this call") in d.out
    d.feed(Tick(), after=1.5)
    assert d.state is State.IDLE and d.led == "idle"
    assert not [c for c in d.out if isinstance(c, FetchScore)]


def test_call_without_call_id_that_never_says_ended_still_idles() -> None:
    d = Driver(score_display=20.0, end_grace=10.0)
    d.into_call(call_id="")
    d.feed(DoublePress(), after=5.0)
    d.feed(Tick(), after=10.0)  # end_grace passed: the call counts as over from here
    d.feed(Tick(), after=19.0)
    assert d.state is State.SCORING
    d.feed(Tick(), after=1.5)
    assert d.state is State.IDLE
    assert not [c for c in d.out if isinstance(c, FetchScore)]


def test_shutdown_mid_call_ends_it_and_turns_the_leds_off() -> None:
    d = Driver()
    d.into_call()
    d.feed(Press())
    cmds = d.feed(Shutdown())
    assert kinds(cmds)[:2] == [CloseMic, EndCall] and EndCall("shutdown") in cmds
    assert d.state is State.STOPPED and d.led == "off"
    assert SetStatus("Stopping") in cmds
    cmds = d.feed(Press())
    assert d.state is State.STOPPED and isinstance(cmds[0], Log) and cmds[0].level == "warning"


def test_shutdown_when_idle_sends_no_end() -> None:
    d = Driver()
    assert EndCall not in kinds(d.feed(Shutdown()))


def test_illegal_input_leaves_state_and_is_reported() -> None:
    d = Driver()
    d.into_call()
    before = (d.state, d.m.mic_open)
    cmds = d.feed(CallReconnected())
    assert (d.state, d.m.mic_open) == before
    assert len(cmds) == 1 and isinstance(cmds[0], Log) and cmds[0].level == "warning"
    assert cmds[0].fields["EVENT"] == "illegal_input"
    assert "reconnected" in cmds[0].message and "listening" in cmds[0].message


def test_status_texts_in_words() -> None:
    d = Driver(idle_timeout=300.0)
    assert d.m.status_text(d.now) == "Idle – press the button"
    d.into_call("Alex")
    d.feed(Tick(), after=151.0)
    assert SetStatus("In call with Alex, 02:31") in d.out


def test_status_is_only_sent_when_it_changes() -> None:
    d = Driver()
    d.into_call()
    first = d.feed(Tick(), after=0.2)
    second = d.feed(Tick(), after=0.2)
    assert first == [] or second == []


@pytest.mark.parametrize(
    ("code", "blinks"),
    [
        ("NETWORK_LOST", 1),
        ("SERVICE_UNAVAILABLE", 1),
        ("NO_MIC_AVAILABLE", 2),
        ("MIC_PERMISSION_DENIED", 2),
        ("AUDIO_PLAYBACK_BLOCKED", 3),
        ("TENANT_QUOTA_EXCEEDED", 4),
        ("DRILL_NOT_FOUND", 5),
        ("SOMETHING_NEW", 6),
    ],
)
def test_error_blink_classes(code: str, blinks: int) -> None:
    assert error_blinks(code) == blinks


def test_score_bands() -> None:
    assert [score_band(s) for s in (100, 75, 74, 50, 49, 0)] == [
        "green",
        "green",
        "amber",
        "amber",
        "red",
        "red",
    ]


def test_table_has_no_dead_rows() -> None:
    # Within one (state, trigger) group a row after an unguarded row could never fire.
    groups: dict[tuple[State, str], list[bool]] = {}
    for row in TABLE:
        guarded = groups.setdefault((row.source, row.trigger), [])
        assert all(guarded), f"dead row {row.source} {row.trigger} -> {row.target}"
        guarded.append(row.guard is not None)
    triggers = {t.kind for t in INPUT_TYPES}
    assert {row.trigger for row in TABLE} <= triggers


def test_mermaid_is_drawn_from_the_table() -> None:
    text = mermaid()
    assert text.startswith("stateDiagram-v2\n") and text == mermaid()
    for row in TABLE:
        if row.target is not None and row.target not in (row.source, State.STOPPED):
            assert f"{row.source} --> {row.target} : " in text
    assert "listening --> talking : press [persona speaking: barge-in]" in text
    assert "idle --> stopped" not in text and "shutdown" in text


# ---------------------------------------------------------------------------------------------
# Random sequences

inputs = st.one_of(
    st.just(Press()),
    st.just(Release()),
    st.just(DoublePress()),
    st.builds(CallReady, st.sampled_from(["Alex", ""]), st.sampled_from(["c1", ""])),
    st.builds(PersonaSpeaking, st.booleans()),
    st.builds(UserSpeech, st.booleans()),
    st.just(CallReconnecting()),
    st.just(CallReconnected()),
    st.builds(
        CallEnded,
        st.sampled_from(["client_requested", "max_duration", "NETWORK_LOST", "agent_disconnected"]),
        st.sampled_from(["c1", ""]),
    ),
    st.builds(CallError, st.sampled_from(["NETWORK_LOST", "INVALID_API_KEY", "X"])),
    st.just(Tick()),
    st.builds(ScoreReceived, st.integers(0, 100)),
    st.just(ScoreGaveUp()),
    st.builds(DeviceError, st.sampled_from(["NO_MIC_AVAILABLE", "AUDIO_PLAYBACK_BLOCKED"])),
    st.builds(DeviceRestored, st.sampled_from(["mic", "speaker"])),
    st.just(Shutdown()),
)
LED_OF_STATE = {
    State.IDLE: {"idle"},
    State.CONNECTING: {"connecting"},
    State.LISTENING: {"listening", "persona_speaking"},
    State.TALKING: {"talking"},
    State.RECONNECTING: {"reconnecting"},
    State.SCORING: {"scoring", "score"},
    State.ERROR: {"error"},
    State.STOPPED: {"off"},
}


@settings(max_examples=400, deadline=None)
@given(
    mode=st.sampled_from(["ptt", "toggle", "open"]),
    steps=st.lists(st.tuples(inputs, st.floats(0, 120)), max_size=60),
)
def test_random_inputs_keep_the_invariants(
    mode: TalkMode, steps: list[tuple[Input, float]]
) -> None:
    m = BoothMachine(Settings(talk_mode=mode, idle_timeout=30, max_duration=300))
    now = 0.0
    mic = False
    led = "idle"
    m.start(now)
    for event, dt in steps:
        now += dt
        before = (m.state, m.mic_open, m.error_code)
        cmds = m.feed(event, now)
        illegal = [
            c for c in cmds if isinstance(c, Log) and c.fields.get("EVENT") == "illegal_input"
        ]
        if illegal:
            assert cmds == illegal and (m.state, m.mic_open, m.error_code) == before
        for c in cmds:
            if isinstance(c, OpenMic):
                assert not mic
                mic = True
            elif isinstance(c, CloseMic):
                assert mic
                mic = False
            elif isinstance(c, SetLed):
                led = c.pattern.name
            elif isinstance(c, StartCall):
                # Never a second call while one is live on the service.
                assert before[0] not in CALL_STATES, "a call started while one was live"
            elif isinstance(c, FetchScore):
                # Only for a call that is over: in scoring, or leaving it for the next call.
                assert m.state in (State.SCORING, State.IDLE) or before[0] is State.SCORING
        # The mic is only ever open while talking, and the machine agrees with its commands.
        assert mic == m.mic_open
        assert not mic or m.state is State.TALKING
        # The LEDs always show the state the booth is in.
        assert led in LED_OF_STATE[m.state]
        # A live call exists exactly in the call states (ended by the service counts too).
        if m.state in (State.IDLE, State.STOPPED):
            assert not mic
        if m.state is State.STOPPED:
            assert led == "off"
