"""The whole booth against a hostile network: the real daemon (MockFactory pins), the devserver
on loopback, and a fault proxy on the call's link that black-holes or resets it like Wi-Fi does.

The link-down durations are the scenario itself (the proxy passes nothing for N seconds), not a
way of waiting for something; every outcome is awaited on a condition with a bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import time
from pathlib import Path
from typing import Any

import pytest

from booth import call_events as ev
from booth.config import RECONNECT_CUTOFF_S
from booth.devserver import DevServer
from booth.devserver.calls import CallStatus
from booth.session import RoleplaySession
from tests.daemon.harness import Booth, running_booth
from tests.reliability.conftest import FULL, Record
from tests.support.tls import untrusted_https_server

pytestmark = pytest.mark.reliability

OPEN_MIC = {"talk_mode": "open"}
IN_CALL = ("listening", "talking")


def _slow_if(seconds: float) -> Any:
    return pytest.param(seconds, marks=pytest.mark.slow) if seconds > 10 else seconds


BLACKHOLES = [_slow_if(s) for s in ((1, 5, 15, 29) if FULL else (1, 5, 29))]
PAST_CUTOFF = [pytest.param(s, marks=pytest.mark.slow) for s in ((31, 60) if FULL else (31,))]


async def start_call(b: Booth) -> str:
    b.mic.speaking = True
    await b.tap()
    await b.until(lambda: b.app.machine.state in IN_CALL, 15, "a live call")
    run = b.app.call
    assert run is not None and run.call_id
    return run.call_id


async def audio_arrives(b: Booth, call_id: str, within: float = 10.0) -> float:
    """Wait until the service receives fresh rep audio on ``call_id``; when it did."""
    call = b.server.calls[call_id]
    before = call.frames_received
    await b.server.wait_until(lambda: call.frames_received >= before + 5, within, "rep audio")
    return time.monotonic()


@pytest.mark.parametrize("seconds", BLACKHOLES)
async def test_blackhole_resumes_the_same_call(
    tmp_path: Path, figure: Record, seconds: float
) -> None:
    async with running_booth(
        tmp_path, through_proxy=True, panel=OPEN_MIC, server_kw={"resume_window": 40.0}
    ) as b:
        assert b.proxy is not None
        call_id = await start_call(b)
        await audio_arrives(b, call_id)
        b.proxy.blackhole()
        await asyncio.sleep(seconds)  # the outage
        restored = b.proxy.restore()
        await b.until(lambda: b.app.machine.state in IN_CALL, 15, "back in the call")
        back = await audio_arrives(b, call_id)
        run = b.app.call
        assert run is not None
        assert run.call_id == call_id
        assert b.server.calls[call_id].status is CallStatus.LIVE
        if seconds >= 3:  # longer than dead-link detection: the booth noticed and resumed
            assert "reconnecting" in b.states()
        figure("audio_back_after_link_s", back - restored)


@pytest.mark.parametrize("seconds", PAST_CUTOFF)
async def test_blackhole_past_the_cutoff_ends_with_network_lost(
    tmp_path: Path, figure: Record, seconds: float
) -> None:
    await _past_cutoff(tmp_path, figure, seconds, cutoff=RECONNECT_CUTOFF_S)


async def test_short_cutoff_ends_with_network_lost(tmp_path: Path, figure: Record) -> None:
    """The same path with the shortest cutoff the config allows, for every quick run."""
    await _past_cutoff(tmp_path, figure, 7.0, cutoff=5.0)


async def _past_cutoff(tmp_path: Path, figure: Record, seconds: float, cutoff: float) -> None:
    async with running_booth(
        tmp_path,
        through_proxy=True,
        panel=OPEN_MIC,
        call={"reconnect_cutoff": cutoff},
        server_kw={"resume_window": cutoff},
    ) as b:
        assert b.proxy is not None
        call_id = await start_call(b)
        session = b.app.call.session if b.app.call else None
        assert isinstance(session, RoleplaySession)
        await audio_arrives(b, call_id)
        b.proxy.blackhole()
        await b.until(lambda: session.first(ev.CallFailed) is not None, seconds + 5, "NETWORK_LOST")
        await asyncio.sleep(max(0.0, seconds - cutoff))  # the rest of the outage
        b.proxy.restore()
        error = session.first(ev.CallFailed)
        dropped = session.first(ev.Reconnecting)
        assert error is not None and dropped is not None
        assert error.code == "NETWORK_LOST"
        cutoff_error = error.at - dropped.dropped_at - cutoff
        assert abs(cutoff_error) <= 1.0, cutoff_error
        figure("cutoff_error_s", abs(cutoff_error))
        await b.wait_state("error")
        # The service ends the orphaned call when its own resume window closes.
        await b.server.wait_call(call_id, CallStatus.SCORING, within=cutoff + 10)
        # A press starts the next call, on a working link.
        await start_call(b)
        run = b.app.call
        assert run is not None
        assert run.call_id != call_id


async def test_tcp_reset_resumes(tmp_path: Path, figure: Record) -> None:
    async with running_booth(tmp_path, through_proxy=True, panel=OPEN_MIC) as b:
        assert b.proxy is not None
        call_id = await start_call(b)
        await audio_arrives(b, call_id)
        reset_at = time.monotonic()
        b.proxy.reset()
        await b.until(lambda: "reconnecting" in b.states(), 10, "reconnecting")
        await b.until(lambda: b.app.machine.state in IN_CALL, 10, "resumed")
        back = await audio_arrives(b, call_id)
        assert b.app.call is not None
        assert b.app.call.call_id == call_id
        figure("audio_back_after_reset_s", back - reset_at)


async def test_devserver_restarted_mid_call(tmp_path: Path) -> None:
    """The service loses the call with its restart: the booth ends it clearly and goes on."""
    async with running_booth(tmp_path, panel=OPEN_MIC) as b:
        call_id = await start_call(b)
        port = b.server.port
        await b.server.close()
        restarted = DevServer(
            api_keys=b.server.api_keys,
            port=port,
            settings=b.server.settings,
            drills=dict(b.server.drills),
            use_espeak=False,
        )
        await restarted.start()
        try:
            # The new process refuses to resume a call it never knew: the call ends, clearly.
            await b.until(lambda: b.app.summaries, 30, "the call's summary")
            assert b.app.summaries[-1].end_reason in {"RESUME_REJECTED", "server_shutdown"}
            await b.wait_state("idle", within=30)
            b.server = restarted  # the next call goes to the new process
            await start_call(b)
            run = b.app.call
            assert run is not None
            assert run.call_id != call_id
            assert run.call_id in restarted.calls
        finally:
            await restarted.close()


async def test_dns_failure_is_a_clear_error_and_retryable(tmp_path: Path) -> None:
    # `.invalid` never resolves (RFC 6761): the lookup fails locally, nothing leaves the host.
    async with running_booth(tmp_path, service={"api_url": "https://booth-test.invalid"}) as b:
        await b.tap()
        await b.wait_state("error", within=30)
        assert b.app.machine.error_code == "NETWORK_LOST"
        assert b.led == "error"


@pytest.mark.parametrize(("status", "count"), [(429, 1), (503, 2)])
async def test_token_endpoint_throttled_then_the_call_starts(
    tmp_path: Path, figure: Record, status: int, count: int
) -> None:
    async with running_booth(tmp_path) as b:
        b.server.faults.rest.status = status
        b.server.faults.rest.retry_after = 1
        b.server.faults.rest.count = count
        started = time.monotonic()
        await start_call(b)
        figure("press_to_call_s", time.monotonic() - started)


async def test_slow_service_still_connects(tmp_path: Path, figure: Record) -> None:
    async with running_booth(tmp_path) as b:
        b.server.faults.rest.delay = 1.5
        started = time.monotonic()
        await start_call(b)
        figure("press_to_call_s", time.monotonic() - started)
        with contextlib.suppress(Exception):
            b.server.faults.clear()


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")
async def test_untrusted_tls_certificate_is_a_clear_error(tmp_path: Path) -> None:
    """A service (or a man in the middle) on loopback with a self-signed certificate: the call
    does not start, the error says why, and nothing falls back to an unverified connection."""
    async with (
        untrusted_https_server(tmp_path) as port,
        running_booth(tmp_path, service={"api_url": f"https://127.0.0.1:{port}"}) as b,
    ):
        await b.tap()
        await b.wait_state("error", within=30)
        assert b.app.machine.error_code == "TLS_VERIFY_FAILED"
        assert b.led == "error"
        assert b.app.call is None or not b.app.call.call_id
