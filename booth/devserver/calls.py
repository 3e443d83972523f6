"""A call as the service keeps it: status, both directions recorded, turns, transcript, score."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from booth.devserver.drills import Drill
from booth.devserver.faults import SocketFaults
from booth.devserver.scoring import Measurements, Score
from booth.devserver.turns import RepTurn


class CallStatus(StrEnum):
    CREATED = "created"  # redeemed, no WebSocket yet
    LIVE = "live"
    SUSPENDED = "suspended"  # dropped unexpectedly; resumable for the resume window
    SCORING = "scoring"
    SCORED = "scored"


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class PersonaLine:
    content: str
    start: float
    end: float | None = None
    interrupted: bool = False


@dataclass
class Call:
    call_id: str
    session_id: str
    drill: Drill
    difficulty: str
    external_user_id: str
    source: str = "roleplay"
    dialect: str = "booth"  # the protocol the call was made in
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    status: CallStatus = CallStatus.CREATED
    # Recording: exactly what arrived from the rep and what was sent as the persona.
    rep_audio: bytearray = field(default_factory=bytearray, repr=False)
    persona_audio: bytearray = field(default_factory=bytearray, repr=False)
    frames_received: int = 0
    frames_sent: int = 0
    bad_messages: int = 0
    rep_turns: list[RepTurn] = field(default_factory=list)
    persona_lines: list[PersonaLine] = field(default_factory=list)
    interruptions: int = 0
    sockets: int = 0  # WebSocket connections served (1 + successful resumes)
    resumes: int = 0
    end_reason: str | None = None
    duration_s: float = 0.0
    measurements: Measurements | None = None
    score: Score | None = None
    faults: SocketFaults | None = None  # per-call override of the global socket faults
    ended: asyncio.Event = field(default_factory=asyncio.Event, repr=False)

    @property
    def persona_talk_s(self) -> float:
        return len(self.persona_audio) / 2 / 16000

    @property
    def rep_audio_s(self) -> float:
        return len(self.rep_audio) / 2 / 16000

    def transcript(self) -> list[dict[str, Any]]:
        """Persona lines and one entry per rep turn, in time order (no speech recognition)."""
        entries: list[tuple[float, dict[str, Any]]] = []
        for line in self.persona_lines:
            entry: dict[str, Any] = {
                "role": "beneficiary",
                "content": line.content + (" [interrupted]" if line.interrupted else ""),
                "startTime": round(line.start, 3),
            }
            if line.end is not None:
                entry["endTime"] = round(line.end, 3)
            entries.append((line.start, entry))
        for number, turn in enumerate(self.rep_turns, 1):
            entries.append(
                (
                    turn.start,
                    {
                        "role": "agent",
                        "content": f"(rep turn {number}: {turn.voiced:.1f} s of speech)",
                        "startTime": round(turn.start, 3),
                        "endTime": round(turn.end, 3),
                    },
                )
            )
        entries.sort(key=lambda item: item[0])
        return [entry for _, entry in entries]

    def record(self) -> dict[str, Any]:
        """The call record of GET /api/external/v1/calls/{callId} (docs/protocol.md §2.5)."""
        data: dict[str, Any] = {
            "callId": self.call_id,
            "status": str(self.status),
            "source": self.source,
            "drillKey": self.drill.key,
            "durationSec": round(self.duration_s, 1),
            "createdAt": iso(self.created_at),
            "transcript": self.transcript(),
        }
        if self.score is not None:
            data["score"] = {
                "overallScore": self.score.overall,
                "summary": self.score.summary,
                "feedback": self.score.feedback,
            }
        return data


class Watch:
    """Lets tests wait for server-side conditions without sleeping.

    The server calls :meth:`changed` whenever its state moves; :meth:`wait` re-checks the
    predicate then, and only then.
    """

    def __init__(self) -> None:
        self._waiters: list[tuple[Callable[[], bool], asyncio.Future[None]]] = []

    def changed(self) -> None:
        for predicate, future in self._waiters:
            if future.done():
                continue
            try:
                if predicate():
                    future.set_result(None)
            except Exception as exc:  # a broken predicate fails its waiter, not the server
                future.set_exception(exc)
        self._waiters = [(p, f) for p, f in self._waiters if not f.done()]

    async def wait(self, predicate: Callable[[], bool], within: float, what: str = "") -> None:
        if predicate():
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append((predicate, future))
        try:
            await asyncio.wait_for(future, within)
        except TimeoutError:
            raise TimeoutError(f"not reached within {within} s: {what or predicate}") from None
        finally:
            future.cancel()
