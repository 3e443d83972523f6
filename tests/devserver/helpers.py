"""Shared steps for the devserver tests."""

from __future__ import annotations

import json
from typing import Any

import httpx

from booth.devserver import CallStatus, DevServer
from tests.devserver.conftest import open_call, recv_until, redeem


async def scored_call(http: httpx.AsyncClient, server: DevServer) -> str:
    """Run a minimal call (connect, hear the greeting, end) and wait until it is scored."""
    data = await redeem(http)
    ws, _ = await open_call(server, data["connectionTicket"])
    async with ws:
        await recv_until(ws, "agent_stop_talking")
        await ws.send(json.dumps({"type": "end"}))
        await recv_until(ws, "session_ended")
    await server.wait_call(data["callId"], CallStatus.SCORED)
    return str(data["callId"])


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert set(body) == {"error"}
    error = body["error"]
    assert set(error) == {"code", "message", "requestId"}
    assert error["code"] == code
    assert error["message"]
    assert error["requestId"] == response.headers["X-Athos-Request-Id"]
    return error
