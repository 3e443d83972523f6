"""A whole call over real loopback sockets: mint, redeem, WebSocket, persona, turns, end, score."""

from __future__ import annotations

import json

import httpx

from booth.devserver import CallStatus, DevServer
from booth.protocol.client import ClientProtocol
from booth.protocol.messages import Audio, Connected
from tests.devserver.conftest import (
    API_KEY,
    SILENCE,
    bearer,
    mint,
    open_call,
    recv_json,
    recv_until,
    redeem,
    speech_frame,
)


async def test_mint_returns_jwt_and_expiry(http: httpx.AsyncClient) -> None:
    response = await http.post(
        "/api/external/v1/session", json={"externalUserId": "booth-01"}, headers=bearer(API_KEY)
    )
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"token", "expiresAt"}
    assert body["token"].count(".") == 2  # a JWT
    assert body["expiresAt"].endswith("Z")
    assert response.headers["X-Athos-Request-Id"].startswith("req_")


async def test_redeem_shape(http: httpx.AsyncClient, server: DevServer) -> None:
    data = await redeem(http, difficulty="Elite")
    assert set(data) == {"connectionUrl", "connectionTicket", "sessionId", "callId", "persona"}
    assert data["connectionUrl"] == server.ws_url
    assert data["sessionId"].startswith("ext_")
    assert data["callId"].startswith("athos_call_")
    assert data["persona"] == {"name": "Tess Tester"}
    assert server.calls[data["callId"]].status is CallStatus.CREATED
    assert server.calls[data["callId"]].difficulty == "Elite"


async def test_full_call(http: httpx.AsyncClient, server: DevServer) -> None:
    data = await redeem(http)
    call_id = data["callId"]
    ws, connected = await open_call(server, data["connectionTicket"])
    async with ws:
        assert connected["type"] == "connected"
        assert connected["callId"] == call_id
        assert connected["sessionId"] == data["sessionId"]
        assert connected["persona"] == {"name": "Tess Tester"}
        assert connected["sampleRate"] == 16000
        assert set(connected["features"]) == {"turn_end", "end", "resume", "interruption"}
        assert connected["resumeToken"]
        assert (await recv_json(ws))["type"] == "agent_ready"

        # The persona greets: start marker, real-time audio, stop marker.
        texts, audio = await recv_until(ws, "agent_stop_talking")
        assert texts[0]["type"] == "agent_start_talking"
        assert len(audio) > 16000  # over half a second of speech
        assert len(audio) % 2 == 0
        assert audio == bytes(server.calls[call_id].persona_audio)

        # A rep turn: speech frames, then the talk button is released.
        for _ in range(25):
            await ws.send(speech_frame())
        await server.wait_frames(call_id, 25)
        await ws.send(json.dumps({"type": "turn_end"}))
        texts, reply = await recv_until(ws, "agent_stop_talking")
        assert texts[0]["type"] == "agent_start_talking"
        assert reply

        # Second turn ends by silence (open mic).
        for _ in range(10):
            await ws.send(speech_frame())
        for _ in range(5):
            await ws.send(SILENCE)
        await recv_until(ws, "agent_stop_talking")

        await ws.send(json.dumps({"type": "end"}))
        ended = await recv_json(ws)
        assert ended == {"type": "session_ended", "reason": "client_requested"}

    call = await server.wait_call(call_id, CallStatus.SCORED)
    assert call.end_reason == "client_requested"
    assert len(call.rep_turns) == 2
    assert call.frames_received == 40
    assert len(call.rep_audio) == 40 * 640

    response = await http.get(f"/api/external/v1/calls/{call_id}", headers=bearer(API_KEY))
    assert response.status_code == 200
    record = response.json()
    assert record["callId"] == call_id
    assert record["status"] == "scored"
    assert record["source"] == "roleplay"
    assert record["drillKey"] == "quick"
    assert record["durationSec"] > 0
    assert 0 <= record["score"]["overallScore"] <= 100
    assert "2 rep turns" in record["score"]["summary"]
    roles = [entry["role"] for entry in record["transcript"]]
    assert roles.count("agent") == 2
    assert roles[0] == "beneficiary"
    assert record["transcript"][0]["content"] == "Hello there."
    rep = [entry for entry in record["transcript"] if entry["role"] == "agent"]
    assert all(entry["endTime"] > entry["startTime"] for entry in rep)


async def test_booth_client_protocol_accepts_the_server(
    http: httpx.AsyncClient, server: DevServer
) -> None:
    """The booth's own sans-I/O client parses everything the server sends."""
    data = await redeem(http)
    protocol = ClientProtocol()
    from websockets.asyncio.client import connect

    async with connect(server.ws_url) as ws:
        await ws.send(protocol.hello(data["connectionTicket"]))
        events = []
        while not any(isinstance(e, Audio) for e in events):
            events.extend(protocol.receive(await ws.recv()))
        assert isinstance(events[0], Connected)
        assert protocol.is_open and protocol.agent_ready and protocol.can_resume
        end = protocol.end()
        assert end is not None
        await ws.send(end)
        while protocol.is_open:
            protocol.receive(await ws.recv())
        assert protocol.end_reason == "client_requested"


async def test_mint_twice_gives_distinct_tokens(http: httpx.AsyncClient) -> None:
    assert await mint(http) != await mint(http)


async def test_espeak_voice_in_a_call() -> None:
    import shutil

    import pytest

    from booth.devserver.voice import synthetic_speech
    from tests.devserver.conftest import fast_settings, quick_drill

    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng not installed")
    async with (
        DevServer(
            api_keys={API_KEY}, drills={"quick": quick_drill()}, settings=fast_settings()
        ) as server,
        httpx.AsyncClient(base_url=server.url) as http,
    ):
        assert server.voice.engine == "espeak-ng"
        data = await redeem(http)
        ws, _ = await open_call(server, data["connectionTicket"])
        async with ws:
            _, audio = await recv_until(ws, "agent_stop_talking")
        assert len(audio) > 8000
        assert audio != synthetic_speech("Hello there.")


async def test_old_recordings_are_dropped_but_records_stay() -> None:
    from tests.devserver.conftest import fast_settings, quick_drill
    from tests.devserver.helpers import scored_call

    async with (
        DevServer(
            api_keys={API_KEY},
            drills={"quick": quick_drill()},
            settings=fast_settings(keep_recordings=1),
            use_espeak=False,
        ) as server,
        httpx.AsyncClient(base_url=server.url) as http,
    ):
        first = await scored_call(http, server)
        assert server.calls[first].persona_audio
        second = await scored_call(http, server)
        assert not server.calls[first].persona_audio
        assert server.calls[second].persona_audio
        response = await http.get(f"/api/external/v1/calls/{first}", headers=bearer(API_KEY))
        assert response.json()["score"]["overallScore"] >= 0
