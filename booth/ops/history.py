"""`booth history`: the journal's structured records turned into a table of calls.

The core (``summarise``, ``call_story``, ``format_*``) takes parsed journal entries (the
dicts ``journalctl -o json`` prints) and does no I/O. ``read_journal`` is the thin adapter
around journalctl, so files pulled from a booth or collected by systemd-journal-remote can be
read with ``--directory``/``--file`` exactly like the local journal.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from booth.daemon.summary import EVENT as SUMMARY_EVENT
from booth.daemon.summary import FIELD_NAMES, JOURNAL_FIELDS, CallSummary

Entry = Mapping[str, Any]
IDENTIFIER = "booth"
#: Fields a summary row shows; journalctl gets only these (plus its own) to keep reads light.
SUMMARY_FIELDS = (*JOURNAL_FIELDS, "BOOTH_ID", "EVENT", "MESSAGE", "PRIORITY")
#: Summary fields a row takes from the summary record (the ids and error come from any record).
_ROW_ATTRS = {name: name for name in FIELD_NAMES if name not in ("call_id", "session_id")}
_ROW_ATTRS.update(drill_key="drill", error_code="")


class JournalError(Exception):
    """journalctl could not be run or refused the query (its own words in the message)."""


@dataclass
class CallRow:
    """One call of the table, put together from all its records (the summary record's
    fields, as ``CallSummary`` names them, when it has one)."""

    call_id: str
    time: str = ""  # ISO 8601, UTC, of the call's first record
    booth_id: str = ""
    session_id: str = ""
    drill: str = ""
    duration_sec: float | None = None
    score: float | None = None
    reconnects: int | None = None
    underruns: int | None = None
    end_reason: str = ""
    error: str = ""
    frames_sent: int | None = None
    frames_received: int | None = None
    frames_dropped: int | None = None
    longest_outage_sec: float | None = None
    has_summary: bool = False
    records: int = 0
    _first_us: int = field(default=0, repr=False)

    def as_json(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("_first_us")
        return out


def timestamp_us(entry: Entry) -> int:
    try:
        return int(entry.get("__REALTIME_TIMESTAMP", 0))
    except (TypeError, ValueError):
        return 0


def iso_time(us: int) -> str:
    return datetime.fromtimestamp(us / 1e6, tz=UTC).isoformat(timespec="seconds")


def _text(value: Any) -> str:
    # journalctl -o json prints binary or non-UTF-8 fields as arrays of bytes.
    if isinstance(value, list):
        try:
            return bytes(value).decode("utf-8", errors="replace")
        except (TypeError, ValueError):
            return str(value)
    return "" if value is None else str(value)


def summarise(entries: Iterable[Entry]) -> list[CallRow]:
    """One row per call, oldest first. A call with no summary record (the daemon died
    mid-call) still gets a row, marked by ``has_summary=False``."""
    calls: dict[str, CallRow] = {}
    for entry in sorted(entries, key=timestamp_us):
        call_id = _text(entry.get("CALL_ID"))
        if not call_id:
            continue
        row = calls.get(call_id)
        if row is None:
            us = timestamp_us(entry)
            row = calls[call_id] = CallRow(call_id=call_id, time=iso_time(us), _first_us=us)
        row.records += 1
        row.booth_id = row.booth_id or _text(entry.get("BOOTH_ID"))
        row.session_id = row.session_id or _text(entry.get("SESSION_ID"))
        row.drill = row.drill or _drill(entry)
        if _text(entry.get("ERROR_CODE")):
            row.error = _text(entry.get("ERROR_CODE"))
        if _text(entry.get("EVENT")) == SUMMARY_EVENT:
            _apply_summary(row, entry)
    return sorted(calls.values(), key=lambda r: r._first_us)


def _apply_summary(row: CallRow, entry: Entry) -> None:
    row.has_summary = True
    # Later summaries win field by field (a late score may come in its own summary).
    for name, value in CallSummary.from_journal(entry, _text).items():
        attr = _ROW_ATTRS.get(name)
        if attr:
            setattr(row, attr, value)


def _drill(entry: Entry) -> str:
    return _text(entry.get("DRILL_KEY"))


def call_story(entries: Iterable[Entry], call_id: str) -> list[Entry]:
    """A call's records in the order they were logged."""
    return sorted(
        (e for e in entries if _text(e.get("CALL_ID")) == call_id),
        key=lambda e: (timestamp_us(e), _text(e.get("__CURSOR"))),
    )


# -- formatting --------------------------------------------------------------------------------
_DASH = "–"
_COLUMNS = (
    "time",
    "booth",
    "call",
    "drill",
    "duration",
    "score",
    "reconn",
    "underruns",
    "end",
    "error",
)


def _fmt(value: Any, spec: str = "") -> str:
    if value is None or value == "":
        return _DASH
    if isinstance(value, float) and spec:
        return format(value, spec)
    return str(value)


def _local(iso: str) -> str:
    return datetime.fromisoformat(iso).astimezone().strftime("%Y-%m-%d %H:%M:%S")


def format_table(rows: Sequence[CallRow]) -> str:
    if not rows:
        return "no calls in the journal (for this time range)"
    cells = [
        (
            _local(r.time),
            _fmt(r.booth_id),
            r.call_id,
            _fmt(r.drill),
            _fmt(r.duration_sec, ".1f") + ("s" if r.duration_sec is not None else ""),
            _fmt(r.score, ".0f"),
            _fmt(r.reconnects),
            _fmt(r.underruns),
            _fmt(r.end_reason) if r.has_summary else "(no summary)",
            _fmt(r.error),
        )
        for r in rows
    ]
    return _grid(_COLUMNS, cells)


def _grid(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(header)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip()]
    lines += [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows
    ]
    return "\n".join(lines)


#: Journal fields of our own that the per-call view prints after the message.
_STORY_SKIP = {"MESSAGE", "CALL_ID", "BOOTH_ID", "EVENT", "BOOTH_STATE", "PRIORITY", "LOGGER"}
_LEVELS = {"2": "crit", "3": "error", "4": "warn", "5": "notice", "6": "info", "7": "debug"}


def format_story(entries: Sequence[Entry]) -> str:
    if not entries:
        return "no records for that call"
    lines = []
    for e in entries:
        us = timestamp_us(e)
        stamp = datetime.fromtimestamp(us / 1e6).astimezone().strftime("%H:%M:%S.%f")[:-3]
        level = _LEVELS.get(_text(e.get("PRIORITY")), "info")
        event = _text(e.get("EVENT")) or "-"
        state = _text(e.get("BOOTH_STATE"))
        extra = " ".join(
            f"{k}={_text(v)}"
            for k, v in sorted(e.items())
            if k.isupper()
            and not k.startswith("_")
            and k not in _STORY_SKIP
            and not k.startswith(("CODE_", "SYSLOG_"))
        )
        line = f"{stamp} {level:<5} {event:<16} {state and f'[{state}] '}{_text(e.get('MESSAGE'))}"
        lines.append(line + (f"  {extra}" if extra else ""))
    first = datetime.fromtimestamp(timestamp_us(entries[0]) / 1e6).astimezone()
    header = f"call {_text(entries[0].get('CALL_ID'))} on {first:%Y-%m-%d} ({len(entries)} records)"
    return "\n".join([header, *lines])


# -- the journalctl adapter ----------------------------------------------------------------
Runner = Callable[[Sequence[str]], "subprocess.CompletedProcess[str]"]


def _run(argv: Sequence[str]) -> subprocess.CompletedProcess[str]:
    # argv is journalctl with our own options and FIELD=value matches: no shell involved.
    return subprocess.run(list(argv), capture_output=True, text=True, check=False, timeout=120)  # noqa: S603


def journalctl_argv(
    *,
    matches: Sequence[str] = (),
    since: str | None = None,
    until: str | None = None,
    directory: str | None = None,
    files: Sequence[str] = (),
    output_fields: Sequence[str] = (),
    journalctl: str = "journalctl",
) -> list[str]:
    argv = [journalctl, "-o", "json", "--no-pager", "-q"]
    if since:
        argv += ["--since", since]
    if until:
        argv += ["--until", until]
    if directory:
        argv += ["--directory", directory]
    for f in files:
        argv += ["--file", f]
    if output_fields:
        argv += ["--output-fields", ",".join(output_fields)]
    return argv + list(matches)


def read_journal(argv: Sequence[str], run: Runner = _run) -> list[dict[str, Any]]:
    if shutil.which(argv[0]) is None and "/" not in argv[0]:
        raise JournalError(f"{argv[0]} not found: install systemd (journalctl)")
    try:
        proc = run(argv)
    except OSError as exc:
        raise JournalError(f"cannot run {argv[0]}: {exc.strerror}") from None
    if proc.returncode != 0 and not proc.stdout.strip():
        message = proc.stderr.strip() or f"exit status {proc.returncode}"
        raise JournalError(f"journalctl: {message}")
    entries = []
    for raw in proc.stdout.splitlines():
        line = raw.strip()
        if not line:
            continue
        try:
            entries.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # a torn last line of a journal being written
    return entries
