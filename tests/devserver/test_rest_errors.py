"""Every REST error code of docs/protocol.md §2.4, with the envelope and the request-id header."""

from __future__ import annotations

import time

import httpx
import pytest

from booth.devserver import DevServer
from tests.devserver.conftest import API_KEY, bearer, mint, redeem
from tests.devserver.helpers import assert_error, scored_call

SESSION = "/api/external/v1/session"
REDEEM = "/api/external/v1/roleplay/session"
CALLS = "/api/external/v1/calls"
SDK = "/api/v1/sdk/token"


async def _redeem_with(http: httpx.AsyncClient, token: str, body: object) -> httpx.Response:
    return await http.post(REDEEM, json=body, headers=bearer(token))


# ── 400 ───────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize(
    "content",
    [b"not json", b"[1]", b"{}", b'{"externalUserId": ""}', b'{"externalUserId": 7}'],
)
async def test_mint_invalid_request(http: httpx.AsyncClient, content: bytes) -> None:
    response = await http.post(SESSION, content=content, headers=bearer(API_KEY))
    assert_error(response, 400, "INVALID_REQUEST")


async def test_redeem_invalid_request_leaves_token_unspent(http: httpx.AsyncClient) -> None:
    token = await mint(http)
    assert_error(await _redeem_with(http, token, {}), 400, "INVALID_REQUEST")
    bad = {"drillKey": "quick", "difficulty": "Impossible"}
    assert_error(await _redeem_with(http, token, bad), 400, "INVALID_REQUEST")
    response = await _redeem_with(http, token, {"drillKey": "quick"})
    assert response.status_code == 200


async def test_drill_not_found_spends_the_token(http: httpx.AsyncClient) -> None:
    token = await mint(http)
    error = assert_error(
        await _redeem_with(http, token, {"drillKey": "no-such-drill"}), 400, "DRILL_NOT_FOUND"
    )
    assert "no-such-drill" in error["message"]
    again = await _redeem_with(http, token, {"drillKey": "quick"})
    assert_error(again, 401, "TOKEN_ALREADY_USED")


async def test_sdk_token_refuses_a_body_seed_003_does_not_define(http: httpx.AsyncClient) -> None:
    response = await http.post(SDK, json={"drillKey": "quick"}, headers=bearer(API_KEY))
    error = assert_error(response, 400, "INVALID_REQUEST")
    assert "no request body" in error["message"]
    empty = await http.post(SDK, json={}, headers=bearer(API_KEY))
    assert empty.status_code == 200


@pytest.mark.parametrize(
    "query",
    [
        {"from": "yesterday"},
        {"source": "live"},
        {"limit": "0"},
        {"limit": "101"},
        {"limit": "ten"},
        {"cursor": "%%%"},
        {"cursor": "bm90LWEtY3Vyc29y"},
        {"colour": "blue"},
    ],
)
async def test_list_calls_validation(http: httpx.AsyncClient, query: dict[str, str]) -> None:
    response = await http.get(CALLS, params=query, headers=bearer(API_KEY))
    assert_error(response, 400, "INVALID_REQUEST")


# ── 401 ───────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Basic abc"}, {"Authorization": "Bearer"}, bearer("ath_live_wrong")],
)
async def test_invalid_api_key(http: httpx.AsyncClient, headers: dict[str, str]) -> None:
    for method, path in (("POST", SESSION), ("GET", CALLS), ("GET", f"{CALLS}/x"), ("POST", SDK)):
        response = await http.request(method, path, json={"externalUserId": "b"}, headers=headers)
        assert_error(response, 401, "INVALID_API_KEY")


async def test_api_key_revoked(http: httpx.AsyncClient, server: DevServer) -> None:
    server.revoked_keys.add(API_KEY)
    response = await http.post(SESSION, json={"externalUserId": "b"}, headers=bearer(API_KEY))
    assert_error(response, 401, "API_KEY_REVOKED")


@pytest.mark.parametrize("token", ["garbage", "a.b.c", API_KEY])
async def test_invalid_token(http: httpx.AsyncClient, token: str) -> None:
    assert_error(await _redeem_with(http, token, {"drillKey": "quick"}), 401, "INVALID_TOKEN")


async def test_redeem_without_bearer(http: httpx.AsyncClient) -> None:
    response = await http.post(REDEEM, json={"drillKey": "quick"})
    assert_error(response, 401, "INVALID_TOKEN")


async def test_connection_ticket_is_not_a_session_token(http: httpx.AsyncClient) -> None:
    ticket = (await redeem(http))["connectionTicket"]
    assert_error(await _redeem_with(http, ticket, {"drillKey": "quick"}), 401, "INVALID_TOKEN")


async def test_token_already_used(http: httpx.AsyncClient) -> None:
    token = await mint(http)
    assert (await _redeem_with(http, token, {"drillKey": "quick"})).status_code == 200
    assert_error(await _redeem_with(http, token, {"drillKey": "quick"}), 401, "TOKEN_ALREADY_USED")


async def test_token_expired_and_stays_expired(http: httpx.AsyncClient, server: DevServer) -> None:
    token = await mint(http)
    server.tokens.clock = lambda: time.time() + 301  # five minutes and a second later
    assert_error(await _redeem_with(http, token, {"drillKey": "quick"}), 401, "TOKEN_EXPIRED")
    server.tokens.clock = time.time
    # An expired token was never spent; it still works while it is in date.
    assert (await _redeem_with(http, token, {"drillKey": "quick"})).status_code == 200


async def test_token_lifetime_is_about_five_minutes(http: httpx.AsyncClient) -> None:
    import jwt

    token = await mint(http)
    claims = jwt.decode(token, options={"verify_signature": False})
    assert 290 <= claims["exp"] - claims["iat"] <= 310
    assert claims["typ"] == "session"


async def test_forged_signature_is_invalid(http: httpx.AsyncClient) -> None:
    import jwt

    token = await mint(http)
    claims = jwt.decode(token, options={"verify_signature": False})
    forged = jwt.encode(claims, "not-the-server-key-but-long-enough-32b", algorithm="HS256")
    assert_error(await _redeem_with(http, forged, {"drillKey": "quick"}), 401, "INVALID_TOKEN")


# ── 403 ───────────────────────────────────────────────────────────────────────


async def test_ip_not_allowed(http: httpx.AsyncClient, server: DevServer) -> None:
    server.allowed_ips = {"192.0.2.1"}
    response = await http.post(SESSION, json={"externalUserId": "b"}, headers=bearer(API_KEY))
    assert_error(response, 403, "IP_NOT_ALLOWED")
    server.allowed_ips = {"127.0.0.1"}
    assert (await mint(http)).count(".") == 2


async def test_tenant_inactive(http: httpx.AsyncClient, server: DevServer) -> None:
    server.tenant_active = False
    response = await http.get(CALLS, headers=bearer(API_KEY))
    assert_error(response, 403, "TENANT_INACTIVE")


async def test_tenant_quota_exceeded_spends_token(
    http: httpx.AsyncClient, server: DevServer
) -> None:
    server.quota_calls = 1
    await redeem(http)
    token = await mint(http)
    assert_error(
        await _redeem_with(http, token, {"drillKey": "quick"}), 403, "TENANT_QUOTA_EXCEEDED"
    )
    server.quota_calls = None
    assert_error(await _redeem_with(http, token, {"drillKey": "quick"}), 401, "TOKEN_ALREADY_USED")


# ── 404, 429, 503, 500 ───────────────────────────────────────────────────────


async def test_call_not_found(http: httpx.AsyncClient) -> None:
    response = await http.get(f"{CALLS}/athos_call_nope", headers=bearer(API_KEY))
    assert_error(response, 404, "CALL_NOT_FOUND")


async def test_call_not_found_until_scored(http: httpx.AsyncClient) -> None:
    call_id = (await redeem(http))["callId"]
    response = await http.get(f"{CALLS}/{call_id}", headers=bearer(API_KEY))
    assert_error(response, 404, "CALL_NOT_FOUND")


async def test_no_persona_free(http: httpx.AsyncClient, server: DevServer) -> None:
    server.max_live_calls = 1
    await redeem(http)
    token = await mint(http)
    assert_error(await _redeem_with(http, token, {"drillKey": "quick"}), 503, "SERVICE_UNAVAILABLE")


@pytest.mark.parametrize(
    ("status", "code"),
    [(429, "RATE_LIMITED"), (503, "SERVICE_UNAVAILABLE"), (500, "INTERNAL_ERROR")],
)
async def test_injected_status(
    http: httpx.AsyncClient, server: DevServer, status: int, code: str
) -> None:
    server.faults.rest.status = status
    server.faults.rest.retry_after = 7
    server.faults.rest.count = 2
    for _ in range(2):
        response = await http.post(SESSION, json={"externalUserId": "b"}, headers=bearer(API_KEY))
        assert_error(response, status, code)
        if status in (429, 503):
            assert response.headers["Retry-After"] == "7"
        else:
            assert "Retry-After" not in response.headers
    assert (await mint(http)).count(".") == 2  # the fault ran out after two requests


async def test_injected_delay(http: httpx.AsyncClient, server: DevServer) -> None:
    server.faults.rest.delay = 1.0
    with pytest.raises(httpx.ReadTimeout):
        await http.get(CALLS, headers=bearer(API_KEY), timeout=0.2)
    server.faults.rest.delay = 0.3
    response = await http.get(CALLS, headers=bearer(API_KEY))
    assert response.status_code == 200


async def test_unknown_route_uses_the_envelope(http: httpx.AsyncClient) -> None:
    response = await http.get("/api/external/v1/nothing", headers=bearer(API_KEY))
    assert_error(response, 404, "NOT_FOUND")


# ── calls list ────────────────────────────────────────────────────────────────


async def test_list_calls_pages_with_cursor(http: httpx.AsyncClient, server: DevServer) -> None:
    ids = [await scored_call(http, server) for _ in range(3)]
    unscored = (await redeem(http))["callId"]
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params = {"limit": "2", "source": "roleplay", "from": "2020-01-01T00:00:00Z"}
        if cursor:
            params["cursor"] = cursor
        response = await http.get(CALLS, params=params, headers=bearer(API_KEY))
        assert response.status_code == 200
        body = response.json()
        assert set(body) == {"data", "nextCursor"}
        seen.extend(call["callId"] for call in body["data"])
        assert all(call["status"] == "scored" for call in body["data"])
        pages += 1
        cursor = body["nextCursor"]
        if cursor is None:
            break
    assert pages == 2
    assert seen == ids
    assert unscored not in seen


async def test_list_calls_from_filters(http: httpx.AsyncClient, server: DevServer) -> None:
    await scored_call(http, server)
    response = await http.get(
        CALLS, params={"from": "2999-01-01T00:00:00Z"}, headers=bearer(API_KEY)
    )
    assert response.json() == {"data": [], "nextCursor": None}
    response = await http.get(CALLS, headers=bearer(API_KEY))
    assert len(response.json()["data"]) == 1


async def test_tenant_error_at_redeem_spends_the_token(
    http: httpx.AsyncClient, server: DevServer
) -> None:
    token = await mint(http)
    server.allowed_ips = {"192.0.2.1"}
    assert_error(await _redeem_with(http, token, {"drillKey": "quick"}), 403, "IP_NOT_ALLOWED")
    server.allowed_ips = None
    assert_error(await _redeem_with(http, token, {"drillKey": "quick"}), 401, "TOKEN_ALREADY_USED")
