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
from tests.devserver.conftest import API_KEY

ORIGIN = "http://localhost:3000"


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
        assert ws_url == server.ws_url

    persona_audio = bytearray()
    messages: list[dict[str, object]] = []

    async def mic_block(amplitude: float) -> None:
        """startMic(): one 4096-sample ScriptProcessor block, cut into 320-sample frames."""
        t = np.arange(4096) / 16000
        block = amplitude * np.sin(2 * math.pi * 220 * t)
        for off in range(0, 4096 - 320 + 1, 320):
            frame = float32_to_int16(block[off : off + 320])
            assert len(frame) == 640
            await ws.send(frame)

    async with connect(ws_url, origin=ORIGIN) as ws:  # type: ignore[arg-type]
        await ws.send(json.dumps({"token": token}, separators=(",", ":")))  # JSON.stringify
        spoke = False
        while True:
            message = await asyncio.wait_for(ws.recv(), 5)
            if isinstance(message, bytes):
                persona_audio.extend(message)
                continue
            msg = json.loads(message)
            messages.append(msg)
            if msg["type"] == "connected":
                await mic_block(0.0)  # the rep listens: the open mic hears a quiet room
            elif msg["type"] == "agent_stop_talking":
                if spoke:
                    break  # the persona answered the rep
                await mic_block(0.3)  # the rep answers the greeting …
                await mic_block(0.0)  # … and falls silent
                spoke = True
        # cleanup(): the page just closes the socket.
        await ws.close()

    assert messages[0]["type"] == "connected"
    assert {"type": "agent_ready"} in messages
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
