"""Fixtures for the devserver conformance suite: a server on a free loopback port, fast settings."""

from __future__ import annotations

import json
import math
import struct
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect

from booth.devserver import DevServer, Settings
from booth.devserver.drills import Drill, parse_drill
from booth.protocol.messages import FRAME_BYTES

API_KEY = "ath_live_devserver_test_key_0001"
FRAME = FRAME_BYTES


def quick_drill() -> Drill:
    return parse_drill(
        {
            "drillKey": "quick",
            "title": "Short lines so tests are fast",
            "persona": {"name": "Tess Tester", "opening": "Hello there.", "closing": "Bye."},
            "difficulty": {
                "Beginner": {"objection_every": 2, "lines": ["Go on."], "objections": ["No."]},
                "Elite": {"objection_every": 1, "objections": ["Never."]},
            },
        },
        "test",
    )


def fast_settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "resume_window": 1.0,
        "scoring_delay": 0.05,
        "auth_timeout": 2.0,
        "reply_delay": 0.0,
        "silence_s": 0.3,
        "webhook_retry_delay": 0.1,
        "default_drill": "quick",
    }
    values.update(overrides)
    return Settings(**values)


def speech_frame(amplitude: int = 8000, freq: float = 300.0) -> bytes:
    return b"".join(
        struct.pack("<h", int(amplitude * math.sin(2 * math.pi * freq * n / 16000)))
        for n in range(FRAME // 2)
    )


SILENCE = bytes(FRAME)


@pytest.fixture
async def server() -> AsyncIterator[DevServer]:
    async with DevServer(
        api_keys={API_KEY},
        drills={"quick": quick_drill()},
        settings=fast_settings(),
        use_espeak=False,
    ) as srv:
        yield srv


@pytest.fixture
async def http(server: DevServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
        yield client


def bearer(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}


async def mint(http: httpx.AsyncClient, key: str = API_KEY) -> str:
    response = await http.post(
        "/api/external/v1/session", json={"externalUserId": "booth-01"}, headers=bearer(key)
    )
    assert response.status_code == 200, response.text
    return str(response.json()["token"])


async def redeem(http: httpx.AsyncClient, drill: str = "quick", **body: Any) -> dict[str, Any]:
    token = await mint(http)
    response = await http.post(
        "/api/external/v1/roleplay/session",
        json={"drillKey": drill, **body},
        headers=bearer(token),
    )
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


async def recv_json(ws: ClientConnection, timeout: float = 5.0) -> dict[str, Any]:
    """The next text message, skipping binary audio."""
    while True:
        message = await _recv(ws, timeout)
        if isinstance(message, str):
            data: dict[str, Any] = json.loads(message)
            return data


async def _recv(ws: ClientConnection, timeout: float) -> str | bytes:
    import asyncio

    return await asyncio.wait_for(ws.recv(), timeout)


async def recv_until(
    ws: ClientConnection, kind: str, timeout: float = 10.0
) -> tuple[list[dict[str, Any]], bytes]:
    """Messages up to and including the first of ``kind``, and the audio received meanwhile."""
    texts: list[dict[str, Any]] = []
    audio = bytearray()
    while True:
        message = await _recv(ws, timeout)
        if isinstance(message, bytes):
            audio.extend(message)
            continue
        data = json.loads(message)
        texts.append(data)
        if data.get("type") == kind:
            return texts, bytes(audio)


async def open_call(
    server: DevServer, ticket: str, **kwargs: Any
) -> tuple[ClientConnection, dict[str, Any]]:
    ws = await connect(server.ws_url, **kwargs)
    await ws.send(json.dumps({"token": ticket}))
    connected = await recv_json(ws)
    return ws, connected
