"""Score a call from what was measured. Pure: measurements in, score out.

Rubric (100 points), documented in the README's devserver section:

| measure | points | full marks | zero |
| --- | --- | --- | --- |
| talk-to-listen ratio (rep ÷ persona talk time) | 30 | 0.6–1.3 | 0, or ≥ 3.0 |
| rep turns | 20 | ≥ 4 | 0 (5 per turn) |
| longest rep monologue | 20 | ≤ 30 s | ≥ 90 s, or no turn |
| mean response latency (persona stops → rep starts) | 15 | ≤ 1.5 s | ≥ 5 s, or never measured |
| rep talk time | 15 | ≥ 20 s | 0 s |

Between the bounds points fall linearly. The overall score is the rounded sum.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from booth.devserver.turns import RepTurn


@dataclass(frozen=True)
class Measurements:
    duration_s: float
    rep_talk_s: float
    persona_talk_s: float
    turns: int
    longest_monologue_s: float
    mean_response_latency_s: float | None

    @property
    def talk_listen_ratio(self) -> float | None:
        if self.persona_talk_s <= 0:
            return None
        return self.rep_talk_s / self.persona_talk_s


@dataclass(frozen=True)
class Score:
    overall: int
    parts: dict[str, float]
    summary: str
    feedback: str


def measure(
    duration_s: float,
    rep_turns: Sequence[RepTurn],
    persona_talk_s: float,
    persona_stops: Sequence[float],
) -> Measurements:
    """``persona_stops``: call-relative times at which the persona finished a line."""
    latencies: list[float] = []
    for turn in rep_turns:
        before = [stop for stop in persona_stops if stop <= turn.start]
        if before:
            latencies.append(turn.start - before[-1])
    return Measurements(
        duration_s=duration_s,
        rep_talk_s=sum(turn.voiced for turn in rep_turns),
        persona_talk_s=persona_talk_s,
        turns=len(rep_turns),
        longest_monologue_s=max((turn.duration for turn in rep_turns), default=0.0),
        mean_response_latency_s=sum(latencies) / len(latencies) if latencies else None,
    )


def _ramp(value: float, full: float, zero: float) -> float:
    """1 at ``full``, 0 at ``zero``, linear between (either direction)."""
    if full == zero:
        return 1.0 if value == full else 0.0
    fraction = (value - zero) / (full - zero)
    return min(1.0, max(0.0, fraction))


def _ratio_points(ratio: float | None) -> float:
    if ratio is None:
        return 0.0
    if ratio < 0.6:
        return 30 * _ramp(ratio, 0.6, 0.0)
    if ratio > 1.3:
        return 30 * _ramp(ratio, 1.3, 3.0)
    return 30.0


def score(m: Measurements) -> Score:
    parts = {
        "talkListenRatio": _ratio_points(m.talk_listen_ratio),
        "turns": 20 * min(1.0, m.turns / 4),
        "longestMonologue": 20 * _ramp(m.longest_monologue_s, 30, 90) if m.turns else 0.0,
        "responseLatency": (
            15 * _ramp(m.mean_response_latency_s, 1.5, 5.0)
            if m.mean_response_latency_s is not None
            else 0.0
        ),
        "repTalkTime": 15 * _ramp(m.rep_talk_s, 20, 0),
    }
    overall = round(sum(parts.values()))
    return Score(overall, parts, _summary(m, overall), _feedback(m))


def _fmt_ratio(m: Measurements) -> str:
    ratio = m.talk_listen_ratio
    return "n/a (the persona never spoke)" if ratio is None else f"{ratio:.2f}"


def _fmt_latency(m: Measurements) -> str:
    latency = m.mean_response_latency_s
    return "n/a" if latency is None else f"{latency:.1f} s"


def _summary(m: Measurements, overall: int) -> str:
    return (
        f"Score {overall}/100 for a {m.duration_s:.0f} s call: {m.turns} rep turns, "
        f"{m.rep_talk_s:.1f} s of rep talk against {m.persona_talk_s:.1f} s from the persona "
        f"(talk-to-listen {_fmt_ratio(m)}), longest monologue {m.longest_monologue_s:.1f} s, "
        f"mean response latency {_fmt_latency(m)}."
    )


def _feedback(m: Measurements) -> str:
    notes: list[str] = []
    ratio = m.talk_listen_ratio
    if m.turns == 0:
        notes.append("The rep never spoke: no turns were detected.")
    elif ratio is not None and ratio > 1.3:
        notes.append(
            f"Talk-to-listen was {ratio:.2f}: listen more; aim for 0.6–1.3 and ask questions."
        )
    elif ratio is not None and ratio < 0.6:
        notes.append(f"Talk-to-listen was {ratio:.2f}: engage more; aim for 0.6–1.3.")
    else:
        notes.append(f"Talk-to-listen of {_fmt_ratio(m)} is in the 0.6–1.3 target band.")
    if 0 < m.turns < 4:
        notes.append(f"Only {m.turns} rep turns; a real conversation has at least 4.")
    if m.longest_monologue_s > 30:
        notes.append(
            f"The longest monologue ran {m.longest_monologue_s:.1f} s; keep turns under 30 s."
        )
    latency = m.mean_response_latency_s
    if latency is not None and latency > 1.5:
        notes.append(f"Replies came {latency:.1f} s after the persona stopped; aim for ≤ 1.5 s.")
    if m.turns and m.rep_talk_s < 20:
        notes.append(f"Only {m.rep_talk_s:.1f} s of rep talk in total; 20 s or more scores full.")
    return " ".join(notes)
