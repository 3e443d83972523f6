"""The booth state machine: inputs in, commands out, no I/O and no clock.

The rules, in the order ``feed(event, now)`` applies them:

1. Every input arrives with ``now`` (monotonic seconds); the machine never reads a clock.
2. ``TABLE`` is the single source of truth. ``feed()`` takes the rows whose ``source`` is the
   current state and whose ``trigger`` is the input's ``kind``, and tries them in table order.
3. A row's ``guard`` (if any) is asked with the machine, the input and ``now``; the first row
   whose guard holds (or that has none) wins, and no other row is looked at.
4. The winning row's ``action`` runs first and returns its commands; then, if the row's
   ``target`` is a different state, the state changes and the target's entry commands follow
   (a ``Log`` of the change, the LED, the state's cue, the status text). A ``target`` of
   ``None`` (or the same state) stays, with no entry commands.
5. An input with no row for the current state is illegal: the state stays and a ``Log`` command
   (``EVENT=illegal_input``) reports it. Rows marked ``late`` are expected races (a persona event
   arriving after the call ended, the release of the press that started a call): they match,
   so nothing is logged, and do nothing else.
6. When rows exist but no guard holds, nothing happens, and that is legal.
7. Whether a call is scored is decided by rows too: a call that ends with a callId gets a
   ``FetchScore``; one with none shows "call ended" and returns to idle after ``score_display``.

Inputs are in ``booth.daemon.inputs``, commands in ``booth.daemon.commands``, and which LED
pattern a state shows in ``booth.panel.display``; ``mermaid()`` draws the table for the README.
The machine never touches a device; the daemon carries out the commands.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

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
    CallEnded,
    CallError,
    CallReady,
    DeviceError,
    DeviceRestored,
    Input,
    PersonaSpeaking,
    ScoreReceived,
    UserSpeech,
)
from booth.errors import ALL_CODES, MIC_CODES, SPEAKER_CODES, ErrorCode
from booth.panel.display import error_blinks, led_for, score_led
from booth.panel.patterns import LedPattern

TalkMode = Literal["ptt", "toggle", "open"]


class State(enum.StrEnum):
    IDLE = "idle"
    CONNECTING = "connecting"
    LISTENING = "listening"
    TALKING = "talking"
    RECONNECTING = "reconnecting"
    SCORING = "scoring"
    ERROR = "error"
    STOPPED = "stopped"  # after shutdown: terminal, LEDs off


#: States in which a call exists on the service (an ``EndCall`` is owed on the way out).
CALL_STATES = frozenset({State.CONNECTING, State.LISTENING, State.TALKING, State.RECONNECTING})
IN_CALL = frozenset({State.LISTENING, State.TALKING, State.RECONNECTING})


# ---------------------------------------------------------------------------------------------
# Settings and per-call context


@dataclass(frozen=True)
class Settings:
    talk_mode: TalkMode = "ptt"
    idle_timeout: float = 90.0  # no rep speech (or press) this long ends the call
    max_duration: float = 900.0
    score_display: float = 20.0  # how long the score colour stays up
    connect_timeout: float = 45.0  # a booth must never hang in "connecting"
    end_grace: float = 10.0  # after sending end, how long to wait for "ended" before scoring
    scored: bool = True  # the protocol scores calls (docs/protocol.md §6); if not, none is asked


@dataclass
class CallInfo:
    """What the machine knows about the current (or last) call; the daemon's summary reads it."""

    persona: str = ""
    call_id: str = ""
    requested_at: float = 0.0
    started_at: float | None = None
    last_activity: float = 0.0
    persona_speaking: bool = False
    reconnects: int = 0
    outage_started: float | None = None
    longest_outage: float = 0.0
    end_reason: str = ""
    end_requested_at: float | None = None
    ended: bool = False
    over_at: float | None = None  # when the call was known to be over (ended, or end overdue)
    score_requested: bool = False
    score: int | None = None
    score_shown_at: float | None = None


# ---------------------------------------------------------------------------------------------
# The table

Guard = Callable[["BoothMachine", Input, float], bool]
Action = Callable[["BoothMachine", Input, float], list[Command]]


@dataclass(frozen=True)
class Transition:
    source: State
    trigger: str  # an input's kind
    target: State | None  # None: stay
    action: Action | None = None
    guard: Guard | None = None
    label: str = ""  # the guard in words, for the diagram
    late: bool = False  # an expected race: dropped without a warning


def _mode(*modes: TalkMode) -> Guard:
    return lambda m, _e, _n: m.settings.talk_mode in modes


def _persona_speaking(m: BoothMachine, _e: Input, _n: float) -> bool:
    return m.call.persona_speaking


def _max_duration_reached(m: BoothMachine, _e: Input, now: float) -> bool:
    started = m.call.started_at
    return started is not None and now - started >= m.settings.max_duration


def _idle_too_long(m: BoothMachine, _e: Input, now: float) -> bool:
    return now - m.call.last_activity >= m.settings.idle_timeout


def _connect_too_long(m: BoothMachine, _e: Input, now: float) -> bool:
    return now - m.call.requested_at >= m.settings.connect_timeout


def _error_reason(_m: BoothMachine, e: Input, _n: float) -> bool:
    return isinstance(e, CallEnded) and e.reason in ALL_CODES


def _has_call_id(m: BoothMachine, e: Input, _n: float) -> bool:
    """The call can be scored: the protocol scores calls and this one has a callId."""
    return m.settings.scored and bool(m.call.call_id or (isinstance(e, CallEnded) and e.call_id))


def _score_owed(m: BoothMachine, _e: Input, _n: float) -> bool:
    """The call being left has a callId and nothing asked for its score yet."""
    return m.settings.scored and bool(m.call.call_id) and not m.call.score_requested


def _unscored(m: BoothMachine) -> bool:
    return not (m.settings.scored and m.call.call_id)


def _nothing_to_score(m: BoothMachine, _e: Input, now: float) -> bool:
    over = m.call.over_at
    return _unscored(m) and over is not None and now - over >= m.settings.score_display


def _end_overdue(m: BoothMachine, _e: Input, now: float) -> bool:
    asked = m.call.end_requested_at
    return (
        m.call.over_at is None
        and not m.call.score_requested
        and asked is not None
        and now - asked >= m.settings.end_grace
    )


def _end_overdue_with_call_id(m: BoothMachine, e: Input, now: float) -> bool:
    return _end_overdue(m, e, now) and not _unscored(m)


def _score_shown_long_enough(m: BoothMachine, _e: Input, now: float) -> bool:
    shown = m.call.score_shown_at
    return shown is not None and now - shown >= m.settings.score_display


def _score_not_shown(m: BoothMachine, _e: Input, _n: float) -> bool:
    return m.settings.score_display <= 0


def _open_mode_persona_speaking(m: BoothMachine, e: Input, now: float) -> bool:
    return m.settings.talk_mode == "open" and _persona_speaking(m, e, now)


def _device_back(m: BoothMachine, e: Input, _n: float) -> bool:
    if not isinstance(e, DeviceRestored):
        return False
    codes = MIC_CODES if e.device == "mic" else SPEAKER_CODES
    return m.error_code in codes


# Actions: the commands a transition emits before the target state's entry commands.


def _start_call(m: BoothMachine, _e: Input, now: float) -> list[Command]:
    m.call = CallInfo(requested_at=now, last_activity=now)
    m.error_code = ""
    return [StartCall()]


def _ready(m: BoothMachine, e: Input, now: float) -> list[Command]:
    assert isinstance(e, CallReady)
    m.call.persona = e.persona
    m.call.call_id = e.call_id or m.call.call_id
    m.call.started_at = now
    m.call.last_activity = now
    out: list[Command] = [PlayCue(Cue.START)]
    if m.settings.talk_mode == "open":
        out += m._open_mic()
    return out


def _talk(m: BoothMachine, _e: Input, now: float) -> list[Command]:
    m.call.last_activity = now
    return m._open_mic()


def _barge_in(m: BoothMachine, _e: Input, now: float) -> list[Command]:
    m.call.last_activity = now
    m.call.persona_speaking = False
    return [FlushPlayback(), *m._open_mic()]


def _flush_only(m: BoothMachine, _e: Input, now: float) -> list[Command]:
    m.call.last_activity = now
    m.call.persona_speaking = False
    return [FlushPlayback()]


def _stop_talking(m: BoothMachine, _e: Input, _now: float) -> list[Command]:
    return [*m._close_mic(), SendTurnEnd()]


def _activity(m: BoothMachine, _e: Input, now: float) -> list[Command]:
    m.call.last_activity = now
    return []


def _speech(m: BoothMachine, e: Input, now: float) -> list[Command]:
    if isinstance(e, UserSpeech) and e.speaking:
        m.call.last_activity = now
    return []


def _persona(m: BoothMachine, e: Input, _now: float) -> list[Command]:
    assert isinstance(e, PersonaSpeaking)
    m.call.persona_speaking = e.speaking
    if m.state is State.LISTENING:
        return [SetLed(m._led())]
    return []


def _ender(reason: str) -> Action:
    def action(m: BoothMachine, _e: Input, now: float) -> list[Command]:
        return m._end(reason, now)

    return action


def _end_for_error(m: BoothMachine, e: Input, now: float) -> list[Command]:
    assert isinstance(e, CallError | DeviceError)
    m.error_code = e.code
    return m._end(e.code, now)


def _set_error(m: BoothMachine, e: Input, _now: float) -> list[Command]:
    assert isinstance(e, CallError | DeviceError)
    m.error_code = e.code
    return []


def _update_error(m: BoothMachine, e: Input, now: float) -> list[Command]:
    _set_error(m, e, now)
    return [SetLed(m._led()), *m._status(now)]


def _connect_timeout(m: BoothMachine, _e: Input, now: float) -> list[Command]:
    m.error_code = ErrorCode.NETWORK_LOST
    return m._end("connect_timeout", now)


def _drop(m: BoothMachine, _e: Input, now: float) -> list[Command]:
    m.call.reconnects += 1
    m.call.outage_started = now
    m.call.persona_speaking = False
    return m._close_mic()


def _back(m: BoothMachine, _e: Input, now: float) -> list[Command]:
    started = m.call.outage_started
    if started is not None:
        m.call.longest_outage = max(m.call.longest_outage, now - started)
    m.call.outage_started = None
    m.call.last_activity = now  # the outage was not the rep's silence
    if m.settings.talk_mode == "open":
        return m._open_mic()
    return []


def _ended(m: BoothMachine, e: Input, now: float) -> list[Command]:
    """The service ended the call while we were in it (scored or not: the next row decides)."""
    assert isinstance(e, CallEnded)
    out = m._end(e.reason, now, send=False)
    return out + _over(m, e, now)


def _ended_scored(m: BoothMachine, e: Input, now: float) -> list[Command]:
    return _ended(m, e, now) + _fetch(m, e, now)


def _ended_error(m: BoothMachine, e: Input, now: float) -> list[Command]:
    assert isinstance(e, CallEnded)
    m.error_code = e.reason
    return m._end(e.reason, now, send=False)


def _over(m: BoothMachine, e: Input, now: float) -> list[Command]:
    """The call is over (ended, or it never said so within end_grace)."""
    if isinstance(e, CallEnded):
        m.call.ended = True
        m.call.call_id = m.call.call_id or e.call_id
    if m.call.over_at is None:
        m.call.over_at = now
    return []


def _fetch(m: BoothMachine, e: Input, now: float) -> list[Command]:
    """The call is over and has a callId (the row's guard): ask for its score, once."""
    _over(m, e, now)
    if m.call.score_requested:
        return []
    m.call.score_requested = True
    return [FetchScore(m.call.call_id)]


def _score_last(m: BoothMachine, _e: Input, _now: float) -> list[Command]:
    # The rep starts the next call before the last one said `ended`: it is still scored.
    m.call.score_requested = True
    return [FetchScore(m.call.call_id)]


def _score_last_and_start(m: BoothMachine, e: Input, now: float) -> list[Command]:
    return _score_last(m, e, now) + _start_call(m, e, now)


def _show_score(m: BoothMachine, e: Input, now: float) -> list[Command]:
    assert isinstance(e, ScoreReceived)
    m.call.score = e.score
    m.call.score_shown_at = now
    # The daemon logs the score itself, with the call's id, when the poll returns it.
    return [SetLed(score_led(e.score)), *m._status(now)]


def _stale_ready(_m: BoothMachine, _e: Input, _now: float) -> list[Command]:
    # A connect that finished after the booth moved on: end it, it bills otherwise.
    return [EndCall("stale")]


def _refresh_status(m: BoothMachine, _e: Input, now: float) -> list[Command]:
    return m._status(now)


def _shutdown(m: BoothMachine, _e: Input, now: float) -> list[Command]:
    out = m._close_mic()
    if m.state in CALL_STATES:
        m.call.end_reason = "shutdown"
        m.call.end_requested_at = now
        out.append(EndCall("shutdown"))
    return out


S = State
_ALL = tuple(State)
_LIVE = tuple(s for s in State if s is not State.STOPPED)
_QUIET = (S.IDLE, S.SCORING, S.ERROR)  # states where call-stream events are late

TABLE: tuple[Transition, ...] = (
    # idle
    Transition(S.IDLE, "press", S.CONNECTING, _start_call),
    Transition(S.IDLE, "tick", None, _refresh_status),
    # connecting
    Transition(S.CONNECTING, "ready", S.TALKING, _ready, _mode("open"), "open mode"),
    Transition(S.CONNECTING, "ready", S.LISTENING, _ready),
    Transition(S.CONNECTING, "double_press", S.IDLE, _ender("cancelled")),
    Transition(S.CONNECTING, "error", S.ERROR, _end_for_error),
    Transition(S.CONNECTING, "device_error", S.ERROR, _end_for_error),
    Transition(S.CONNECTING, "ended", S.ERROR, _ended_error, _error_reason, "error reason"),
    Transition(S.CONNECTING, "ended", S.IDLE, _ender("ended_before_ready")),
    Transition(
        S.CONNECTING, "tick", S.ERROR, _connect_timeout, _connect_too_long, "connect timeout"
    ),
    Transition(S.CONNECTING, "tick", None, _refresh_status),
    Transition(S.CONNECTING, "press", None, late=True),
    Transition(S.CONNECTING, "release", None, late=True),
    Transition(S.CONNECTING, "persona_speaking", None, _persona, late=True),
    Transition(S.CONNECTING, "user_speech", None, late=True),
    # listening
    Transition(
        S.LISTENING, "press", S.TALKING, _barge_in, _persona_speaking, "persona speaking: barge-in"
    ),
    Transition(S.LISTENING, "press", S.TALKING, _talk),
    Transition(S.LISTENING, "release", None, late=True),
    Transition(S.LISTENING, "persona_speaking", None, _persona),
    Transition(S.LISTENING, "user_speech", None, _speech),
    # talking
    Transition(S.TALKING, "release", S.LISTENING, _stop_talking, _mode("ptt"), "ptt"),
    Transition(S.TALKING, "release", None, late=True),
    Transition(S.TALKING, "press", S.LISTENING, _stop_talking, _mode("toggle"), "toggle"),
    Transition(
        S.TALKING,
        "press",
        None,
        _flush_only,
        _open_mode_persona_speaking,
        "open mode, persona speaking: barge-in",
    ),
    Transition(S.TALKING, "press", None, _activity),
    Transition(S.TALKING, "persona_speaking", None, _persona),
    Transition(S.TALKING, "user_speech", None, _speech),
    # reconnecting
    Transition(S.RECONNECTING, "reconnected", S.TALKING, _back, _mode("open"), "open mode"),
    Transition(S.RECONNECTING, "reconnected", S.LISTENING, _back),
    Transition(S.RECONNECTING, "press", None),  # ignored while reconnecting
    Transition(S.RECONNECTING, "release", None, late=True),
    Transition(S.RECONNECTING, "persona_speaking", None, late=True),
    Transition(S.RECONNECTING, "user_speech", None, late=True),
    Transition(S.RECONNECTING, "tick", None, _refresh_status),
    # scoring: a call with a callId is scored; one without shows "call ended" for score_display
    Transition(S.SCORING, "press", S.CONNECTING, _score_last_and_start, _score_owed, "next call"),
    Transition(S.SCORING, "press", S.CONNECTING, _start_call, label="next call"),
    Transition(S.SCORING, "ended", None, _fetch, _has_call_id, "callId"),
    Transition(S.SCORING, "ended", None, _over),
    Transition(
        S.SCORING, "tick", None, _fetch, _end_overdue_with_call_id, "no ended after end_grace"
    ),
    Transition(S.SCORING, "tick", None, _over, _end_overdue, "no ended after end_grace"),
    Transition(
        S.SCORING, "tick", S.IDLE, None, _score_shown_long_enough, "score shown score_display"
    ),
    Transition(
        S.SCORING, "tick", S.IDLE, None, _nothing_to_score, "no callId, over score_display ago"
    ),
    Transition(S.SCORING, "tick", None, _refresh_status),
    Transition(S.SCORING, "score", S.IDLE, _show_score, _score_not_shown, "score_display = 0"),
    Transition(S.SCORING, "score", None, _show_score),
    Transition(S.SCORING, "score_gave_up", S.IDLE),
    Transition(S.SCORING, "device_error", S.ERROR, _set_error),
    Transition(S.SCORING, "error", None, late=True),  # e.g. the end handshake failing
    # error
    Transition(S.ERROR, "press", S.CONNECTING, _start_call, label="retry"),
    Transition(S.ERROR, "device_restored", S.IDLE, None, _device_back, "the failed device"),
    Transition(S.ERROR, "device_restored", None, late=True),
    Transition(S.ERROR, "device_error", None, _update_error),
    Transition(S.ERROR, "error", None, late=True),
    Transition(S.ERROR, "tick", None, _refresh_status),
    # idle: a device can fail while nobody is in the booth
    Transition(S.IDLE, "device_error", S.ERROR, _set_error),
    # every live state
    *(
        Transition(s, "double_press", S.SCORING, _ender("double_press"))
        for s in (S.LISTENING, S.TALKING, S.RECONNECTING)
    ),
    *(
        row
        for s in (S.LISTENING, S.TALKING)
        for row in (
            Transition(s, "reconnecting", S.RECONNECTING, _drop),
            Transition(
                s, "tick", S.SCORING, _ender("max_duration"), _max_duration_reached, "max duration"
            ),
            Transition(
                s, "tick", S.SCORING, _ender("idle_timeout"), _idle_too_long, "no rep speech"
            ),
            Transition(s, "tick", None, _refresh_status),
        )
    ),
    *(
        row
        for s in (S.LISTENING, S.TALKING, S.RECONNECTING)
        for row in (
            Transition(s, "ended", S.ERROR, _ended_error, _error_reason, "error reason"),
            Transition(s, "ended", S.SCORING, _ended_scored, _has_call_id, "callId"),
            Transition(s, "ended", S.SCORING, _ended, label="no callId"),
            Transition(s, "error", S.ERROR, _end_for_error),
            Transition(s, "device_error", S.ERROR, _end_for_error),
        )
    ),
    # late call-stream events once the call is over: expected races, dropped quietly
    *(
        Transition(s, trigger, None, late=True)
        for s in _QUIET
        for trigger in ("release", "persona_speaking", "user_speech", "reconnecting", "reconnected")
    ),
    *(Transition(s, "ended", None, late=True) for s in (S.IDLE, S.ERROR)),
    *(Transition(s, "error", None, late=True) for s in (S.IDLE,)),
    *(Transition(s, "ready", None, _stale_ready) for s in _QUIET),
    *(
        Transition(s, trigger, None, late=True)
        for s in _LIVE
        if s is not S.SCORING
        for trigger in ("score", "score_gave_up")
    ),
    *(Transition(s, "device_restored", None, late=True) for s in _LIVE if s is not S.ERROR),
    *(Transition(s, "shutdown", S.STOPPED, _shutdown) for s in _LIVE),
    # stopped: the call being ended and the last timers still report in
    *(
        Transition(S.STOPPED, trigger, None, late=True)
        for trigger in (
            "release",
            "persona_speaking",
            "user_speech",
            "reconnecting",
            "reconnected",
            "ended",
            "error",
            "tick",
            "score",
            "score_gave_up",
            "device_error",
            "device_restored",
        )
    ),
    Transition(S.STOPPED, "ready", None, _stale_ready),
)


def _index(table: tuple[Transition, ...]) -> dict[tuple[State, str], tuple[Transition, ...]]:
    index: dict[tuple[State, str], list[Transition]] = {}
    for row in table:
        index.setdefault((row.source, row.trigger), []).append(row)
    return {key: tuple(rows) for key, rows in index.items()}


_INDEX = _index(TABLE)


def _mmss(seconds: float) -> str:
    whole = max(0, int(seconds + 1e-6))  # float sums like 150.99999 still show 02:31
    return f"{whole // 60:02d}:{whole % 60:02d}"


class BoothMachine:
    """The booth's state and the current call's context. Same inputs, same outputs."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or Settings()
        self.state = State.IDLE
        self.call = CallInfo()
        self.error_code = ""
        self.mic_open = False
        self._last_status = ""

    def start(self, now: float) -> list[Command]:
        """Commands that put the outputs in the idle state at startup."""
        return [SetLed(self._led()), *self._status(now)]

    def feed(self, event: Input, now: float) -> list[Command]:
        rows = _INDEX.get((self.state, event.kind))
        if not rows:
            return [
                Log(
                    "warning",
                    f"ignored {event.kind} in state {self.state}",
                    {"EVENT": "illegal_input", "INPUT": event.kind},
                )
            ]
        for row in rows:
            if row.guard is not None and not row.guard(self, event, now):
                continue
            out = row.action(self, event, now) if row.action else []
            if row.target is not None and row.target is not self.state:
                out += self._enter(row.target, event, now)
            return out
        # Every row had a guard and none held: nothing to do, and that is legal.
        return []

    # -- helpers the actions share ------------------------------------------------------------

    def _enter(self, target: State, event: Input, now: float) -> list[Command]:
        previous, self.state = self.state, target
        out: list[Command] = [
            Log(
                "info",
                f"{previous} -> {target} on {event.kind}",
                {"EVENT": "state", "BOOTH_STATE": str(target), "PREVIOUS_STATE": str(previous)},
            ),
            SetLed(self._led()),
        ]
        cue = {S.RECONNECTING: Cue.RECONNECT, S.SCORING: Cue.END, S.ERROR: Cue.ERROR}.get(target)
        if cue is not None:
            out.append(PlayCue(cue))
        return out + self._status(now)

    def _open_mic(self) -> list[Command]:
        if self.mic_open:
            return []
        self.mic_open = True
        return [OpenMic()]

    def _close_mic(self) -> list[Command]:
        if not self.mic_open:
            return []
        self.mic_open = False
        return [CloseMic()]

    def _end(self, reason: str, now: float, *, send: bool = True) -> list[Command]:
        out = self._close_mic()
        if not self.call.end_reason:
            self.call.end_reason = reason
        if self.call.outage_started is not None:
            self.call.longest_outage = max(self.call.longest_outage, now - self.call.outage_started)
            self.call.outage_started = None
        self.call.persona_speaking = False
        if send:
            self.call.end_requested_at = now
            out.append(EndCall(reason))
        else:
            self.call.ended = True
        return out

    def _led(self) -> LedPattern:
        return led_for(
            self.state, persona_speaking=self.call.persona_speaking, error_code=self.error_code
        )

    def status_text(self, now: float) -> str:
        """The state in words, for systemd's STATUS= and the demo timeline."""
        s, call = self.state, self.call
        if s is S.IDLE:
            return "Idle – press the button"
        if s is S.CONNECTING:
            return "Connecting…"
        if s in (S.LISTENING, S.TALKING):
            who = call.persona or "the persona"
            elapsed = now - call.started_at if call.started_at is not None else 0.0
            text = f"In call with {who}, {_mmss(elapsed)}"
            return text + (" – talking" if s is S.TALKING and self.mic_open else "")
        if s is S.RECONNECTING:
            since = call.outage_started if call.outage_started is not None else now
            return f"Reconnecting ({int(now - since + 1e-6)} s)"
        if s is S.SCORING:
            if call.score is not None:
                return f"Score {call.score} – press the button for the next call"
            if _unscored(self) and call.over_at is not None:
                return "Call ended – no score for this call"
            return "Call ended – waiting for the score"
        if s is S.ERROR:
            blinks = error_blinks(self.error_code)
            return f"Error {self.error_code or 'UNKNOWN'} ({blinks} blinks) – press to retry"
        return "Stopping"

    def _status(self, now: float) -> list[Command]:
        text = self.status_text(now)
        if text == self._last_status:
            return []
        self._last_status = text
        return [SetStatus(text)]


def mermaid(table: tuple[Transition, ...] = TABLE) -> str:
    """The state diagram of ``table`` as Mermaid text (state changes only, no late rows)."""
    lines = ["stateDiagram-v2", f"    [*] --> {State.IDLE}"]
    seen: set[tuple[str, str, str]] = set()
    for row in table:
        if row.target in (None, row.source, State.STOPPED) or row.late:
            continue
        label = row.trigger.replace("_", " ")
        if row.label:
            label += f" [{row.label}]"
        key = (str(row.source), str(row.target), label)
        if key in seen:
            continue
        seen.add(key)
        lines.append(f"    {row.source} --> {row.target} : {label}")
    lines.append(f"    {State.STOPPED} --> [*]")
    lines.append(f"    note right of {State.STOPPED} : shutdown (SIGTERM) from any state")
    return "\n".join(lines) + "\n"


def mermaid_diagram() -> str:
    """The README's state diagram (``python -m booth.docs`` puts it there)."""
    return mermaid()
