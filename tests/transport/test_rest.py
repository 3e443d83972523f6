"""REST client against a scripted service on loopback: success paths, every error class, retries."""

from __future__ import annotations

import socket

import pytest

from booth.errors import ErrorCode
from booth.logs import scrub
from booth.secret import Secret
from booth.transport.rest import (
    NetworkError,
    ProtocolViolation,
    RestClient,
    RestError,
    RetryPolicy,
    parse_retry_after,
)
from tests.transport.scripted import Reply, ScriptedService, envelope

MINT = "/api/external/v1/session"
REDEEM = "/api/external/v1/roleplay/session"
KEY = "ath_live_testkey_0123456789"
TOKEN = "sess-token-abcdefgh-0001"
TICKET = "conn-ticket-abcdefgh-0001"


def minted(token: str = TOKEN) -> Reply:
    return Reply(200, {"token": token, "expiresAt": "2030-01-01T00:00:00Z"})


def redeemed(url: str = "ws://127.0.0.1:1/ws") -> Reply:
    return Reply(
        200,
        {
            "connectionUrl": url,
            "connectionTicket": TICKET,
            "sessionId": "ext_1",
            "callId": "athos_call_1",
            "persona": {"name": "Dana"},
        },
    )


class Sleeps:
    """Records the backoff delays instead of sleeping them (the policy is what is tested)."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


@pytest.fixture
async def service():
    async with ScriptedService() as svc:
        yield svc


def client(svc: ScriptedService, sleeps: Sleeps | None = None, **kw) -> RestClient:
    return RestClient(svc.url, Secret(KEY), sleep=sleeps or Sleeps(), **kw)


async def test_mint_and_redeem_send_the_right_credentials(service: ScriptedService) -> None:
    service.script(MINT, minted())
    service.script(REDEEM, redeemed())
    async with client(service) as rest:
        ticket = await rest.start_call("booth-7", "cold-call", "Elite")
    assert ticket.call_id == "athos_call_1"
    assert ticket.persona_name == "Dana"
    assert ticket.connection_ticket == TICKET
    (_, _, mint_headers, mint_body), (_, _, redeem_headers, redeem_body) = service.requests
    assert mint_headers["Authorization"] == f"Bearer {KEY}"
    assert mint_body == {"externalUserId": "booth-7"}
    assert redeem_headers["Authorization"] == f"Bearer {TOKEN}"
    assert redeem_body == {"drillKey": "cold-call", "difficulty": "Elite"}
    # Secrets are registered: any log line that carried them is scrubbed.
    assert TOKEN not in scrub(f"x {TOKEN} {TICKET} {KEY}")
    assert TICKET not in repr(ticket)


async def test_sdk_token_flow(service: ScriptedService) -> None:
    service.script("/api/v1/sdk/token", Reply(200, {"token": TOKEN, "ws_url": "ws://[::1]:9/v"}))
    async with client(service) as rest:
        ticket = await rest.sdk_token()
    assert ticket.connection_url == "ws://[::1]:9/v"
    assert ticket.connection_ticket == TOKEN
    assert service.requests[0][2]["Authorization"] == f"Bearer {KEY}"
    assert service.requests[0][3] is None  # no body: seed 003 defines none (issue 13, defect 4)


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (400, "INVALID_REQUEST"),
        (400, "DRILL_NOT_FOUND"),
        (401, "INVALID_API_KEY"),
        (401, "API_KEY_REVOKED"),
        (403, "IP_NOT_ALLOWED"),
        (403, "TENANT_INACTIVE"),
        (403, "TENANT_QUOTA_EXCEEDED"),
        (404, "CALL_NOT_FOUND"),
    ],
)
async def test_client_errors_are_typed_and_never_retried(
    service: ScriptedService, status: int, code: str
) -> None:
    path = "/api/external/v1/calls/athos_call_1"
    service.script(path, envelope(status, code, "the message", "req_42"))
    sleeps = Sleeps()
    async with client(service, sleeps) as rest:
        with pytest.raises(RestError) as caught:
            await rest.get_call("athos_call_1")
    err = caught.value
    assert (err.code, err.status, err.request_id, err.message) == (
        code,
        status,
        "req_42",
        "the message",
    )
    assert not err.retryable
    assert service.count(path) == 1
    assert sleeps.delays == []
    assert "req_42" in str(err) and str(status) in str(err)


@pytest.mark.parametrize(
    ("status", "code"), [(500, "INTERNAL_ERROR"), (503, "SERVICE_UNAVAILABLE")]
)
async def test_server_errors_are_retried_with_backoff_then_reported(
    service: ScriptedService, status: int, code: str
) -> None:
    service.script(MINT, *[envelope(status, code)] * 4)
    sleeps = Sleeps()
    policy = RetryPolicy(attempts=4, base=0.5, cap=8.0)
    async with client(service, sleeps, retry=policy) as rest:
        with pytest.raises(RestError) as caught:
            await rest.mint("b")
    assert caught.value.code == code
    assert service.count(MINT) == 4
    assert len(sleeps.delays) == 3
    # Full jitter under an exponential ceiling.
    for attempt, delay in enumerate(sleeps.delays):
        assert 0 <= delay <= min(8.0, 0.5 * 2**attempt)


async def test_server_error_then_success(service: ScriptedService) -> None:
    service.script(MINT, envelope(503, "SERVICE_UNAVAILABLE"), minted())
    async with client(service) as rest:
        token = await rest.mint("b")
    assert token.token == TOKEN
    assert service.count(MINT) == 2


async def test_429_honours_retry_after(service: ScriptedService) -> None:
    limited = envelope(429, "RATE_LIMITED")
    limited.headers["Retry-After"] = "7"
    service.script(MINT, limited, minted())
    sleeps = Sleeps()
    async with client(service, sleeps) as rest:
        await rest.mint("b")
    assert sleeps.delays == [7.0]


async def test_429_with_a_retry_after_too_long_is_reported_not_slept(
    service: ScriptedService,
) -> None:
    limited = envelope(429, "RATE_LIMITED")
    limited.headers["Retry-After"] = "3600"
    service.script(MINT, limited)
    sleeps = Sleeps()
    async with client(service, sleeps) as rest:
        with pytest.raises(RestError) as caught:
            await rest.mint("b")
    assert caught.value.retry_after == 3600
    assert sleeps.delays == []


def test_retry_after_http_date() -> None:
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:10 GMT", now=1445412480.0) == 10.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after("-3") == 0.0


async def test_error_without_envelope(service: ScriptedService) -> None:
    service.script(MINT, *[Reply(502, raw="<html>bad gateway</html>")] * 4)
    async with client(service) as rest:
        with pytest.raises(RestError) as caught:
            await rest.mint("b")
    assert caught.value.status == 502
    assert caught.value.code == ErrorCode.INTERNAL_ERROR


async def test_network_error_is_retried_then_reported() -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    sleeps = Sleeps()
    async with RestClient(f"http://127.0.0.1:{port}", KEY, sleep=sleeps) as rest:
        with pytest.raises(NetworkError) as caught:
            await rest.mint("b")
    assert caught.value.code == ErrorCode.NETWORK_LOST
    assert rest.attempts == 4
    assert len(sleeps.delays) == 3


async def test_request_timeout(service: ScriptedService) -> None:
    service.script(MINT, *[Reply(200, {"token": TOKEN}, delay=1.0)] * 2)
    async with client(service, timeout=0.2, retry=RetryPolicy(attempts=2)) as rest:
        with pytest.raises(NetworkError, match="timed out"):
            await rest.mint("b")


@pytest.mark.parametrize(
    ("code", "mints"),
    [
        ("TOKEN_ALREADY_USED", 2),
        ("SERVICE_UNAVAILABLE", 2),
        ("INVALID_TOKEN", 1),
        ("TOKEN_EXPIRED", 1),
        ("INVALID_REQUEST", 1),
        ("DRILL_NOT_FOUND", 1),
    ],
)
async def test_redeem_failure_mints_anew_only_when_the_token_may_be_spent(
    service: ScriptedService, code: str, mints: int
) -> None:
    status = {"TOKEN_ALREADY_USED": 401, "SERVICE_UNAVAILABLE": 503, "INVALID_TOKEN": 401}.get(
        code, 400
    )
    service.script(MINT, minted("tok-first-000001"), minted("tok-second-00002"))
    service.script(REDEEM, envelope(status, code), redeemed())
    async with client(service) as rest:
        if mints == 2:
            ticket = await rest.start_call("b", "d")
            assert ticket.call_id == "athos_call_1"
            redeem_auth = [h["Authorization"] for _, p, h, _ in service.requests if p == REDEEM]
            assert redeem_auth == ["Bearer tok-first-000001", "Bearer tok-second-00002"]
        else:
            with pytest.raises(RestError) as caught:
                await rest.start_call("b", "d")
            assert caught.value.code == code
    assert service.count(MINT) == mints


async def test_secrets_never_in_exception_text(service: ScriptedService) -> None:
    # A service that echoes the bearer back in its error message.
    service.script(MINT, minted())
    service.script(REDEEM, envelope(400, "INVALID_REQUEST", f"bad token {TOKEN}"))
    async with client(service) as rest:
        with pytest.raises(RestError) as caught:
            await rest.start_call("b", "d")
    assert TOKEN not in str(caught.value)
    assert TOKEN not in repr(caught.value.args)
    assert KEY not in str(caught.value)


async def test_malformed_success_bodies(service: ScriptedService) -> None:
    service.script(MINT, Reply(200, {"tok": "x"}), Reply(200, raw="not json"))
    async with client(service) as rest:
        with pytest.raises(ProtocolViolation, match="token"):
            await rest.mint("b")
        with pytest.raises(ProtocolViolation, match="not JSON"):
            await rest.mint("b")


async def test_service_may_not_send_the_booth_to_a_plain_remote_websocket(
    service: ScriptedService,
) -> None:
    service.script(MINT, minted())
    service.script(REDEEM, redeemed("ws://voice.example.com/ws"))
    async with client(service) as rest:
        with pytest.raises(ProtocolViolation, match="wss"):
            await rest.start_call("b", "d")


def test_plain_http_refused_off_loopback_and_https_accepted() -> None:
    with pytest.raises(ValueError, match="https"):
        RestClient("http://voice.example.com", KEY)
    RestClient("https://voice.example.com", KEY)  # TLS, verified (constructing sends nothing)


async def test_list_calls_follows_cursors(service: ScriptedService) -> None:
    path = "/api/external/v1/calls"
    service.script(
        path,
        Reply(200, {"data": [{"callId": "a"}, {"callId": "b"}], "nextCursor": "c1"}),
        Reply(200, {"data": [{"callId": "c"}], "nextCursor": None}),
    )
    async with client(service) as rest:
        ids = [c["callId"] async for c in rest.iter_calls(since="2026-01-01", limit=2)]
    assert ids == ["a", "b", "c"]
    queries = [r for r in service.requests if r[1] == path]
    assert len(queries) == 2


async def test_get_call_record(service: ScriptedService) -> None:
    record = {"callId": "athos_call_1", "status": "scored", "score": {"overallScore": 71}}
    service.script("/api/external/v1/calls/athos_call_1", Reply(200, record))
    async with client(service) as rest:
        assert await rest.get_call("athos_call_1") == record
        with pytest.raises(ValueError):
            await rest.get_call("../session")
