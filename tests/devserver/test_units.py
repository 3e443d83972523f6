"""The pure parts: drills, turn detection, scoring rubric, voice rendering."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from booth.devserver.drills import DEFAULT_DRILLS_DIR, DrillError, load_drills, parse_drill
from booth.devserver.scoring import Measurements, measure, score
from booth.devserver.turns import RepTurn, TurnDetector
from booth.devserver.voice import Voice, parse_wav, resample, synthetic_speech
from tests.devserver.conftest import SILENCE, speech_frame

# ── drills ────────────────────────────────────────────────────────────────────


def test_shipped_drills_load() -> None:
    drills = load_drills(DEFAULT_DRILLS_DIR)
    assert "cold-call-skeptic" in drills  # the default drill_key of config/booth.toml
    assert len(drills) >= 3
    for drill in drills.values():
        assert drill.opening and drill.persona_name
        for level in ("Beginner", "Advanced", "Elite"):
            script = drill.script(level)
            assert {script.reply(i) for i in range(6)} <= set(script.lines + script.objections)


def test_script_interleaves_objections() -> None:
    drill = parse_drill(
        {
            "drillKey": "d",
            "persona": {"name": "P", "opening": "Hi"},
            "difficulty": {
                "Beginner": {"objection_every": 3, "lines": ["l1", "l2"], "objections": ["o1"]}
            },
        },
        "x",
    )
    script = drill.script(None)
    assert [script.reply(i) for i in range(7)] == ["l1", "l2", "o1", "l1", "l2", "o1", "l1"]
    assert drill.script("Elite") is script  # a level the drill lacks falls back to the default


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ({}, "drillKey"),
        ({"drillKey": "d"}, "[persona]"),
        ({"drillKey": "d", "persona": {"name": "P", "opening": "Hi"}}, "difficulty"),
        (
            {
                "drillKey": "d",
                "persona": {"name": "P", "opening": "Hi"},
                "difficulty": {"Hard": {"lines": ["x"]}},
            },
            "level must be one of",
        ),
        (
            {
                "drillKey": "d",
                "persona": {"name": "P", "opening": "Hi"},
                "difficulty": {"Elite": {"lines": [1]}},
            },
            "lines",
        ),
    ],
)
def test_bad_drill_says_what_is_wrong(data: dict[str, object], problem: str) -> None:
    with pytest.raises(DrillError, match=problem.replace("[", r"\[").replace("]", r"\]")):
        parse_drill(data, "file.toml")


def test_load_drills_reports_the_file(tmp_path: Path) -> None:
    (tmp_path / "bad.toml").write_text("drillKey = [", encoding="utf-8")
    with pytest.raises(DrillError, match=r"bad\.toml"):
        load_drills(tmp_path)
    with pytest.raises(DrillError, match="not a directory"):
        load_drills(tmp_path / "missing")
    (tmp_path / "bad.toml").unlink()
    with pytest.raises(DrillError, match=r"no \*\.toml"):
        load_drills(tmp_path)


# ── turns ─────────────────────────────────────────────────────────────────────


def test_turn_ends_after_silence() -> None:
    detector = TurnDetector(silence_s=0.7)
    assert detector.frame(SILENCE, 0.0) is False
    assert detector.frame(speech_frame(), 1.0) is True  # speech starts a turn
    assert detector.frame(speech_frame(), 1.02) is False
    assert detector.poll(1.5) is None  # a short pause keeps the turn
    assert detector.frame(speech_frame(), 1.6) is False
    turn = detector.poll(2.31)
    assert turn is not None
    assert turn.start == pytest.approx(0.98)
    assert turn.end == pytest.approx(1.6)
    assert turn.voiced == pytest.approx(0.06)
    assert not detector.in_turn


def test_turn_end_message_ends_the_turn() -> None:
    detector = TurnDetector()
    assert detector.turn_end() is None  # released without speaking: no turn
    detector.frame(speech_frame(), 0.5)
    assert detector.turn_end() is not None


def test_quiet_noise_is_not_speech() -> None:
    assert TurnDetector().frame(speech_frame(amplitude=50), 0.0) is False


# ── scoring ───────────────────────────────────────────────────────────────────


def test_measure_from_turns() -> None:
    turns = [RepTurn(2.0, 6.0, 4.0), RepTurn(10.0, 20.0, 9.0)]
    m = measure(30.0, turns, persona_talk_s=13.0, persona_stops=[1.5, 9.0])
    assert m.turns == 2
    assert m.rep_talk_s == 13.0
    assert m.talk_listen_ratio == pytest.approx(1.0)
    assert m.longest_monologue_s == 10.0
    assert m.mean_response_latency_s == pytest.approx((0.5 + 1.0) / 2)


def test_rubric_full_marks_and_zero() -> None:
    good = score(Measurements(120, 40, 45, 6, 12, 0.8))
    assert good.overall == 100
    assert "6 rep turns" in good.summary and "talk-to-listen 0.89" in good.summary
    silent = score(Measurements(60, 0, 20, 0, 0, None))
    assert silent.overall == 0
    assert "never spoke" in silent.feedback


def test_rubric_penalises_monologues() -> None:
    m = Measurements(120, 90, 10, 2, 60, 3.25)
    result = score(m)
    assert result.parts["talkListenRatio"] == 0  # ratio 9.0
    assert result.parts["longestMonologue"] == pytest.approx(10)  # halfway from 30 to 90 s
    assert result.parts["responseLatency"] == pytest.approx(7.5)
    assert result.parts["turns"] == 10
    assert result.overall == round(0 + 10 + 10 + 7.5 + 15)
    assert "listen more" in result.feedback
    assert "60.0 s" in result.feedback


# ── voice ─────────────────────────────────────────────────────────────────────


def test_synthetic_voice_is_deterministic_speech() -> None:
    a = synthetic_speech("Hello there.")
    assert a == synthetic_speech("Hello there.")
    assert len(a) % 2 == 0 and len(a) > 3000
    assert a != synthetic_speech("Something else entirely.")


def test_resample_length() -> None:
    pcm = bytes(22050 * 2)
    assert len(resample(pcm, 22050)) == 16000 * 2


def test_parse_wav_rejects_garbage() -> None:
    with pytest.raises(ValueError):
        parse_wav(b"not a wav at all")


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")
async def test_espeak_renders_16k_and_caches() -> None:
    voice = Voice()
    assert voice.engine == "espeak-ng"
    pcm = await voice.render("Hello, this is Dana.", "en-us+f3")
    seconds = len(pcm) / 32000
    assert 0.5 < seconds < 5
    assert await voice.render("Hello, this is Dana.", "en-us+f3") is pcm


async def test_missing_espeak_falls_back_to_synthetic() -> None:
    voice = Voice(use_espeak=False)
    assert voice.engine == "synthetic"
    assert await voice.render("Hi there") == synthetic_speech("Hi there")
    broken = Voice(espeak="/nonexistent/espeak-ng")
    assert await broken.render("Hi there") == synthetic_speech("Hi there")
