"""Soak: many consecutive short calls with drops at random; memory, descriptors and the
service's open calls must not grow. 20 calls here, 300 in `booth bench reliability`."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from booth.devserver.calls import CallStatus
from tests.daemon.harness import running_booth
from tests.reliability.conftest import FULL, Record
from tests.reliability.test_network import IN_CALL, audio_arrives, start_call

pytestmark = [pytest.mark.reliability, pytest.mark.slow]

CALLS = 300 if FULL else 20
WARM_UP = 3


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.timeout(3600)
async def test_consecutive_calls_with_random_drops(tmp_path: Path, figure: Record) -> None:
    rng = random.Random(1234)
    async with running_booth(
        tmp_path,
        through_proxy=True,
        panel={"talk_mode": "open"},
        call={"score_display": 0.0},
    ) as b:
        assert b.proxy is not None
        baseline: tuple[float, int] | None = None
        drops = 0
        for number in range(CALLS):
            call_id = await start_call(b)
            await audio_arrives(b, call_id)
            if rng.random() < 0.5:
                drops += 1
                seen = b.states().count("reconnecting")
                b.proxy.reset()
                await b.until(lambda s=seen: b.states().count("reconnecting") > s, 10)  # type: ignore[misc]
                await b.until(lambda: b.app.machine.state in IN_CALL, 15, "resumed")
                await audio_arrives(b, call_id)
            summaries = len(b.app.summaries)
            await b.double_press()
            await b.until(lambda n=summaries: len(b.app.summaries) > n, 15, "summary")  # type: ignore[misc]
            await b.wait_state("idle", within=15)
            if number + 1 == WARM_UP:
                baseline = (rss_mb(), open_fds())
        assert baseline is not None
        rss_growth = rss_mb() - baseline[0]
        fd_growth = open_fds() - baseline[1]
        figure("rss_growth_mb", rss_growth)
        figure("fd_growth", fd_growth)
        figure("calls", CALLS)
        figure("drops", drops)
        still_open = [
            c.call_id
            for c in b.server.calls.values()
            if c.status in (CallStatus.LIVE, CallStatus.SUSPENDED, CallStatus.CREATED)
        ]
        assert still_open == []
        assert len(b.app.summaries) == CALLS
        assert fd_growth <= 5
        assert rss_growth < 25
