"""WebSocket auth, resume, and the session behaviours over real loopback sockets."""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from booth.devserver import CallStatus, DevServer
from tests.devserver.conftest import (
    API_KEY,
    bearer,
    fast_settings,
    open_call,
    quick_drill,
    recv_json,
    recv_until,
    redeem,
    speech_frame,
)


async def _refused(server: DevServer, first: str) -> tuple[dict[str, object], int | None]:
    async with connect(server.ws_url) as ws:
        await ws.send(first)
        error = await recv_json(ws)
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(ws.recv(), 5)
        return error, ws.close_code


# ── first-message auth ────────────────────────────────────────────────────────


async def test_ticket_is_single_use(http: httpx.AsyncClient, server: DevServer) -> None:
    data = await redeem(http)
    ws, connected = await open_call(server, data["connectionTicket"])
    assert connected["type"] == "connected"
    error, code = await _refused(server, json.dumps({"token": data["connectionTicket"]}))
    assert error["type"] == "error"
    assert error["code"] == "TOKEN_ALREADY_USED"
    assert code == 1008
    await ws.close()


async def test_expired_ticket(http: httpx.AsyncClient, server: DevServer) -> None:
    data = await redeem(http)
    server.tokens.clock = lambda: time.time() + 61
    error, _ = await _refused(server, json.dumps({"token": data["connectionTicket"]}))
    assert error["code"] == "TOKEN_EXPIRED"


@pytest.mark.parametrize(
    ("first", "code"),
    [
        (json.dumps({"token": "nonsense"}), "INVALID_TOKEN"),
        (json.dumps({"type": "turn_end"}), "INVALID_REQUEST"),
        ("not json", "INVALID_REQUEST"),
        (json.dumps({"type": "resume", "resumeToken": "unknown-token-123"}), "RESUME_REJECTED"),
    ],
)
async def test_bad_first_message(server: DevServer, first: str, code: str) -> None:
    error, close_code = await _refused(server, first)
    assert error["code"] == code
    assert close_code == 1008


async def test_session_token_is_not_a_ticket(http: httpx.AsyncClient, server: DevServer) -> None:
    response = await http.post(
        "/api/external/v1/session", json={"externalUserId": "b"}, headers=bearer(API_KEY)
    )
    error, _ = await _refused(server, json.dumps({"token": response.json()["token"]}))
    assert error["code"] == "INVALID_TOKEN"


async def test_auth_time_limit() -> None:
    async with (
        DevServer(
            api_keys={API_KEY},
            drills={"quick": quick_drill()},
            settings=fast_settings(auth_timeout=0.2),
            use_espeak=False,
        ) as server,
        connect(server.ws_url) as ws,
    ):
        error = await recv_json(ws)
        assert error["code"] == "AUTH_TIMEOUT"
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(ws.recv(), 5)
        assert ws.close_code == 1008


# ── in-call behaviour ─────────────────────────────────────────────────────────


async def test_barge_in_interrupts_the_persona(http: httpx.AsyncClient, server: DevServer) -> None:
    data = await redeem(http)
    ws, _ = await open_call(server, data["connectionTicket"])
    async with ws:
        await recv_until(ws, "agent_start_talking")
        await ws.recv()  # the first persona audio frame: it is talking now
        for _ in range(3):
            await ws.send(speech_frame())
        texts, _ = await recv_until(ws, "agent_stop_talking")
        assert [t["type"] for t in texts] == ["interruption", "agent_stop_talking"]
    call = server.calls[data["callId"]]
    assert call.interruptions == 1
    assert call.persona_lines[0].interrupted


async def test_bad_frame_gets_an_error_and_the_call_goes_on(
    http: httpx.AsyncClient, server: DevServer
) -> None:
    data = await redeem(http)
    ws, _ = await open_call(server, data["connectionTicket"])
    async with ws:
        await ws.send(b"\x00" * 100)
        texts, _ = await recv_until(ws, "error")
        assert texts[-1]["code"] == "PROTOCOL_ERROR"
        assert "640" in texts[-1]["message"]
        await ws.send(json.dumps({"type": "x_unknown_client_message"}))
        await ws.send(speech_frame())
        await server.wait_frames(data["callId"], 1)
        await ws.send(json.dumps({"type": "end"}))
        assert (await recv_until(ws, "session_ended"))[0][-1]["reason"] == "client_requested"
    assert server.calls[data["callId"]].bad_messages == 1


async def test_clean_close_ends_the_call(http: httpx.AsyncClient, server: DevServer) -> None:
    data = await redeem(http)
    ws, _ = await open_call(server, data["connectionTicket"])
    await ws.close()  # what the seed-003 page's cleanup() does: no end message
    call = await server.wait_call(data["callId"], CallStatus.SCORED)
    assert call.end_reason == "session_closed"


async def test_max_duration() -> None:
    async with (
        DevServer(
            api_keys={API_KEY},
            drills={"quick": quick_drill()},
            settings=fast_settings(max_call_duration=0.3),
            use_espeak=False,
        ) as server,
        httpx.AsyncClient(base_url=server.url) as http,
    ):
        data = await redeem(http)
        ws, _ = await open_call(server, data["connectionTicket"])
        async with ws:
            texts, _ = await recv_until(ws, "session_ended")
            assert texts[-1]["reason"] == "max_duration"
        assert (await server.wait_call(data["callId"])).end_reason == "max_duration"


async def test_server_shutdown_ends_live_calls() -> None:
    async with (
        DevServer(
            api_keys={API_KEY},
            drills={"quick": quick_drill()},
            settings=fast_settings(),
            use_espeak=False,
        ) as server,
        httpx.AsyncClient(base_url=server.url) as http,
    ):
        data = await redeem(http)
        ws, _ = await open_call(server, data["connectionTicket"])
        await server.close()
        texts, _ = await recv_until(ws, "session_ended")
        assert texts[-1]["reason"] == "server_shutdown"
        await ws.close()


# ── resume ────────────────────────────────────────────────────────────────────


async def test_resume_inside_the_window(http: httpx.AsyncClient, server: DevServer) -> None:
    data = await redeem(http)
    call_id = data["callId"]
    ws, connected = await open_call(server, data["connectionTicket"])
    await recv_until(ws, "agent_start_talking")
    ws.transport.abort()  # the Wi-Fi goes: no close frame
    await server.wait_call(call_id, CallStatus.SUSPENDED)
    assert server.calls[call_id].status is CallStatus.SUSPENDED

    async with connect(server.ws_url) as ws2:
        await ws2.send(json.dumps({"type": "resume", "resumeToken": connected["resumeToken"]}))
        resumed = await recv_json(ws2)
        assert resumed["type"] == "resumed"
        assert resumed["resumeToken"] != connected["resumeToken"]  # rotated
        # The persona finishes its line on the new socket.
        await recv_until(ws2, "agent_stop_talking")
        await ws2.send(json.dumps({"type": "end"}))
        await recv_until(ws2, "session_ended")
    call = await server.wait_call(call_id)
    assert call.call_id == call_id
    assert call.sockets == 2 and call.resumes == 1
    assert call.end_reason == "client_requested"

    # The old resume token died with the rotation (and the call is over anyway).
    error, _ = await _refused(
        server, json.dumps({"type": "resume", "resumeToken": connected["resumeToken"]})
    )
    assert error["code"] == "RESUME_REJECTED"


async def test_resume_outside_the_window(http: httpx.AsyncClient, server: DevServer) -> None:
    data = await redeem(http)
    ws, connected = await open_call(server, data["connectionTicket"])
    ws.transport.abort()
    # resume_window is 1 s in these tests: the call ends when it passes.
    call = await server.wait_call(data["callId"], CallStatus.SCORED)
    assert call.end_reason == "network_lost"
    error, _ = await _refused(
        server, json.dumps({"type": "resume", "resumeToken": connected["resumeToken"]})
    )
    assert error["code"] == "RESUME_REJECTED"


async def test_resume_window_is_thirty_seconds_by_default() -> None:
    from booth.devserver import Settings

    assert Settings().resume_window == 30.0
    assert Settings().auth_timeout == 10.0
    assert Settings().token_lifetime == 300.0


async def test_abnormal_close_code_keeps_the_call_for_resume(
    http: httpx.AsyncClient, server: DevServer
) -> None:
    data = await redeem(http)
    ws, connected = await open_call(server, data["connectionTicket"])
    await ws.close(code=1011, reason="keepalive ping timeout")  # what a client's watchdog sends
    call = await server.wait_call(data["callId"], CallStatus.SUSPENDED)
    assert call.status is CallStatus.SUSPENDED
    async with connect(server.ws_url) as ws2:
        await ws2.send(json.dumps({"type": "resume", "resumeToken": connected["resumeToken"]}))
        assert (await recv_json(ws2))["type"] == "resumed"
