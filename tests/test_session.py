"""RoleplaySession (booth/session.py) against the devserver on loopback, through the fault
proxy."""

from __future__ import annotations

import asyncio
import time

import pytest

from booth import call_events as ev
from booth.config import RECONNECT_CUTOFF_S
from booth.devserver import CallStatus, DevServer
from booth.errors import BoothError, ErrorCode
from booth.session import RoleplaySession, SessionState
from booth.sim.faultproxy import TcpProxy
from tests.transport.helpers import (
    KEY,
    LOUD,
    SILENCE,
    fast_settings,
    persona_audio_after,
    service,
    session,
    speak_turn,
    wait_event,
)


async def connected(server: DevServer, proxy: TcpProxy, **kw) -> RoleplaySession:
    sess = session(server, proxy, **kw)
    await sess.connect()
    await wait_event(sess, ev.Ready)
    return sess


async def assert_recovers(sess: RoleplaySession, server: DevServer, proxy: TcpProxy, hold: float):
    """Black-hole for ``hold`` seconds: reconnecting, then reconnected, same call, audio flows."""
    call_id = sess.call_id
    bh_at = proxy.blackhole()
    if hold > 3.0:  # a long outage is noticed while it lasts
        await wait_event(sess, ev.Reconnecting, after=bh_at, within=10)
    await _hold(hold - (time.monotonic() - bh_at))
    proxy.restore()
    reconnecting = await wait_event(sess, ev.Reconnecting, after=bh_at, within=10)
    # The drop is dated to the last inbound traffic, which is no later than the black hole.
    assert reconnecting.dropped_at <= bh_at + 0.05
    reconnected = await wait_event(sess, ev.Reconnected, after=reconnecting.at, within=10)
    assert reconnected.call_id == call_id
    assert sess.call_id == call_id
    assert sess.state is SessionState.OPEN
    assert sess.first(ev.Ended) is None
    # Audio flows again, both ways.
    before = server.calls[call_id].frames_received
    sess.flush_persona_audio()
    await speak_turn(sess)
    await server.wait_frames(call_id, before + 25)
    assert await persona_audio_after(sess, 10) > 0
    assert sess.stats.reconnects == 1
    assert sess.stats.longest_outage >= hold - 1.5


async def _hold(seconds: float) -> None:
    """Keep a fault in place for a while: the fault's length is the test's input, not a sync."""
    if seconds > 0:
        await asyncio.sleep(seconds)


async def test_call_end_to_end() -> None:
    async with service() as (server, proxy):
        sess = session(server, proxy)
        names: list[str] = []
        for name in ("connecting", "ready", "userSpeaking", "ended"):
            sess.on(name, lambda p, n=name: names.append(n))
        await sess.connect()
        ready = await wait_event(sess, ev.Ready)
        assert ready.persona_name
        assert sess.call_id and sess.call_id.startswith("athos_call_")
        await speak_turn(sess)
        assert await persona_audio_after(sess, 20) >= 20 * 2
        assert [e.speaking for e in sess.events if e.name == "userSpeaking"] == [
            True,
            False,
        ]
        assert sess.first(ev.PersonaSpeaking) is not None
        await sess.end()
        ended = await wait_event(sess, ev.Ended)
        assert ended.call_id == sess.call_id
        assert ended.reason == "client_requested"
        assert ended.duration > 0
        assert names[0] == "connecting" and names[-1] == "ended"
        call = await server.wait_call(sess.call_id, CallStatus.SCORING)
        assert call.frames_received >= 25
        assert sess.stats.frames_sent >= 25


async def test_sdk_token_flow() -> None:
    async with service() as (server, proxy):
        sess = session(server, proxy, flow="sdk-token")
        await sess.connect()
        await wait_event(sess, ev.Ready)
        assert sess.call_id is None  # seed 003 never names the call
        assert [call.dialect for call in server.calls.values()] == ["seed003"]
        await sess.end()


async def test_mute_drops_frames_and_unsubscribe_works() -> None:
    async with service() as (server, proxy):
        sess = await connected(server, proxy)
        seen: list[dict] = []
        off = sess.on("userSpeaking", seen.append)
        sess.mute()
        assert not sess.send_audio(LOUD)
        assert sess.stats.frames_muted == 1
        sess.unmute()
        off()
        assert sess.send_audio(LOUD)
        with pytest.raises(ValueError):
            sess.send_audio(b"\x00" * 100)
        await sess.end()
        assert seen == []
        assert server.calls[sess.call_id].frames_received <= sess.stats.frames_sent


@pytest.mark.parametrize("code", ["INVALID_API_KEY"])
async def test_rest_failure_is_an_error_event(code: str) -> None:
    async with service() as (server, _proxy):
        sess = RoleplaySession(server.url, "ath_live_wrong_key_0000", "cold-call-skeptic")
        errors: list[dict] = []
        sess.on("error", errors.append)
        with pytest.raises(BoothError) as caught:
            await sess.connect()
        assert caught.value.code == code
        assert errors[0]["code"] == code
        assert "ath_live_wrong_key_0000" not in str(caught.value)


async def test_unknown_drill_is_reported() -> None:
    async with service() as (server, _proxy):
        sess = RoleplaySession(server.url, KEY, "no-such-drill")
        with pytest.raises(BoothError) as caught:
            await sess.connect()
        assert caught.value.code == ErrorCode.DRILL_NOT_FOUND


async def test_blackhole_2s_reconnects_to_the_same_call() -> None:
    async with service() as (server, proxy):
        sess = await connected(server, proxy)
        await assert_recovers(sess, server, proxy, hold=2.0)
        await sess.end()


@pytest.mark.slow
async def test_blackhole_20s_reconnects_to_the_same_call() -> None:
    async with service() as (server, proxy):
        sess = await connected(server, proxy)
        await assert_recovers(sess, server, proxy, hold=20.0)
        await sess.end()


async def _blackhole_past_cutoff(cutoff: float) -> None:
    async with service() as (server, proxy):
        sess = await connected(server, proxy, reconnect_cutoff=cutoff)
        bh_at = proxy.blackhole()
        reconnecting = await wait_event(sess, ev.Reconnecting, after=bh_at, within=10)
        error = await wait_event(sess, ev.CallFailed, after=bh_at, within=cutoff + 5)
        ended = await wait_event(sess, ev.Ended, after=bh_at, within=5)
        assert error.code == ErrorCode.NETWORK_LOST
        assert ended.reason == "network_lost"
        assert ended.call_id == sess.call_id
        dropped_at = reconnecting.dropped_at
        # The drop is dated within the pinging interval of the black hole...
        assert bh_at - 1.5 <= dropped_at <= bh_at + 0.05
        # ...and the call is given up `cutoff` after it (± 1 s), read from the event stamps.
        assert abs((error.at - dropped_at) - cutoff) <= 1.0
        assert sess.first(ev.Reconnected) is None
        assert sess.state is SessionState.ENDED
        proxy.restore()


async def test_blackhole_past_a_short_cutoff_is_network_lost() -> None:
    await _blackhole_past_cutoff(4.0)


@pytest.mark.slow
async def test_blackhole_past_the_default_cutoff_is_network_lost() -> None:
    await _blackhole_past_cutoff(RECONNECT_CUTOFF_S)


async def test_reset_reconnects() -> None:
    async with service() as (server, proxy):
        sess = await connected(server, proxy)
        call_id = sess.call_id
        reset_at = asyncio.get_running_loop().time()
        proxy.reset()
        reconnecting = await wait_event(sess, ev.Reconnecting, after=reset_at)
        assert reconnecting.reason == "connection lost"
        reconnected = await wait_event(sess, ev.Reconnected, after=reset_at)
        assert reconnected.call_id == call_id
        await speak_turn(sess)
        await server.wait_frames(call_id, 25)
        await sess.end()
        assert sess.end_reason == "client_requested"


async def test_service_side_drop_reconnects() -> None:
    async with service() as (server, proxy):
        sess = await connected(server, proxy)
        start = asyncio.get_running_loop().time()
        server.fault_call(sess.call_id, drop_after=0.0)
        reconnected = await wait_event(sess, ev.Reconnected, after=start)
        assert reconnected.call_id == sess.call_id
        assert server.calls[sess.call_id].resumes == 1
        await sess.end()


async def test_refused_resume_ends_the_call_with_its_reason() -> None:
    async with service() as (server, proxy):
        sess = await connected(server, proxy)
        server.fault_call(sess.call_id, refuse_resume=True)
        start = asyncio.get_running_loop().time()
        proxy.reset()
        ended = await wait_event(sess, ev.Ended, after=start)
        error = await wait_event(sess, ev.CallFailed, after=start)
        assert error.code == "RESUME_REJECTED"
        assert ended.reason == "RESUME_REJECTED"
        assert sess.first(ev.Reconnected) is None


async def test_server_restart_mid_outage_refuses_the_resume() -> None:
    async with service() as (server, proxy):
        sess = await connected(server, proxy)
        start = proxy.blackhole()  # the shutdown's session_ended never arrives
        await wait_event(sess, ev.Reconnecting, after=start)
        port = server.port
        await server.close()
        async with DevServer(api_keys={KEY}, port=port, settings=fast_settings()) as again:
            assert again.port == port
            proxy.restore()
            ended = await wait_event(sess, ev.Ended, after=start, within=10)
        assert ended.reason == "RESUME_REJECTED"
        assert sess.first(ev.CallFailed, start).code == "RESUME_REJECTED"


async def test_server_shutdown_ends_the_call() -> None:
    async with service() as (server, proxy):
        sess = await connected(server, proxy)
        await server.close()
        ended = await wait_event(sess, ev.Ended)
        assert ended.reason == "server_shutdown"
        assert sess.first(ev.Reconnecting) is None


async def test_malformed_and_unknown_server_messages_are_skipped() -> None:
    async with service() as (server, proxy):
        server.faults.socket.send_malformed = True
        server.faults.socket.send_unknown = True
        server.faults.socket.inject = ['{"type": "connected", "sampleRate": "fast"}', b""]
        sess = await connected(server, proxy)
        await speak_turn(sess)
        assert await persona_audio_after(sess, 10) > 0
        assert sess.stats.protocol_errors >= 4
        assert sess.state is SessionState.OPEN
        await sess.end()
        assert sess.end_reason == "client_requested"


async def test_interruption_flushes_persona_audio() -> None:
    async with service() as (server, proxy):
        sess = await connected(server, proxy)
        # The persona greets; barge in while it speaks.
        await wait_event(sess, ev.PersonaSpeaking)
        for _ in range(10):
            sess.send_audio(LOUD)
        event = await wait_event(sess, ev.Interruption)
        assert event.flushed_chunks >= 0
        await sess.end()


async def test_backlogged_link_drops_mic_frames_without_blocking() -> None:
    async with service() as (server, proxy):
        sess = await connected(server, proxy)
        proxy.stall()  # nothing is read: the socket's buffers fill
        results = [sess.send_audio(SILENCE) for _ in range(20000)]
        await asyncio.sleep(0)
        results += [sess.send_audio(SILENCE) for _ in range(20000)]
        assert results.count(False) > 0
        assert sess.stats.frames_dropped == results.count(False)
        link = sess._supervisor.link if sess._supervisor else None
        if link is not None:  # bounded: the guard stops queueing at the threshold
            assert len(link._pending) <= link.settings.max_pending
        async with asyncio.timeout(10):
            await sess.disconnect()  # close is bounded, then the transport is aborted
        assert sess.state is SessionState.ENDED
        proxy.restore()


async def test_disconnect_while_reconnecting_ends_the_call_at_once() -> None:
    async with service() as (server, proxy):
        sess = await connected(server, proxy)
        start = proxy.blackhole()
        await wait_event(sess, ev.Reconnecting, after=start)
        async with asyncio.timeout(5):
            await sess.disconnect()
        ended = await wait_event(sess, ev.Ended, after=start)
        assert ended.reason == "client_requested"
        assert sess.first(ev.CallFailed, start) is None
        proxy.restore()


async def test_service_side_black_hole_is_detected_and_resumed() -> None:
    """The devserver stops reading and sending on its side (no reset): same outcome."""
    async with service() as (server, proxy):
        sess = await connected(server, proxy)
        start = asyncio.get_running_loop().time()
        server.fault_call(sess.call_id, blackhole_after=0.0)
        reconnecting = await wait_event(sess, ev.Reconnecting, after=start)
        assert reconnecting.reason.startswith("no traffic")
        reconnected = await wait_event(sess, ev.Reconnected, after=reconnecting.at)
        assert reconnected.call_id == sess.call_id
        await speak_turn(sess)
        await sess.end()
        assert sess.end_reason == "client_requested"
