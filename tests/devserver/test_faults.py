"""Each fault knob, per call and global, observed from a real client."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, ConnectionClosedError

from booth.devserver import CallStatus, DevServer, SocketFaults
from booth.devserver.drills import parse_drill
from booth.devserver.faults import MALFORMED_MESSAGES, UNKNOWN_MESSAGES
from booth.protocol.client import ClientProtocol
from booth.protocol.messages import Audio, ProtocolError, Unknown
from tests.devserver.conftest import (
    API_KEY,
    fast_settings,
    open_call,
    recv_json,
    recv_until,
    redeem,
)


async def _closed(ws: ClientConnection) -> ConnectionClosed:
    """Read until the socket closes; the exception that said so."""
    try:
        while True:
            await asyncio.wait_for(ws.recv(), 5)
    except ConnectionClosed as exc:
        return exc


async def _drain_until_closed(ws: ClientConnection) -> None:
    assert isinstance(await _closed(ws), ConnectionClosed)


async def test_drop_after(http: httpx.AsyncClient, server: DevServer) -> None:
    data = await redeem(http)
    server.fault_call(data["callId"], drop_after=0.1)
    ws, connected = await open_call(server, data["connectionTicket"])
    assert isinstance(await _closed(ws), ConnectionClosedError)
    assert ws.close_code == 1006  # no close frame: a network failure, not a hang-up
    await server.wait_call(data["callId"], CallStatus.SUSPENDED)
    # once=True (default): the resumed socket is left alone.
    async with connect(server.ws_url) as ws2:
        await ws2.send(json.dumps({"type": "resume", "resumeToken": connected["resumeToken"]}))
        assert (await recv_json(ws2))["type"] == "resumed"
        await ws2.send(json.dumps({"type": "end"}))
        await recv_until(ws2, "session_ended")
    assert (await server.wait_call(data["callId"])).resumes == 1


async def test_blackhole_after(http: httpx.AsyncClient, server: DevServer) -> None:
    data = await redeem(http)
    server.fault_call(data["callId"], blackhole_after=0.1)
    ws, connected = await open_call(server, data["connectionTicket"])
    call = await server.wait_call(data["callId"], CallStatus.SUSPENDED)
    sent = call.frames_sent
    # Held open, but silent: a ping is never answered and no audio arrives.
    pong = await ws.ping()
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(asyncio.shield(pong), 0.5)
    assert ws.state.name == "OPEN"
    assert call.frames_sent <= sent + 1  # at most the frame already in flight
    # The client gives up on the link and resumes on a new one; the old socket is dropped.
    async with connect(server.ws_url) as ws2:
        await ws2.send(json.dumps({"type": "resume", "resumeToken": connected["resumeToken"]}))
        assert (await recv_json(ws2))["type"] == "resumed"
        await recv_until(ws2, "agent_stop_talking")  # the persona carries on
        await ws2.send(json.dumps({"type": "end"}))
        await recv_until(ws2, "session_ended")
    await _drain_until_closed(ws)
    assert (await server.wait_call(data["callId"])).sockets == 2


async def test_refuse_resume(http: httpx.AsyncClient, server: DevServer) -> None:
    data = await redeem(http)
    server.fault_call(data["callId"], refuse_resume=True)
    ws, connected = await open_call(server, data["connectionTicket"])
    ws.transport.abort()
    await server.wait_call(data["callId"], CallStatus.SUSPENDED)
    async with connect(server.ws_url) as ws2:
        await ws2.send(json.dumps({"type": "resume", "resumeToken": connected["resumeToken"]}))
        error = await recv_json(ws2)
        assert error["code"] == "RESUME_REJECTED"
        await _drain_until_closed(ws2)


async def test_malformed_and_unknown_messages(http: httpx.AsyncClient, server: DevServer) -> None:
    server.faults.socket = SocketFaults(send_malformed=True, send_unknown=True)
    data = await redeem(http)
    protocol = ClientProtocol()
    async with connect(server.ws_url) as ws:
        await ws.send(protocol.hello(data["connectionTicket"]))
        events = []
        while not any(isinstance(e, Audio) for e in events):
            events.extend(protocol.receive(await asyncio.wait_for(ws.recv(), 5)))
    problems = [e for e in events if isinstance(e, ProtocolError)]
    unknown = [e for e in events if isinstance(e, Unknown)]
    assert len(problems) == len(MALFORMED_MESSAGES)
    assert len(unknown) == len(UNKNOWN_MESSAGES)
    assert {e.type for e in unknown} == {"x_future_feature", "metrics"}
    assert protocol.is_open  # none of it was fatal


async def test_inject_raw_messages(http: httpx.AsyncClient, server: DevServer) -> None:
    data = await redeem(http)
    server.fault_call(data["callId"], inject=['{"type":"error","code":"X_TEST","message":"hi"}'])
    ws, _ = await open_call(server, data["connectionTicket"])
    async with ws:
        texts, _ = await recv_until(ws, "error")
        assert texts[-1]["code"] == "X_TEST"


async def test_flood_sends_faster_than_real_time() -> None:
    long_line = "la " * 60  # 60 syllables: about ten seconds of synthetic speech
    drill = parse_drill(
        {
            "drillKey": "long",
            "persona": {"name": "Lo", "opening": long_line},
            "difficulty": {"Beginner": {"lines": ["ok"]}},
        },
        "test",
    )
    async with (
        DevServer(
            api_keys={API_KEY},
            drills={"long": drill},
            settings=fast_settings(default_drill="long"),
            use_espeak=False,
        ) as server,
        httpx.AsyncClient(base_url=server.url) as http,
    ):
        server.faults.socket.flood = True
        data = await redeem(http, drill="long")
        ws, _ = await open_call(server, data["connectionTicket"])
        async with ws:
            loop = asyncio.get_running_loop()
            # Ten seconds of audio must arrive well inside ten seconds (the wait is a bound,
            # not a measurement: real-time pacing could not meet it).
            _, audio = await asyncio.wait_for(recv_until(ws, "agent_stop_talking"), 4.0)
            assert len(audio) / 32000 > 9.0
            assert loop.time() > 0


async def test_real_time_pacing_by_default() -> None:
    """Without flood, the persona's audio is paced: after 0.2 s, far less than 10 s was sent."""
    drill = parse_drill(
        {
            "drillKey": "long",
            "persona": {"name": "Lo", "opening": "la " * 60},
            "difficulty": {"Beginner": {"lines": ["ok"]}},
        },
        "test",
    )
    async with (
        DevServer(
            api_keys={API_KEY}, drills={"long": drill}, settings=fast_settings(), use_espeak=False
        ) as server,
        httpx.AsyncClient(base_url=server.url) as http,
    ):
        data = await redeem(http, drill="long")
        ws, _ = await open_call(server, data["connectionTicket"])
        async with ws:
            await server.wait_until(lambda: server.calls[data["callId"]].frames_sent >= 10)
            frames = server.calls[data["callId"]].frames_sent
            assert frames < 250  # 250 frames = 5 s; pacing keeps it near real time


@pytest.mark.parametrize("reason", ["agent_disconnected", "room_closed", "session_closed"])
async def test_end_with_reason(http: httpx.AsyncClient, server: DevServer, reason: str) -> None:
    data = await redeem(http)
    server.fault_call(data["callId"], end_after=0.05, end_reason=reason)
    ws, _ = await open_call(server, data["connectionTicket"])
    async with ws:
        texts, _ = await recv_until(ws, "session_ended")
        assert texts[-1]["reason"] == reason
        await _drain_until_closed(ws)
    assert ws.close_code == 1000
    assert (await server.wait_call(data["callId"])).end_reason == reason


async def test_global_faults_apply_to_every_call(
    http: httpx.AsyncClient, server: DevServer
) -> None:
    server.faults.socket.end_after = 0.05
    for _ in range(2):
        data = await redeem(http)
        ws, _ = await open_call(server, data["connectionTicket"])
        async with ws:
            texts, _ = await recv_until(ws, "session_ended")
            assert texts[-1]["reason"] == "agent_disconnected"
    server.faults.clear()
    assert server.faults.socket.end_after is None
