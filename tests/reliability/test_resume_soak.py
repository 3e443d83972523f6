"""Soak of the Python API: consecutive calls with a resume in every one; the client's memory
and the cost of a log line must stay flat (each call registers secrets to scrub). 100 calls
here, 300 in `booth bench reliability`. The client runs in a child process so its RSS is its
own (the devserver here keeps a record of every call)."""

from __future__ import annotations

import pytest

from booth.sim.probe import run_in_child
from tests.daemon.harness import API_KEY, quick_devserver
from tests.reliability.conftest import FULL, Record

pytestmark = [pytest.mark.reliability, pytest.mark.slow]

CALLS = 300 if FULL else 100


@pytest.mark.timeout(3600)
async def test_calls_with_a_resume_each_stay_flat(figure: Record) -> None:
    async with quick_devserver() as server:
        spec = {"soak": CALLS, "api_url": server.url, "api_key": API_KEY, "ws_port": server.port}
        result = await run_in_child(spec, within=3000.0)
    figure("calls", result["calls"])
    figure("rss_growth_mb", result["rss_growth_mb"])
    figure("log_line_us_start", result["line_us_start"])
    figure("log_line_us_half", result["line_us_half"])
    figure("log_line_us_end", result["line_us_end"])
    figure("secrets_held", result["secrets_held"])
    assert result["resumes"] == CALLS
    assert result["rss_growth_mb"] <= 5.0, result
    # Flat per-line cost comes from a bounded scrub list: that is what is asserted; the two
    # timings are figures for the bench, not a race.
    from booth.limits import SECRETS

    assert result["secrets_held"] <= SECRETS.value + 4, result
