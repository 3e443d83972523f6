"""The seed-003 browser page, step by step, against the devserver, unmodified.

The page: fetch POST {API_URL}/api/v1/sdk/token with only an Authorization header (a CORS
preflight first, since Authorization is not a simple header), open ws_url, send
JSON.stringify({ token }) on open, start the mic on `connected` and send Int16 frames of 320
samples, play binary messages as Int16 PCM at 16 kHz, and on Stop just ws.close().
"""

from __future__ import annotations

import asyncio
import json
import math

import httpx
import numpy as np
from websockets.asyncio.client import connect

from booth.devserver import CallStatus, DevServer
from tests.devserver.conftest import API_KEY, redeem

ORIGIN = "http://localhost:3000"
SDK_PATH = "/api/v1/sdk/token"


def float32_to_int16(samples: np.ndarray) -> bytes:
    """float32ToInt16() of the page: clamp, scale by 0x8000 / 0x7fff, truncate (Int16Array)."""
    clamped = np.clip(samples.astype(np.float32), -1, 1)
    scaled = np.where(clamped < 0, clamped * 0x8000, clamped * 0x7FFF)
    return np.trunc(scaled).astype("<i2").tobytes()


async def test_browser_page_flow(server: DevServer) -> None:
    async with httpx.AsyncClient(base_url=server.url) as http:
        # The browser's preflight for a cross-origin POST with Authorization.
        preflight = await http.options(
            "/api/v1/sdk/token",
            headers={
                "Origin": ORIGIN,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization,content-type",
            },
        )
        assert preflight.status_code in (200, 204)
        assert preflight.headers["Access-Control-Allow-Origin"] in ("*", ORIGIN)
        allowed = {
            h.strip().lower() for h in preflight.headers["Access-Control-Allow-Headers"].split(",")
        }
        assert {"authorization", "content-type"} <= allowed
        assert "POST" in preflight.headers["Access-Control-Allow-Methods"]

        # fetch(..., { method: 'POST', headers: { Authorization: `Bearer ${API_KEY}` } })
        response = await http.post(
            "/api/v1/sdk/token", headers={"Authorization": f"Bearer {API_KEY}", "Origin": ORIGIN}
        )
        assert response.status_code == 200
        assert response.headers["Access-Control-Allow-Origin"] in ("*", ORIGIN)
        body = response.json()
        assert set(body) == {"token", "ws_url"}
        token, ws_url = body["token"], body["ws_url"]
        assert ws_url == server.seed003_ws_url

    persona_audio = bytearray()
    messages: list[dict[str, object]] = []
    connected = asyncio.Event()

    async def mic_block(amplitude: float) -> None:
        """startMic(): one 4096-sample ScriptProcessor block, cut into 320-sample frames."""
        t = np.arange(4096) / 16000
        block = amplitude * np.sin(2 * math.pi * 220 * t)
        for off in range(0, 4096 - 320 + 1, 320):
            frame = float32_to_int16(block[off : off + 320])
            assert len(frame) == 640
            await ws.send(frame)

    async def onmessage() -> None:
        async for message in ws:
            if isinstance(message, bytes):
                persona_audio.extend(message)  # playPCM()
                continue
            msg = json.loads(message)
            messages.append(msg)
            if msg["type"] == "connected":
                connected.set()

    def persona_lines_done(count: int) -> bool:
        calls = list(server.calls.values())
        lines = calls[0].persona_lines if calls else []
        return len(lines) >= count and all(line.end is not None for line in lines[:count])

    async with connect(ws_url, origin=ORIGIN) as ws:  # type: ignore[arg-type]
        await ws.send(json.dumps({"token": token}, separators=(",", ":")))  # JSON.stringify
        reader = asyncio.create_task(onmessage())
        await asyncio.wait_for(connected.wait(), 5)
        await mic_block(0.0)  # the rep listens: the open mic hears a quiet room
        # The seed has no turn markers: the test (not the page) asks the server when the
        # greeting is over, as a person would hear it.
        await server.wait_until(lambda: persona_lines_done(1), 5, "the greeting")
        await mic_block(0.3)  # the rep answers the greeting …
        await mic_block(0.0)  # … and falls silent
        await server.wait_until(lambda: persona_lines_done(2), 5, "the reply")
        # cleanup(): the page just closes the socket.
        await ws.close()
        await reader

    # Only what the seed defines: a bare connected, then agent_ready.
    assert messages == [{"type": "connected"}, {"type": "agent_ready"}]
    # playPCM(): Int16Array(buf) needs whole samples; the page plays it as it comes.
    assert len(persona_audio) % 2 == 0
    pcm = np.frombuffer(bytes(persona_audio), dtype="<i2")
    assert np.abs(pcm).max() > 1000  # audible speech, not silence
    assert len(pcm) > 8000  # greeting and reply: over half a second of persona audio

    call = next(iter(server.calls.values()))
    scored = await server.wait_call(call.call_id, CallStatus.SCORED)
    assert scored.frames_received == 3 * (4096 // 320)
    assert len(scored.rep_turns) == 1
    assert scored.end_reason == "session_closed"
    assert scored.drill.key == "quick"


async def test_sdk_token_is_single_use(server: DevServer) -> None:
    async with httpx.AsyncClient(base_url=server.url) as http:
        body = (
            await http.post("/api/v1/sdk/token", headers={"Authorization": f"Bearer {API_KEY}"})
        ).json()
    async with connect(body["ws_url"]) as ws:
        await ws.send(json.dumps({"token": body["token"]}))
        assert json.loads(await ws.recv())["type"] == "connected"
    async with connect(body["ws_url"]) as ws:
        await ws.send(json.dumps({"token": body["token"]}))
        error = json.loads(await ws.recv())
        assert error["code"] == "TOKEN_ALREADY_USED"


async def test_each_path_refuses_the_other_dialects_tokens(server: DevServer) -> None:
    async with httpx.AsyncClient(base_url=server.url) as http:
        sdk = (await http.post(SDK_PATH, headers={"Authorization": f"Bearer {API_KEY}"})).json()
        ticket = (await redeem(http))["connectionTicket"]
    for url, token in ((server.ws_url, sdk["token"]), (server.seed003_ws_url, ticket)):
        async with connect(url) as ws:
            await ws.send(json.dumps({"token": token}))
            error = json.loads(await ws.recv())
            assert error["type"] == "error" and error["code"] == "INVALID_TOKEN"


async def test_what_the_seed_does_not_define_is_refused(server: DevServer) -> None:
    async with httpx.AsyncClient(base_url=server.url) as http:
        body = (await http.post(SDK_PATH, headers={"Authorization": f"Bearer {API_KEY}"})).json()
    async with connect(body["ws_url"]) as ws:
        await ws.send(json.dumps({"token": body["token"]}))
        assert json.loads(await ws.recv()) == {"type": "connected"}
        for message in ('{"type":"end"}', '{"type":"turn_end"}', bytes(960)):
            await ws.send(message)
        errors = []
        while len(errors) < 3:
            message = await asyncio.wait_for(ws.recv(), 5)
            if isinstance(message, str) and json.loads(message)["type"] == "error":
                errors.append(json.loads(message)["code"])
        assert errors == ["INVALID_REQUEST"] * 3
    call = next(iter(server.calls.values()))
    # No resume in the seed: the call ends with its socket, at once.
    await server.wait_call(call.call_id, CallStatus.SCORING)
    assert call.end_reason == "session_closed" and call.bad_messages == 3
