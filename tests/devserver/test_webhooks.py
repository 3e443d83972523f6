"""call.scored webhooks: signed per docs/protocol.md §2.6, retried once, checked by verify()."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx
import pytest
from aiohttp import web

from booth.devserver import DevServer
from booth.webhooks import (
    REASON_BAD_SIGNATURE,
    REASON_FUTURE,
    REASON_MALFORMED,
    REASON_MISSING_HEADER,
    REASON_STALE,
    Deduper,
    WebhookError,
    sign,
    verify,
)
from tests.devserver.conftest import API_KEY, fast_settings, quick_drill
from tests.devserver.helpers import scored_call

SECRET = "whsec_test_0123456789abcdef"


@dataclass
class Receiver:
    statuses: list[int]
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    url: str = ""

    async def handle(self, request: web.Request) -> web.Response:
        self.received.append((dict(request.headers), await request.read()))
        status = self.statuses.pop(0) if self.statuses else 200
        return web.Response(status=status)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    target = Receiver(statuses=[500])  # the first delivery fails: the retry must come
    app = web.Application()
    app.router.add_post("/hooks", target.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    target.url = f"http://127.0.0.1:{port}/hooks"
    yield target
    await runner.cleanup()


async def test_call_scored_webhook_signed_and_retried(receiver: Receiver) -> None:
    async with (
        DevServer(
            api_keys={API_KEY},
            drills={"quick": quick_drill()},
            settings=fast_settings(),
            use_espeak=False,
            webhook_url=receiver.url,
            webhook_secret=SECRET,
        ) as server,
        httpx.AsyncClient(base_url=server.url) as http,
    ):
        call_id = await scored_call(http, server)
        assert server.webhooks is not None
        await server.wait_until(
            lambda: any(d.delivered for d in server.webhooks.deliveries),  # type: ignore[union-attr]
            what="webhook delivered",
        )
        delivery = server.webhooks.deliveries[0]
        assert delivery.attempts == ["500", "200"]

    assert len(receiver.received) == 2
    dedupe = Deduper()
    for headers, body in receiver.received:
        # The library verifier …
        webhook_id = verify(SECRET, headers, body)
        assert webhook_id.startswith("wh_")
        # … and an independent HMAC computation from the header, per docs/protocol.md §2.6.
        parts = dict(p.split("=", 1) for p in headers["X-Athos-Signature"].split(","))
        expected = hmac.new(
            SECRET.encode(), f"{parts['t']}.".encode() + body, hashlib.sha256
        ).hexdigest()
        assert hmac.compare_digest(parts["v1"], expected)
        assert abs(int(parts["t"]) - time.time()) < 300
        payload = json.loads(body)
        assert payload["event"] == "call.scored"
        assert payload["success"] is True
        assert payload["callId"] == call_id
        assert payload["source"] == "roleplay"
        assert payload["occurredAt"].endswith("Z")
        assert payload["requestId"].startswith("req_")
        assert set(payload) == {"event", "success", "callId", "source", "occurredAt", "requestId"}
    ids = [headers["X-Athos-Webhook-Id"] for headers, _ in receiver.received]
    assert ids[0] == ids[1]  # a retry carries the same id …
    assert dedupe.first_time(ids[0]) is True
    assert dedupe.first_time(ids[1]) is False  # … so the receiver handles it once


def _signed(body: bytes = b'{"event":"call.scored"}', t: int | None = None) -> dict[str, str]:
    return sign(SECRET, body, "wh_abc", timestamp=t)


def test_verify_accepts_a_good_signature() -> None:
    assert verify(SECRET, _signed(), b'{"event":"call.scored"}') == "wh_abc"


def test_verify_header_names_are_case_insensitive() -> None:
    headers = {k.lower(): v for k, v in _signed().items()}
    assert verify(SECRET, headers, b'{"event":"call.scored"}') == "wh_abc"


@pytest.mark.parametrize(
    ("headers", "body", "secret", "reason"),
    [
        (_signed(), b'{"event":"call.scored","x":1}', SECRET, REASON_BAD_SIGNATURE),
        (_signed(), b'{"event":"call.scored"}', "another-secret", REASON_BAD_SIGNATURE),
        ({"X-Athos-Webhook-Id": "wh_abc"}, b"{}", SECRET, REASON_MISSING_HEADER),
        ({"X-Athos-Signature": "t=1,v1=00"}, b"{}", SECRET, REASON_MISSING_HEADER),
        (
            {"X-Athos-Webhook-Id": "wh_abc", "X-Athos-Signature": "v1=00"},
            b"{}",
            SECRET,
            REASON_MALFORMED,
        ),
        (
            {"X-Athos-Webhook-Id": "wh_abc", "X-Athos-Signature": "t=abc,v1=00"},
            b"{}",
            SECRET,
            REASON_MALFORMED,
        ),
    ],
)
def test_verify_rejects(headers: dict[str, str], body: bytes, secret: str, reason: str) -> None:
    with pytest.raises(WebhookError) as info:
        verify(secret, headers, body)
    assert info.value.reason == reason


def test_verify_rejects_stale_and_future_timestamps() -> None:
    now = 1_800_000_000
    body = b'{"event":"call.scored"}'
    assert verify(SECRET, _signed(body, now - 299), body, now=now) == "wh_abc"
    with pytest.raises(WebhookError) as stale:
        verify(SECRET, _signed(body, now - 301), body, now=now)
    assert stale.value.reason == REASON_STALE
    with pytest.raises(WebhookError) as future:
        verify(SECRET, _signed(body, now + 301), body, now=now)
    assert future.value.reason == REASON_FUTURE
    assert verify(SECRET, _signed(body, now - 500), body, now=now, tolerance=600) == "wh_abc"


def test_signature_matches_an_independent_hmac() -> None:
    body = b'{"a":1}'
    header = sign(SECRET, body, "wh_1", timestamp=1700000000)["X-Athos-Signature"]
    digest = hmac.new(SECRET.encode(), b"1700000000." + body, hashlib.sha256).hexdigest()
    assert header == f"t=1700000000,v1={digest}"


def test_deduper_forgets_the_oldest() -> None:
    dedupe = Deduper(capacity=2)
    assert dedupe.first_time("a") and dedupe.first_time("b") and dedupe.first_time("c")
    assert "a" not in dedupe
    assert dedupe.first_time("a")
    assert not dedupe.first_time("c")
