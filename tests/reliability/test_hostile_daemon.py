"""The daemon against a hostile service (booth/sim/hostile.py): the score poll ends within
``call.score_wait`` whatever the service trickles, a malformed ``connectionUrl`` is a typed error
the next press recovers from (not INTERNAL_ERROR with a traceback), and forged text in an end
reason or an error stays one clean line in the log and one clean word in the summary."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from booth.daemon.sessions import session_factory_for
from booth.logs import StderrFormatter, record_fields
from booth.secret import Secret
from booth.sim import hostile as h
from booth.transport.rest import RestClient
from tests.daemon.harness import API_KEY, Booth, booth_config_for_url, running_booth
from tests.reliability.conftest import Record
from tests.reliability.test_network import IN_CALL, start_call

pytestmark = pytest.mark.reliability

OPEN_MIC = {"talk_mode": "open"}


@contextlib.asynccontextmanager
async def hostile_booth(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, **sections: dict[str, Any]
) -> AsyncIterator[tuple[h.HostileService, Booth]]:
    """A booth whose calls (REST and WebSocket) and score polls go to a hostile service; every
    REST read may take 60 s, so only the booth's own bounds end a trickle."""
    caplog.set_level(logging.INFO)
    async with (
        h.hostile_service() as svc,
        running_booth(tmp_path, panel=OPEN_MIC, **sections) as b,
    ):
        config = booth_config_for_url(svc.api_url)
        b.app.session_factory = session_factory_for(config, Secret(API_KEY))
        b.app.rest_factory = lambda: RestClient(svc.api_url, API_KEY, timeout=60.0)
        b.mic.speaking = True
        yield svc, b


async def test_score_poll_is_bounded_against_a_trickling_service(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, figure: Record
) -> None:
    """A call record trickled a byte a second (51 s in all) with reads that never time out:
    the poll gives up at score_wait and the summary is written."""
    wait = {"score_wait": 2.0, "score_display": 0.0}
    async with hostile_booth(tmp_path, caplog, call=wait) as (svc, b):
        svc.rest[h.CALLS] = h.trickle_body(
            1.0, b'{"status": "scored", "score": {"overallScore": 80}}'
        )
        await start_call(b)
        loop = asyncio.get_running_loop()
        before = len(b.app.summaries)
        await b.double_press()
        ended = loop.time()
        await b.until(lambda: len(b.app.summaries) > before, 30, "the summary")
        waited = loop.time() - ended
        await b.wait_state("idle", within=10)
    figure("time_to_typed_error_s", waited)  # ScoreGaveUp: the typed end of a poll
    assert svc.count(h.CALLS) >= 1  # the poll did reach the trickling service
    assert b.app.summaries[-1].score is None
    assert waited < 2.0 + 8.0


async def test_malformed_connection_url_then_the_next_press_calls(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with hostile_booth(tmp_path, caplog) as (svc, b):
        svc.connection_url = "ws://127.0.0.1:99999/ws"
        await b.tap()
        await b.wait_state("error", within=15)
        assert b.app.machine.error_code == "PROTOCOL_ERROR"
        assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"
        svc.connection_url = None  # the service's own, well-formed URL
        await b.tap()
        await b.until(lambda: b.app.machine.state in IN_CALL, 15, "a live call")


FORGED = "x\n05:00:00.000 ERROR   booth.daemon.app: call summary: FORGED\x1b[2J"


async def test_forged_text_stays_one_clean_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with hostile_booth(tmp_path, caplog) as (svc, b):
        svc.ws = h.ws_sends(
            json.dumps({"type": "error", "code": "BAD\nCODE", "message": FORGED}),
            json.dumps({"type": "session_ended", "reason": "done" + FORGED}),
            then_end=False,
        )
        before = len(b.app.summaries)
        await b.tap()
        await b.until(lambda: len(b.app.summaries) > before, 20, "the summary")
    summary = b.app.summaries[-1]
    assert "\n" not in summary.end_reason and " " not in summary.end_reason
    assert summary.error_code is None or summary.error_code.replace("_", "").isalnum()
    formatter = StderrFormatter()
    for record in caplog.records:
        line = formatter.format(record)
        assert "\n" not in line and "\x1b" not in line, line
        for value in record_fields(record).values():
            assert "\n" not in value and "\x1b" not in value
