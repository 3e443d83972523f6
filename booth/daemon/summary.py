"""The one record a call leaves behind: ``EVENT=call_summary`` in the journal.

``CallSummary`` is the field list, once: the daemon writes ``journal_fields()``, ``booth
history`` reads records back with ``from_journal``, and the demo and the tests read the
attributes. A journal field is the attribute's name in capitals (``end_reason`` is
``END_REASON``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any

EVENT = "call_summary"


@dataclass(frozen=True)
class CallSummary:
    call_id: str | None
    session_id: str | None
    drill_key: str
    duration_sec: float
    frames_sent: int
    frames_received: int
    frames_dropped: int
    underruns: int
    reconnects: int
    longest_outage_sec: float
    end_reason: str
    error_code: str | None
    score: int | None
    #: Why there is no score, when there is none: the protocol has none, the service named no
    #: call, the poll gave up (``timed out``, or the service's code).
    no_score: str | None = None

    def journal_fields(self) -> dict[str, Any]:
        """The record's fields, in this order, named as the journal names them."""
        return {name.upper(): getattr(self, name) for name in FIELD_NAMES}

    def headline(self) -> str:
        why = f" ({self.no_score})" if self.no_score else ""
        score = f", score {self.score}" if self.score is not None else f", no score{why}"
        return (
            f"call summary: {self.duration_sec} s, ended by {self.end_reason}{score}, "
            f"{self.reconnects} reconnects"
        )

    @classmethod
    def from_journal(cls, entry: Mapping[str, Any], text: Callable[[Any], str] = str) -> Partial:
        """The fields a journal record carries, parsed back (a missing or odd one is left out).

        ``text`` turns a journal value into text (``journalctl -o json`` prints some as bytes).
        """
        out: Partial = {}
        for name in FIELD_NAMES:
            raw = entry.get(name.upper())
            value = _parse(text(raw).strip() if raw is not None else "", _KINDS.get(name))
            if value is not None:
                out[name] = value
        return out


Partial = dict[str, Any]
FIELD_NAMES: tuple[str, ...] = tuple(f.name for f in fields(CallSummary))
#: The journal's names of the summary fields.
JOURNAL_FIELDS: tuple[str, ...] = tuple(name.upper() for name in FIELD_NAMES)

_KINDS: dict[str, type] = {
    "duration_sec": float,
    "longest_outage_sec": float,
    "frames_sent": int,
    "frames_received": int,
    "frames_dropped": int,
    "underruns": int,
    "reconnects": int,
    "score": float,  # a record may carry 81 or 81.0; history shows it rounded
}


def _parse(text: str, kind: type | None) -> Any:
    if not text or text == "None":
        return None
    if kind is None:
        return text
    try:
        return kind(text)
    except ValueError:
        try:
            return kind(float(text))
        except ValueError:
            return None
