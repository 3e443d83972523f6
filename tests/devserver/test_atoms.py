"""The devserver's Atoms mode, as a client written from the Atoms spec would see it."""

from __future__ import annotations

import asyncio
import base64
import json
import math
import time
from typing import Any

import httpx
import numpy as np
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from booth.devserver import CallStatus, DevServer
from tests.devserver.conftest import API_KEY, bearer

REGISTER = "/atoms/v1/conversation/register-call"


def frame24(amplitude: float) -> str:
    """20 ms of a 300 Hz tone at 24 kHz, as input_audio_buffer.append."""
    t = np.arange(480) / 24000
    pcm = (amplitude * 32767 * np.sin(2 * math.pi * 300 * t)).astype("<i2").tobytes()
    return json.dumps(
        {"type": "input_audio_buffer.append", "audio": base64.b64encode(pcm).decode()}
    )


async def register(http: httpx.AsyncClient, **body: Any) -> str:
    response = await http.post(
        REGISTER, json={"agent_id": "quick", **body}, headers=bearer(API_KEY)
    )
    assert response.status_code == 201, response.text
    payload = response.json()
    assert payload["status"] is True
    data = payload["data"]
    assert data["expires_in"] == 30 and data["sample_rate"] == 24000
    assert data["access_token"].startswith("wct_")
    return str(data["access_token"])


def ws_url(server: DevServer, token: str) -> str:
    return server.url.replace("http://", "ws://") + f"/atoms/v1/agent/connect?token={token}"


async def events_until(ws: ClientConnection, kind: str, timeout: float = 10.0) -> list[dict]:
    seen: list[dict] = []
    while True:
        data = json.loads(await asyncio.wait_for(ws.recv(), timeout))
        seen.append(data)
        if data["type"] == kind:
            return seen


def audio_seconds(events: list[dict]) -> float:
    pcm = sum(
        len(base64.b64decode(e["audio"])) for e in events if e["type"] == "output_audio.delta"
    )
    return pcm / 2 / 24000


@pytest.mark.parametrize(
    ("body", "headers", "status"),
    [
        ({"agent_id": "quick"}, {}, 401),
        ({}, bearer(API_KEY), 400),
        ({"agent_id": "no-such-agent"}, bearer(API_KEY), 404),
        ({"agent_id": "quick", "mode": "video"}, bearer(API_KEY), 400),
        ({"agent_id": "quick", "variables": {"difficulty": "Godlike"}}, bearer(API_KEY), 400),
    ],
)
async def test_register_call_errors_use_the_atoms_envelope(
    http: httpx.AsyncClient, body: dict[str, Any], headers: dict[str, str], status: int
) -> None:
    response = await http.post(REGISTER, json=body, headers=headers)
    assert response.status_code == status
    payload = response.json()
    assert payload["status"] is False
    assert payload["errors"] and all(isinstance(e, str) for e in payload["errors"])


async def test_a_whole_call(server: DevServer, http: httpx.AsyncClient) -> None:
    token = await register(http, variables={"difficulty": "Elite"})
    async with connect(ws_url(server, token)) as ws:
        started = time.monotonic()
        greeting = await events_until(ws, "agent_stop_talking")
        elapsed = time.monotonic() - started
        created = greeting[0]
        assert created["type"] == "session.created"
        assert created["sample_rate"] == 24000 and created["channels"] == 1
        assert created["call_id"].startswith("CALL-")
        kinds = [e["type"] for e in greeting]
        assert kinds[1:3] == ["agent_start_talking", "transcript.delta"]
        assert "output_audio.delta" in kinds
        assert "timestamp" in greeting[1]
        # Faster than real time: more audio arrived than time passed.
        assert audio_seconds(greeting) > elapsed
        final = await events_until(ws, "transcript")
        assert final[-1] == {"type": "transcript", "role": "assistant", "text": "Hello there."}

        for _ in range(20):
            await ws.send(frame24(0.3))
        for _ in range(25):  # the button is up: silence lets the service hear the turn end
            await ws.send(frame24(0.0))
        reply = await events_until(ws, "agent_stop_talking")
        assert {"type": "transcript", "role": "user", "text": "(rep turn 1)"} in reply
        await ws.send(json.dumps({"type": "session.close"}))
        closed = await events_until(ws, "session.closed")
        assert closed[-1] == {"type": "session.closed", "reason": "client_requested"}
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(ws.recv(), 5)

    call = await server.wait_call(created["call_id"], CallStatus.SCORED)
    assert call.dialect == "atoms" and call.difficulty == "Elite"
    assert call.frames_received == 45  # recorded at the call's 16 kHz
    assert len(call.rep_audio) == 45 * 640
    assert call.score is not None  # scored inside, never exposed by the Atoms API
    log = await http.get(f"/atoms/v1/conversation/{created['call_id']}", headers=bearer(API_KEY))
    assert log.status_code == 200
    data = log.json()["data"]
    assert data["status"] == "completed" and data["type"] == "webcall"
    assert [t["role"] for t in data["transcript"]] == ["agent", "user", "agent"]
    assert "score" not in json.dumps(data).lower()
    # The token was single use: a second connection is refused at the upgrade.
    with pytest.raises(InvalidStatus) as refused:
        await connect(ws_url(server, token))
    assert refused.value.response.status_code == 401


async def test_unknown_conversation(http: httpx.AsyncClient) -> None:
    response = await http.get("/atoms/v1/conversation/CALL-1-abc", headers=bearer(API_KEY))
    assert response.status_code == 404
    assert response.json()["status"] is False


async def test_bad_tokens_get_401_on_the_upgrade(server: DevServer) -> None:
    for token in ("", "sk_not_a_token", "wct_forged"):
        with pytest.raises(InvalidStatus) as refused:
            await connect(ws_url(server, token))
        assert refused.value.response.status_code == 401


async def test_messages_before_session_created_are_refused(
    server: DevServer, http: httpx.AsyncClient
) -> None:
    async with connect(ws_url(server, await register(http))) as ws:
        await ws.send(frame24(0.0))
        first = json.loads(await ws.recv())
        assert first["type"] == "error" and first["code"] == "no_session"
        assert json.loads(await ws.recv())["type"] == "session.created"


async def test_what_atoms_does_not_define_is_an_invalid_event(
    server: DevServer, http: httpx.AsyncClient
) -> None:
    async with connect(ws_url(server, await register(http))) as ws:
        await events_until(ws, "session.created")
        await ws.send(json.dumps({"type": "input_audio_buffer.commit"}))  # reserved: no answer
        await ws.send(json.dumps({"type": "session.update"}))
        bad = [
            json.dumps({"type": "input_audio_buffer.append"}),
            json.dumps({"type": "input_audio_buffer.append", "audio": "%%%"}),
            json.dumps({"type": "turn_end"}),
            "not json",
            b"\x00\x00",
        ]
        for message in bad:
            await ws.send(message)
        errors = [e for e in await events_until(ws, "agent_stop_talking") if e["type"] == "error"]
        while len(errors) < len(bad):
            event = json.loads(await asyncio.wait_for(ws.recv(), 5))
            if event["type"] == "error":
                errors.append(event)
        assert {e["code"] for e in errors} == {"invalid_event"}
    call = next(iter(server.calls.values()))
    assert call.bad_messages == len(bad)


async def test_a_fatal_error_closes_with_4000(server: DevServer, http: httpx.AsyncClient) -> None:
    server.faults.socket.error_after = 0.1
    async with connect(ws_url(server, await register(http))) as ws:
        events = await events_until(ws, "error")
        assert events[-1]["code"] == "internal_error"
        assert "session.closed" not in [e["type"] for e in events]
        with pytest.raises(ConnectionClosed) as closed:
            await drain(ws)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4000


async def drain(ws: ClientConnection) -> None:
    while True:
        await asyncio.wait_for(ws.recv(), 5)


async def test_a_hang_up_without_session_close(server: DevServer, http: httpx.AsyncClient) -> None:
    async with connect(ws_url(server, await register(http))) as ws:
        created = (await events_until(ws, "session.created"))[-1]
    call = await server.wait_call(created["call_id"], CallStatus.SCORING)
    assert call.end_reason == "websocket_closed"


async def test_full_house_is_a_503_error_then_4000(
    server: DevServer, http: httpx.AsyncClient
) -> None:
    server.max_live_calls = 0
    async with connect(ws_url(server, await register(http))) as ws:
        assert json.loads(await ws.recv())["code"] == "503"
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 5)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4000
