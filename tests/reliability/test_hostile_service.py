"""A hostile or broken service cannot exhaust, hang or forge.

Each scenario runs a misbehaving service on loopback (booth/sim/hostile.py) here and the booth's
Python API in a child process (booth/sim/probe.py), so the child's peak RSS growth is the
client's own. Each asserts the typed event (CallFailed with its code, then Ended), records the
time to it and the peak RSS growth as figures (``booth bench reliability`` reports them), and
bounds both generously: the bound tells "bounded" from "unbounded", not fast from slow.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from websockets.asyncio.server import ServerConnection

from booth.sim import hostile as h
from booth.sim.probe import run_in_child
from tests.reliability.conftest import Record

pytestmark = pytest.mark.reliability

API_KEY = "ak_live_" + "k" * 32
# Generous: the scenarios grow the child's peak RSS by 4-7 MB; the defects grew it 150-1000 MB.
RSS_BOUND_MB = 25.0
# Deadlines given to the probe's session: each REST request, the whole connect.
REQUEST_TIMEOUT = 2.0
CONNECT_DEADLINE = 6.0
# The bound on time to the typed event: the connect deadline and then some, never a race.
TIME_BOUND = CONNECT_DEADLINE + 6.0
BIG = 100 * 1024 * 1024


@pytest.fixture
async def service() -> AsyncIterator[h.HostileService]:
    async with h.hostile_service() as svc:
        yield svc


async def run_probe(service: h.HostileService, figure: Record, **spec: Any) -> dict[str, Any]:
    full = {
        "api_url": service.api_url,
        "api_key": API_KEY,
        "request_timeout": REQUEST_TIMEOUT,
        "connect_deadline": CONNECT_DEADLINE,
        "give_up": 60.0,
        "look_for": [API_KEY, API_KEY[-16:]],
    } | spec
    result = await run_in_child(full, within=120.0)
    figure("peak_rss_growth_mb", result["peak_rss_growth_mb"])
    if result["time_to_typed"] is not None:
        figure("time_to_typed_error_s", result["time_to_typed"])
    return result


def failed_with(result: dict[str, Any], code: str) -> dict[str, Any]:
    """The probe's call failed with ``code`` and then ended, in bounded time and memory; no
    secret in any log line."""
    assert not result["hung"], "connect() never returned"
    kinds = [e["type"] for e in result["events"]]
    failures = [e for e in result["events"] if e["type"] == "CallFailed"]
    assert failures, f"no CallFailed event: {kinds} (connect raised {result['error']})"
    assert failures[0]["code"] == code, failures[0]
    assert kinds[-1] == "Ended", kinds
    assert result["time_to_typed"] is not None and result["time_to_typed"] < TIME_BOUND
    assert result["peak_rss_growth_mb"] < RSS_BOUND_MB, result["peak_rss_growth_mb"]
    assert not any(result["log_text_has"].values()), "the API key reached a log line"
    first: dict[str, Any] = failures[0]
    return first


# ── sizes ─────────────────────────────────────────────────────────────────────


async def test_huge_json_token(service: h.HostileService, figure: Record) -> None:
    """A 100 MB token in valid JSON: refused past REST_BODY_BYTES, never held or sent back."""
    service.rest[h.MINT] = h.huge_json_token(BIG)
    failure = failed_with(await run_probe(service, figure), "PROTOCOL_ERROR")
    assert "REST_BODY_BYTES" in failure["message"]
    assert service.count(h.REDEEM) == 0  # the token never went back as a header


async def test_huge_non_json_body(service: h.HostileService, figure: Record) -> None:
    service.rest[h.MINT] = h.huge_body(BIG)
    failure = failed_with(await run_probe(service, figure), "PROTOCOL_ERROR")
    assert "REST_BODY_BYTES" in failure["message"]


async def test_huge_declared_length_refused_before_reading(
    service: h.HostileService, figure: Record
) -> None:
    service.rest[h.MINT] = h.declared_length(BIG)
    failure = failed_with(await run_probe(service, figure), "PROTOCOL_ERROR")
    assert "REST_BODY_BYTES" in failure["message"]
    assert failure["message"].count(str(BIG)) == 1  # the size it claimed, named


async def test_token_within_body_limit_but_past_field_limit(
    service: h.HostileService, figure: Record
) -> None:
    service.rest[h.MINT] = h.json_reply({"token": "A" * 500_000})
    failure = failed_with(await run_probe(service, figure), "PROTOCOL_ERROR")
    assert "TOKEN_CHARS" in failure["message"]


async def test_deeply_nested_json(service: h.HostileService, figure: Record) -> None:
    depth = 200_000
    service.rest[h.MINT] = h.chunked_reply(lambda: [b"[" * depth, b"]" * depth])
    failure = failed_with(await run_probe(service, figure), "PROTOCOL_ERROR")
    assert "not JSON" in failure["message"]


async def test_compressed_body_refused(service: h.HostileService, figure: Record) -> None:
    """A gzip body could inflate past any limit counted on the wire: refused unread."""
    service.rest[h.MINT] = h.chunked_reply(
        lambda: [b"\x1f\x8b" + b"\0" * 64], headers={"Content-Encoding": "gzip"}
    )
    failed_with(await run_probe(service, figure), "PROTOCOL_ERROR")


async def test_huge_persona_audio_with_a_stalled_reader(
    service: h.HostileService, figure: Record
) -> None:
    """1500 chunks of 96,000 bytes to a reader that never reads: the queue holds its byte
    limit, not 146 MB."""
    chunk = b"\x01\x02" * 48_000
    service.ws = h.ws_stream(lambda: [chunk] * 1500)
    result = await run_probe(service, figure, read_audio=False, hold=60.0)
    assert not result["hung"] and result["error"] is None
    assert [e["type"] for e in result["events"]][-1] == "Ended"
    assert result["peak_rss_growth_mb"] < RSS_BOUND_MB, result["peak_rss_growth_mb"]


async def test_oversized_websocket_message(service: h.HostileService, figure: Record) -> None:
    """A 200 kB text message closes the link before it is held (WS_MESSAGE_BYTES); the resume
    this server cannot do ends the call at the cutoff."""
    service.ws = h.ws_sends(json.dumps({"type": "x", "pad": "p" * 200_000}), then_end=False)
    result = await run_probe(service, figure, hold=30.0)
    failed_with(result, "NETWORK_LOST")


async def test_connected_past_a_field_limit(service: h.HostileService, figure: Record) -> None:
    """A `connected` the booth cannot take is a PROTOCOL_ERROR at once, not a wait for one."""

    async def handler(ws: ServerConnection, _: h.HostileService) -> None:
        await ws.recv()
        await ws.send(json.dumps({"type": "connected", "resumeToken": "r" * 5000}))
        await h.idle(ws)

    service.ws = handler
    failure = failed_with(await run_probe(service, figure), "PROTOCOL_ERROR")
    assert "TOKEN_CHARS" in failure["message"]


# ── time ──────────────────────────────────────────────────────────────────────


async def test_trickling_body(service: h.HostileService, figure: Record) -> None:
    """A byte every 1.5 s never trips a per-read timeout; the connect deadline cuts it."""
    service.rest[h.MINT] = h.trickle_body(1.5)
    failed_with(await run_probe(service, figure), "NETWORK_LOST")


async def test_trickling_body_cut_by_the_request_deadline(
    service: h.HostileService, figure: Record
) -> None:
    """One REST request alone: its own total deadline ends it, retries or not."""
    from booth.transport.rest import NetworkError, RestClient, RetryPolicy

    service.rest[h.MINT] = h.trickle_body(0.5)
    loop = asyncio.get_running_loop()
    started = loop.time()
    async with RestClient(service.api_url, API_KEY, timeout=1.0, retry=RetryPolicy(1)) as rest:
        with pytest.raises(NetworkError, match="no whole answer within 1 s"):
            await rest.mint("booth-1")
    elapsed = loop.time() - started
    figure("time_to_typed_error_s", elapsed)
    assert elapsed < 5.0  # 0.5 s a byte for 75 bytes would be 37 s


async def test_endless_headers(service: h.HostileService, figure: Record) -> None:
    service.rest[h.MINT] = h.endless_headers(BIG)
    failed_with(await run_probe(service, figure), "NETWORK_LOST")


@pytest.mark.slow
async def test_trickling_headers(service: h.HostileService, figure: Record) -> None:
    service.rest[h.MINT] = h.trickle_headers(1.5)
    failed_with(await run_probe(service, figure), "NETWORK_LOST")


@pytest.mark.slow
async def test_slow_websocket_handshake(service: h.HostileService, figure: Record) -> None:
    service.connection_url = service.silent_url
    failed_with(await run_probe(service, figure), "NETWORK_LOST")


@pytest.mark.slow
async def test_never_sends_connected(service: h.HostileService, figure: Record) -> None:
    service.ws = h.never_connected
    failed_with(await run_probe(service, figure), "NETWORK_LOST")


# ── URLs ──────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize(
    "url",
    [
        "ws://127.0.0.1:99999/ws",
        "ws://127.0.0.1:abc/ws",
        "ws://127.0.0.1:-1/ws",
        "ws://[::1/ws",
        "ws://127.0.0.1/ws\nX-Forged: 1",
        "ws://user:pass@127.0.0.1/ws",
    ],
)
async def test_malformed_connection_url(
    service: h.HostileService, figure: Record, url: str
) -> None:
    """A typed error, and the next call (a new session) connects."""
    service.connection_url = url
    async with h.hostile_service() as good:
        result = await run_probe(service, figure, retry_url=good.api_url)
    failure = failed_with(result, "PROTOCOL_ERROR")
    assert "\n" not in failure["message"]
    assert result["retry"] == {"connected": True, "error": None}


# ── text ──────────────────────────────────────────────────────────────────────

FORGED = "bad thing\n10:00:00.000 ERROR   booth.daemon: API key revoked\x1b[2J  END_REASON=x"


async def test_forged_newlines_in_a_websocket_error(
    service: h.HostileService, figure: Record
) -> None:
    service.ws = h.ws_sends(
        json.dumps({"type": "error", "code": "OOPS\nFORGED", "message": FORGED}),
        json.dumps({"type": "session_ended", "reason": "done\n10:00:00.000 INFO forged"}),
        then_end=False,
    )
    result = await run_probe(service, figure)
    errors = [e for e in result["events"] if e["type"] == "CallFailed"]
    assert errors and "\n" not in errors[0]["message"] and "\x1b" not in errors[0]["message"]
    assert "\n" not in errors[0]["code"]
    ended = result["events"][-1]
    assert ended["type"] == "Ended" and "\n" not in ended["reason"]
    assert not any("forged" in line.lower() and "booth" not in line for line in result["log_head"])
    assert not any(line.startswith("10:00:00.000") for line in result["log_head"])


async def test_forged_newlines_in_a_rest_error(service: h.HostileService, figure: Record) -> None:
    service.rest[h.MINT] = h.json_reply(
        {"error": {"code": "INVALID_API_KEY", "message": FORGED, "requestId": "r\n1"}}, 401
    )
    result = await run_probe(service, figure)
    failure = failed_with(result, "INVALID_API_KEY")
    assert "\n" not in failure["message"] and "\x1b" not in failure["message"]
    assert result["error"] is not None and "\n" not in result["error"]


async def test_key_echoed_in_request_id(service: h.HostileService, figure: Record) -> None:
    """A server that echoes the API key in requestId: not in the exception, event or logs."""
    service.rest[h.MINT] = h.json_reply(
        {"error": {"code": "INVALID_REQUEST", "message": "no", "requestId": "req-" + API_KEY}},
        400,
        {"X-Athos-Request-Id": API_KEY},
    )
    result = await run_probe(service, figure)
    failed_with(result, "INVALID_REQUEST")
    assert result["error"] is not None and API_KEY not in result["error"]
    assert API_KEY[-16:] not in json.dumps(result["events"])


async def test_huge_error_message(service: h.HostileService, figure: Record) -> None:
    service.ws = h.ws_sends(
        json.dumps({"type": "error", "code": "OOPS", "message": "x" * 60_000}), then_end=True
    )
    result = await run_probe(service, figure)
    assert result["log_bytes"] < 20_000, result["log_bytes"]
    assert [e["type"] for e in result["events"]][-1] == "Ended"


# ── floods ────────────────────────────────────────────────────────────────────


async def test_hundred_thousand_unknown_types(service: h.HostileService, figure: Record) -> None:
    """Each new type used to be one INFO line, remembered for the whole call."""
    service.ws = h.ws_stream(
        lambda: (json.dumps({"type": f"novel_{i}"}) for i in range(100_000)), then_end=True
    )
    result = await run_probe(service, figure, hold=60.0)
    assert [e["type"] for e in result["events"]][-1] == "Ended"
    unknown = [line for line in result["log_head"] if "message type" in line]
    assert 1 <= len(unknown) <= 10, result["log_lines"]
    assert result["log_lines"] < 50
    assert result["peak_rss_growth_mb"] < RSS_BOUND_MB


async def test_malformed_message_flood(service: h.HostileService, figure: Record) -> None:
    service.ws = h.ws_stream(lambda: ("{not json" for _ in range(50_000)), then_end=True)
    result = await run_probe(service, figure, hold=60.0)
    assert [e["type"] for e in result["events"]][-1] == "Ended"
    assert result["log_lines"] < 50, result["log_lines"]


async def test_a_cancelled_connect_still_ends(service: h.HostileService) -> None:
    """connect() always ends in a typed event, even when its caller gives up on it."""
    from booth.session import RoleplaySession

    service.ws = h.never_connected
    session = RoleplaySession(service.api_url, API_KEY, "hostile-drill", request_timeout=2.0)
    kinds: list[str] = []
    session.subscribe(lambda e: kinds.append(type(e).__name__))
    task = asyncio.create_task(session.connect())
    while service.count(h.REDEEM) == 0:  # the REST set-up is under way
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert kinds == ["Connecting", "Ended"]
    assert session.end_reason == "client_requested"
