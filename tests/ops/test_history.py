"""`booth history`: the core on synthetic entries, and the command against a real journald."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from booth.daemon.summary import CallSummary
from booth.ops import history
from tests.support.journald import booth_journal_logging, private_journal


def entry(us: int, **fields: str) -> dict[str, Any]:
    return {"__REALTIME_TIMESTAMP": str(us), "SYSLOG_IDENTIFIER": "booth", **fields}


def test_summarise_one_row_per_call_oldest_first() -> None:
    entries = [
        entry(3_000_000, CALL_ID="c2", EVENT="connected", BOOTH_ID="b1"),
        entry(1_000_000, CALL_ID="c1", EVENT="connected", BOOTH_ID="b1"),
        entry(
            2_000_000,
            CALL_ID="c1",
            EVENT="call_summary",
            DRILL_KEY="cold",
            DURATION_SEC="61.5",
            SCORE="82",
            RECONNECTS="1",
            UNDERRUNS="3",
            END_REASON="client_requested",
        ),
        entry(4_000_000, CALL_ID="c2", EVENT="error", ERROR_CODE="NETWORK_LOST"),
        entry(5_000_000, EVENT="idle"),  # no call: not a row
    ]
    rows = history.summarise(entries)
    assert [r.call_id for r in rows] == ["c1", "c2"]
    c1, c2 = rows
    assert (c1.duration_sec, c1.score, c1.reconnects, c1.underruns) == (61.5, 82.0, 1, 3)
    assert c1.end_reason == "client_requested" and c1.has_summary and c1.drill == "cold"
    assert c2.error == "NETWORK_LOST" and not c2.has_summary and c2.records == 2
    (row,) = history.summarise([entry(1, CALL_ID="c3", EVENT="call_summary", DRILL_KEY="disc")])
    assert row.drill == "disc"
    table = history.format_table(rows)
    assert "(no summary)" in table.splitlines()[2]
    assert "82" in table.splitlines()[1]


def test_history_reads_back_what_a_call_summary_writes() -> None:
    summary = CallSummary(
        call_id="c9",
        session_id="s9",
        drill_key="cold",
        duration_sec=42.5,
        frames_sent=2100,
        frames_received=1900,
        frames_dropped=3,
        underruns=1,
        reconnects=2,
        longest_outage_sec=4.2,
        end_reason="double_press",
        error_code=None,
        score=77,
    )
    # As journald stores them: text, and a None field not logged at all.
    fields = {k: str(v) for k, v in summary.journal_fields().items() if v is not None}
    (row,) = history.summarise([entry(1, EVENT="call_summary", **fields)])
    assert row.has_summary and (row.call_id, row.session_id, row.drill) == ("c9", "s9", "cold")
    assert (row.duration_sec, row.score, row.reconnects, row.underruns) == (42.5, 77.0, 2, 1)
    assert (row.frames_sent, row.frames_received, row.frames_dropped) == (2100, 1900, 3)
    assert row.longest_outage_sec == 4.2 and row.end_reason == "double_press"
    assert set(summary.journal_fields()) <= set(history.SUMMARY_FIELDS)


def test_story_is_in_order_and_only_that_call() -> None:
    entries = [
        entry(2, CALL_ID="c1", MESSAGE="second", EVENT="b"),
        entry(1, CALL_ID="c1", MESSAGE="first", EVENT="a"),
        entry(1, CALL_ID="c2", MESSAGE="other"),
    ]
    story = history.call_story(entries, "c1")
    assert [e["MESSAGE"] for e in story] == ["first", "second"]
    assert "other" not in history.format_story(story)


def test_journalctl_failure_is_reported() -> None:
    def fail(argv: Any) -> subprocess.CompletedProcess[str]:
        return subprocess.CompletedProcess(argv, 1, "", "Failed to parse timestamp: yesterdayy")

    with pytest.raises(history.JournalError, match="yesterdayy"):
        history.read_journal(["journalctl"], run=fail)


# -- against a real journald ------------------------------------------------------------------
CALLS = [
    (
        "athos_call_aaa111",
        "ext_s1",
        "cold-call-skeptic",
        "62.4",
        "78",
        "0",
        "2",
        "client_requested",
        "",
    ),
    (
        "athos_call_bbb222",
        "ext_s2",
        "discovery-call",
        "12.0",
        "",
        "3",
        "0",
        "network_lost",
        "NETWORK_LOST",
    ),
]


def _two_calls() -> None:
    """What the daemon logs, via booth.logs, for two calls."""
    from booth.logs import log_event, set_context

    booth_journal_logging("info", BOOTH_ID="booth-hist")
    log = logging.getLogger("booth.daemon")
    log_event(log, logging.INFO, "booth ready", EVENT="ready", BOOTH_STATE="idle")
    for call_id, session, drill, dur, score, rec, und, end, err in CALLS:
        set_context(CALL_ID=call_id, SESSION_ID=session)
        log_event(log, logging.INFO, "call connected", EVENT="connected", BOOTH_STATE="in_call")
        if err:
            log_event(log, logging.ERROR, "link lost", EVENT="error", ERROR_CODE=err)
        log_event(
            log,
            logging.INFO,
            f"call ended: {end}",
            EVENT="call_summary",
            DRILL_KEY=drill,
            DURATION_SEC=dur,
            SCORE=score or None,
            RECONNECTS=rec,
            UNDERRUNS=und,
            END_REASON=end,
            ERROR_CODE=err or None,
            FRAMES_SENT="3100",
            FRAMES_RECEIVED="3050",
            FRAMES_DROPPED="0",
            LONGEST_OUTAGE_SEC="0.0",
        )
        set_context(CALL_ID=None, SESSION_ID=None)


@pytest.mark.root
def test_history_reads_two_calls_from_a_real_journal(tmp_path: Path) -> None:
    booth = [sys.executable, "-m", "booth", "history"]
    with private_journal(tmp_path) as journal:
        journal.call(_two_calls)
        journal.sync()

        # Inside the namespace: the default (local) journal, as on a booth.
        table = journal.run(booth).stdout
        lines = table.splitlines()
        assert lines[0].split()[:3] == ["time", "booth", "call"]
        assert len(lines) == 3
        assert "athos_call_aaa111" in lines[1] and "78" in lines[1]
        assert "athos_call_bbb222" in lines[2] and "NETWORK_LOST" in lines[2]

        rows = json.loads(journal.run([*booth, "--json"]).stdout)
        assert [r["call_id"] for r in rows] == ["athos_call_aaa111", "athos_call_bbb222"]
        first, second = rows
        assert first["drill"] == "cold-call-skeptic"
        assert (first["duration_sec"], first["score"], first["reconnects"]) == (62.4, 78.0, 0)
        assert (first["underruns"], first["end_reason"], first["error"]) == (
            2,
            "client_requested",
            "",
        )
        assert second["score"] is None and second["reconnects"] == 3
        assert second["error"] == "NETWORK_LOST" and second["booth_id"] == "booth-hist"

        # The per-call view: that call's records, in order.
        story = journal.run([*booth, "athos_call_bbb222"]).stdout.splitlines()
        assert "athos_call_bbb222" in story[0]
        events = [line.split()[2] for line in story[1:]]
        assert events == ["connected", "error", "call_summary"]
        assert "aaa111" not in "\n".join(story)

        # From outside, on the journal files (as pulled from a booth): the same rows.
        proc = subprocess.run(
            [*booth, "--json", "--directory", str(journal.directory), "--booth", "booth-hist"],
            capture_output=True,
            text=True,
            check=True,
        )
        assert [r["call_id"] for r in json.loads(proc.stdout)] == [r["call_id"] for r in rows]

        # --since in the future: nothing.
        later = journal.run([*booth, "--json", "--since", "+1h"]).stdout
        assert json.loads(later) == []


@pytest.mark.root
def test_unknown_call_exits_1(tmp_path: Path) -> None:
    with private_journal(tmp_path) as journal:
        proc = journal.run(
            [sys.executable, "-m", "booth", "history", "athos_call_nope"], check=False
        )
        assert proc.returncode == 1
        assert "no records" in proc.stdout


def _two_demo_calls(out_dir: str) -> list[float | None]:
    """Two whole calls of `booth demo` (the real daemon against the devserver), logged to
    the journal through booth.logs."""
    import asyncio

    from booth.sim.demo import run_demo

    booth_journal_logging("info", BOOTH_ID="booth-demo")
    return [
        asyncio.run(run_demo(Path(out_dir) / f"call{i}", use_espeak=False)).score for i in range(2)
    ]


@pytest.mark.slow
@pytest.mark.root
def test_history_after_two_demo_calls(tmp_path: Path) -> None:
    with private_journal(tmp_path / "journal") as journal:
        scores = journal.call(_two_demo_calls, str(tmp_path / "demo"))
        journal.sync()
        rows = json.loads(journal.run([sys.executable, "-m", "booth", "history", "--json"]).stdout)
        assert len(rows) == 2
        assert all(r["call_id"].startswith("athos_call_") for r in rows)
        assert rows[0]["call_id"] != rows[1]["call_id"]
        assert [r["score"] for r in rows] == [float(s) for s in scores if s is not None]
        for row in rows:
            assert row["has_summary"]
            assert row["booth_id"] == "booth-demo"
            assert row["drill"] and row["end_reason"]
            assert row["duration_sec"] > 0
        table = journal.run([sys.executable, "-m", "booth", "history"]).stdout
        assert rows[0]["call_id"] in table and rows[1]["call_id"] in table
        story = journal.run([sys.executable, "-m", "booth", "history", rows[1]["call_id"]])
        events = [line.split()[2] for line in story.stdout.splitlines()[1:]]
        assert "call_summary" in events
        assert rows[0]["call_id"] not in story.stdout
