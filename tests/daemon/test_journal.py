"""As root: a whole call logged to a real journald in a private mount namespace."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from booth.daemon.summary import JOURNAL_FIELDS
from tests.daemon.harness import API_KEY, running_booth
from tests.support.journald import booth_journal_logging, private_journal

pytestmark = pytest.mark.root

#: Every summary field but the error code (a call without an error logs none).
SUMMARY_FIELDS = tuple(name for name in JOURNAL_FIELDS if name != "ERROR_CODE")


def hold_a_call(workdir: str) -> dict[str, Any]:
    """Runs inside the namespace: one scored call through the real daemon."""
    booth_journal_logging("info", BOOTH_ID="booth-journal")

    async def scenario() -> dict[str, Any]:
        async with running_booth(Path(workdir), call={"score_display": 5.0}) as b:
            await b.tap()
            await b.wait_state("listening")
            await b.press()
            b.mic.speaking = True
            await b.server.wait_frames(b.call().call_id, 25)
            b.mic.speaking = False
            await b.release()
            await b.double_press()
            await b.until(lambda: b.app.summaries, within=15, what="summary")
            call_id = b.call().call_id
            score = b.call().score.overall
        import booth.logs

        # Every secret the booth and the devserver registered: key, tokens, tickets, resume.
        return {
            "call_id": call_id,
            "score": score,
            "secrets": sorted(booth.logs.registered_secrets()),
        }

    return asyncio.run(scenario())


def test_a_call_tells_its_story_in_the_journal(tmp_path: Path) -> None:
    with private_journal(tmp_path) as journal:
        result = journal.call(hold_a_call, str(tmp_path))
        call_id = result["call_id"]
        records = journal.entries(CALL_ID=call_id)
        events = [r.get("EVENT") for r in records]
        assert "call_started" in events and "end_call" in events and "score" in events
        assert all(r.get("BOOTH_ID") == "booth-journal" for r in records)
        summaries = [r for r in records if r.get("EVENT") == "call_summary"]
        assert len(summaries) == 1
        summary = summaries[0]
        for name in SUMMARY_FIELDS:
            # NO_SCORE says why a call has no score: a scored call has no such field.
            assert (name in summary) is (name != "NO_SCORE"), name
        assert summary["SCORE"] == str(result["score"])
        assert summary["END_REASON"] == "double_press" and summary["DRILL_KEY"] == "quick"
        assert int(summary["FRAMES_SENT"]) >= 25 and int(summary["FRAMES_RECEIVED"]) > 0
        # State changes are there, with the state they entered.
        states = journal.entries(EVENT="state")
        assert {"connecting", "listening", "talking", "scoring"} <= {
            r["BOOTH_STATE"] for r in states
        }
        # Never a line per frame: a call of a few seconds is a few dozen records, not hundreds.
        everything = journal.entries()
        assert len(everything) < 200
        text = json.dumps(everything)
        secrets = [s for s in result["secrets"] if len(s) >= 8]
        assert API_KEY in secrets and len(secrets) >= 3  # key, session token, ticket at least
        for secret in secrets:
            assert secret not in text
