"""REST client for the voice service (docs/protocol.md §2): mint, redeem, calls, seed-003 token.

Errors come back as :class:`RestError` built from the service's error envelope. Retries happen
only where they are safe: network errors, 429 (honouring ``Retry-After``) and 5xx; never on
400/401/403/404. Secrets (API key, session tokens, tickets) go only into request headers and
are registered with :func:`booth.logs.register_secret`; no exception text carries them.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import random
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx

from booth.errors import TOKEN_STILL_UNSPENT, BoothError, ErrorCode
from booth.logs import log_event, register_secret, scrub
from booth.secret import Secret
from booth.transport.urlpolicy import check_url_allowed

log = logging.getLogger(__name__)

T = TypeVar("T")

#: The longest Retry-After honoured; a longer one is reported instead of slept through.
MAX_RETRY_AFTER = 60.0


class RestError(BoothError):
    """A failed REST call: the envelope's code and message, the request id, the HTTP status."""

    def __init__(
        self,
        code: ErrorCode | str,
        message: str,
        *,
        status: int | None = None,
        request_id: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(code, scrub(message))
        self.status = status
        self.request_id = request_id
        self.retry_after = retry_after

    @property
    def retryable(self) -> bool:
        """Worth another try later: the network, a rate limit, or the service's own trouble."""
        return self.status is None or self.status == 429 or self.status >= 500

    def __str__(self) -> str:
        text = f"{self.code}: {self.message}"
        if self.status is not None:
            text += f" (HTTP {self.status}"
            text += f", request {self.request_id})" if self.request_id else ")"
        return text


class NetworkError(RestError):
    """The request never got an HTTP answer (refused, reset, timed out, TLS failure)."""

    def __init__(self, message: str) -> None:
        super().__init__(ErrorCode.NETWORK_LOST, message)


class TlsError(NetworkError):
    """The service's certificate failed verification: a person must fix it, retrying won't."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.code = "TLS_VERIFY_FAILED"

    @property
    def retryable(self) -> bool:
        return False


def _cert_failure(exc: BaseException) -> ssl.SSLCertVerificationError | None:
    seen: BaseException | None = exc
    for _ in range(10):  # follow the cause chain a few levels
        if seen is None:
            return None
        if isinstance(seen, ssl.SSLCertVerificationError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


class ProtocolViolation(RestError):
    """The service answered 2xx with a body that is not what docs/protocol.md §2 promises."""

    def __init__(self, message: str, *, status: int, request_id: str | None) -> None:
        super().__init__(ErrorCode.PROTOCOL_ERROR, message, status=status, request_id=request_id)

    @property
    def retryable(self) -> bool:
        return False


_DEFAULT_CODES = {
    400: ErrorCode.INVALID_REQUEST,
    401: ErrorCode.INVALID_API_KEY,
    403: ErrorCode.IP_NOT_ALLOWED,
    404: ErrorCode.CALL_NOT_FOUND,
    429: ErrorCode.RATE_LIMITED,
    503: ErrorCode.SERVICE_UNAVAILABLE,
}


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


def error_from_response(response: httpx.Response) -> RestError:
    """A :class:`RestError` from a non-2xx response, whatever shape its body has."""
    status = response.status_code
    request_id = response.headers.get("X-Athos-Request-Id")
    code: str = _DEFAULT_CODES.get(status, ErrorCode.INTERNAL_ERROR)
    message = response.reason_phrase or f"HTTP {status}"
    try:
        body = response.json()
    except ValueError:
        body = None
    envelope = body.get("error") if isinstance(body, dict) else None
    if isinstance(envelope, dict):
        if isinstance(envelope.get("code"), str) and envelope["code"]:
            code = envelope["code"][:64]
        if isinstance(envelope.get("message"), str):
            message = envelope["message"][:500]
        if isinstance(envelope.get("requestId"), str):
            request_id = envelope["requestId"][:128]
    return RestError(
        code,
        message,
        status=status,
        request_id=request_id,
        retry_after=parse_retry_after(response.headers.get("Retry-After")),
    )


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter; ``Retry-After`` overrides the computed delay."""

    attempts: int = 4
    base: float = 0.5
    cap: float = 8.0
    deadline: float = 60.0  # no retry is started past this many seconds after the first try

    def delay(self, attempt: int, rng: random.Random) -> float:
        return rng.uniform(0, min(self.cap, self.base * 2**attempt))


@dataclass(frozen=True)
class SessionToken:
    token: str = field(repr=False)
    expires_at: str | None = None


@dataclass(frozen=True)
class CallTicket:
    """What redeem (or the seed-003 token flow) returns: where and how to open the WebSocket."""

    connection_url: str
    connection_ticket: str = field(repr=False)
    session_id: str | None = None
    call_id: str | None = None
    persona_name: str | None = None


def _secret_value(value: str | Secret) -> str:
    return value.reveal() if isinstance(value, Secret) else value


def _require_str(data: Any, key: str, response: httpx.Response) -> str:
    value = data.get(key) if isinstance(data, dict) else None
    if not isinstance(value, str) or not value:
        raise ProtocolViolation(
            f"response has no string {key!r}",
            status=response.status_code,
            request_id=response.headers.get("X-Athos-Request-Id"),
        )
    return value


def _optional_str(data: Any, key: str) -> str | None:
    value = data.get(key) if isinstance(data, dict) else None
    return value if isinstance(value, str) else None


class RestClient:
    """Async client for the voice service's REST surface. Use as ``async with``."""

    def __init__(
        self,
        api_url: str,
        api_key: str | Secret,
        *,
        timeout: float = 10.0,
        retry: RetryPolicy | None = None,
        rng: random.Random | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        problem = check_url_allowed(api_url)
        if problem:
            raise ValueError(problem)
        self.api_url = api_url.rstrip("/")
        self._api_key = _secret_value(api_key)
        register_secret(self._api_key)
        self.retry = retry or RetryPolicy()
        self._rng = rng or random.Random()  # noqa: S311 (jitter, not secrets)
        self._sleep = sleep
        # verify=True always; no env proxies: a booth talks to its service and nothing else.
        self._http = httpx.AsyncClient(
            base_url=self.api_url,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
            verify=True,
            trust_env=False,
            follow_redirects=False,
            transport=transport,
            headers={"Accept": "application/json"},
        )
        self.attempts = 0  # requests sent, retries included (for tests and the summary)

    async def __aenter__(self) -> RestClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # ── the endpoints ───────────────────────────────────────────────────────────

    async def mint(self, external_user_id: str) -> SessionToken:
        """POST /api/external/v1/session with the API key: a short-lived, single-use token."""
        response = await self._request(
            "POST",
            "/api/external/v1/session",
            bearer=self._api_key,
            json={"externalUserId": external_user_id},
            retry=True,
        )
        data = response.json()
        token = _require_str(data, "token", response)
        register_secret(token)
        return SessionToken(token, _optional_str(data, "expiresAt"))

    async def redeem(
        self, token: SessionToken | str, drill_key: str, difficulty: str | None = None
    ) -> CallTicket:
        """POST /api/external/v1/roleplay/session with the session token. Never retried here:
        the token may be spent; :meth:`start_call` mints anew when that is safe."""
        raw = token.token if isinstance(token, SessionToken) else token
        body: dict[str, Any] = {"drillKey": drill_key}
        if difficulty:
            body["difficulty"] = difficulty
        response = await self._request(
            "POST", "/api/external/v1/roleplay/session", bearer=raw, json=body, retry=False
        )
        data = response.json()
        ticket = _require_str(data, "connectionTicket", response)
        register_secret(ticket)
        url = _require_str(data, "connectionUrl", response)
        self._check_ws_url(url, response)
        persona = data.get("persona") if isinstance(data, dict) else None
        return CallTicket(
            connection_url=url,
            connection_ticket=ticket,
            session_id=_optional_str(data, "sessionId"),
            call_id=_optional_str(data, "callId"),
            persona_name=_optional_str(persona, "name"),
        )

    async def sdk_token(self) -> CallTicket:
        """Seed-003 flow: POST /api/v1/sdk/token -> {token, ws_url}."""
        response = await self._request(
            "POST", "/api/v1/sdk/token", bearer=self._api_key, json={}, retry=True
        )
        data = response.json()
        token = _require_str(data, "token", response)
        register_secret(token)
        url = _require_str(data, "ws_url", response)
        self._check_ws_url(url, response)
        return CallTicket(connection_url=url, connection_ticket=token)

    async def start_call(
        self,
        external_user_id: str,
        drill_key: str,
        difficulty: str | None = None,
        *,
        flow: str = "athos",
    ) -> CallTicket:
        """Everything before the WebSocket: mint + redeem (or the seed-003 token).

        A redeem that fails retryably is retried with a *new* token: only INVALID_TOKEN,
        TOKEN_EXPIRED and INVALID_REQUEST leave a token unspent, and none of those is retryable.
        """
        if flow == "sdk-token":
            return await self.sdk_token()
        if flow != "athos":
            raise ValueError(f"unknown flow {flow!r}; use 'athos' or 'sdk-token'")
        started = time.monotonic()
        attempt = 0
        while True:
            token = await self.mint(external_user_id)
            try:
                return await self.redeem(token, drill_key, difficulty)
            except RestError as exc:
                if exc.code in TOKEN_STILL_UNSPENT or not (
                    exc.retryable or exc.code == ErrorCode.TOKEN_ALREADY_USED
                ):
                    raise
                attempt += 1
                if exc.code == ErrorCode.TOKEN_ALREADY_USED:
                    # Spent by an earlier try whose answer we lost: one fresh token, at once.
                    if attempt > 1:
                        raise
                    delay: float | None = 0.0
                else:
                    delay = self._retry_delay(exc, attempt - 1, started)
                if delay is None:
                    raise
                log_event(
                    log,
                    logging.WARNING,
                    f"redeem failed ({exc.code}); minting a new token in {delay:.2f} s",
                    ERROR_CODE=exc.code,
                    REQUEST_ID=exc.request_id,
                )
                await self._sleep(delay)

    async def get_call(self, call_id: str) -> dict[str, Any]:
        """GET /api/external/v1/calls/{callId}; RestError CALL_NOT_FOUND (404) until scored."""
        if not call_id or "/" in call_id or "?" in call_id:
            raise ValueError("callId must be a plain identifier")
        response = await self._request(
            "GET", f"/api/external/v1/calls/{call_id}", bearer=self._api_key, retry=True
        )
        data = response.json()
        if not isinstance(data, dict):
            raise ProtocolViolation(
                "call record is not a JSON object",
                status=response.status_code,
                request_id=response.headers.get("X-Athos-Request-Id"),
            )
        return data

    async def list_calls(
        self,
        *,
        since: str | None = None,
        source: str = "roleplay",
        limit: int = 50,
        cursor: str | None = None,
    ) -> tuple[list[dict[str, Any]], str | None]:
        """One page of GET /api/external/v1/calls: (calls, nextCursor)."""
        params: dict[str, str | int] = {"source": source, "limit": limit}
        if since:
            params["from"] = since
        if cursor:
            params["cursor"] = cursor
        response = await self._request(
            "GET", "/api/external/v1/calls", bearer=self._api_key, params=params, retry=True
        )
        data = response.json()
        page = data.get("data") if isinstance(data, dict) else None
        if not isinstance(page, list) or not all(isinstance(c, dict) for c in page):
            raise ProtocolViolation(
                "call list has no 'data' array of objects",
                status=response.status_code,
                request_id=response.headers.get("X-Athos-Request-Id"),
            )
        next_cursor = data.get("nextCursor")
        return page, next_cursor if isinstance(next_cursor, str) and next_cursor else None

    async def iter_calls(
        self, *, since: str | None = None, source: str = "roleplay", limit: int = 50
    ) -> AsyncIterator[dict[str, Any]]:
        """Every call, following ``nextCursor`` until the service has no more."""
        cursor: str | None = None
        seen: set[str] = set()
        while True:
            page, cursor = await self.list_calls(
                since=since, source=source, limit=limit, cursor=cursor
            )
            for call in page:
                yield call
            if cursor is None or cursor in seen:  # a repeating cursor would loop forever
                return
            seen.add(cursor)

    # ── plumbing ────────────────────────────────────────────────────────────────

    def _check_ws_url(self, url: str, response: httpx.Response) -> None:
        problem = check_url_allowed(url)
        if problem or not url.startswith(("ws://", "wss://")):
            raise ProtocolViolation(
                f"service gave an unusable WebSocket URL: {problem or 'not ws(s)://'}",
                status=response.status_code,
                request_id=response.headers.get("X-Athos-Request-Id"),
            )

    def _retry_delay(self, exc: RestError, attempt: int, started: float) -> float | None:
        """Seconds to wait before retry number ``attempt`` (0-based), or None to give up."""
        if not exc.retryable or attempt + 1 >= self.retry.attempts:
            return None
        if exc.retry_after is not None:
            if exc.retry_after > MAX_RETRY_AFTER:
                return None
            delay = exc.retry_after
        else:
            delay = self.retry.delay(attempt, self._rng)
        if time.monotonic() - started + delay > self.retry.deadline:
            return None
        return delay

    async def _request(
        self,
        method: str,
        path: str,
        *,
        bearer: str,
        retry: bool,
        json: dict[str, Any] | None = None,
        params: dict[str, str | int] | None = None,
    ) -> httpx.Response:
        started = time.monotonic()
        attempt = 0
        while True:
            try:
                response = await self._send_once(method, path, bearer, json, params)
            except RestError as exc:
                delay = self._retry_delay(exc, attempt, started) if retry else None
                if delay is None:
                    raise
                log_event(
                    log,
                    logging.WARNING,
                    f"{method} {path} failed ({exc.code}); retry in {delay:.2f} s",
                    ERROR_CODE=exc.code,
                    REQUEST_ID=exc.request_id,
                )
                attempt += 1
                await self._sleep(delay)
                continue
            return response

    async def _send_once(
        self,
        method: str,
        path: str,
        bearer: str,
        json: dict[str, Any] | None,
        params: dict[str, str | int] | None,
    ) -> httpx.Response:
        self.attempts += 1
        try:
            response = await self._http.request(
                method,
                path,
                json=json,
                params=params,
                headers={"Authorization": f"Bearer {bearer}"},
            )
        except httpx.TimeoutException as exc:
            raise NetworkError(f"{method} {path}: timed out ({type(exc).__name__})") from None
        except httpx.TransportError as exc:
            cert = _cert_failure(exc)
            if cert is not None:
                raise TlsError(
                    f"{method} {path}: certificate not trusted: {cert.verify_message}"
                ) from None
            # The exception text is the OS's (refused, reset, certificate...), never a header.
            raise NetworkError(
                f"{method} {path}: {type(exc).__name__}: {scrub(str(exc))}"
            ) from None
        if response.is_success:
            try:
                response.json()
            except ValueError:
                raise ProtocolViolation(
                    f"{method} {path}: response is not JSON",
                    status=response.status_code,
                    request_id=response.headers.get("X-Athos-Request-Id"),
                ) from None
            return response
        raise error_from_response(response)
