"""REST client for the voice service (docs/protocol.md §2): mint, redeem, calls, seed-003 token.

Errors come back as :class:`RestError` built from the service's error envelope. Retries happen
only where they are safe: network errors, 429 (honouring ``Retry-After``) and 5xx; never on
400/401/403/404. Secrets (API key, session tokens, tickets) go only into request headers and
are registered with :func:`booth.logs.register_secret`; no exception text carries them.

Nothing the service sends is trusted for size or time (:mod:`booth.limits`): a body is streamed
and refused past REST_BODY_BYTES before it is held, each field has its own limit, each request
has a total deadline (not only a per-read timeout, which a server trickling a byte every few
seconds never trips), and every text from the service is cleaned before it reaches an error.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import json as jsonlib
import logging
import random
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx

from booth import limits
from booth.errors import TOKEN_STILL_UNSPENT, BoothError, ErrorCode
from booth.limits import Limit
from booth.logs import log_event, register_secret
from booth.protocol.codec import Invalid
from booth.protocol.dialects import atoms
from booth.secret import Secret
from booth.servicetext import clean, clean_name, clean_word, is_word
from booth.transport.proxy import (
    HttpProxy,
    is_proxy_challenge,
    refusal_for_url,
    status_of_refusal,
)
from booth.transport.tls import client_context
from booth.transport.urlpolicy import HTTP_SCHEMES, WS_SCHEMES, UrlRejected, parse_service_url

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
        super().__init__(clean_word(code), clean(message))
        self.status = status
        # The service's words: a server that echoes the key here must not put it in our text.
        self.request_id = clean_word(request_id, limits.IDENTIFIER.value) if request_id else None
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


class ProxyRefusedError(NetworkError):
    """The proxy refused the tunnel (CONNECT not allowed, credential rejected): a person must
    change the proxy's rules or the credential. Only the proxy's own 5xx is worth a retry."""

    def __init__(self, message: str, proxy_status: int) -> None:
        super().__init__(message)
        self.proxy_status = proxy_status

    @property
    def retryable(self) -> bool:
        return self.proxy_status >= 500


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
    """The service answered with a body that is not what docs/protocol.md §2 promises (or one
    past a limit: ``limit`` then names it)."""

    def __init__(
        self,
        message: str,
        *,
        status: int,
        request_id: str | None,
        limit: Limit | None = None,
    ) -> None:
        super().__init__(ErrorCode.PROTOCOL_ERROR, message, status=status, request_id=request_id)
        self.limit = limit

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


@dataclass(frozen=True)
class Answer:
    """A response read whole within its limits: status, headers and the parsed JSON body
    (``None`` when the body was empty or not JSON)."""

    status: int
    reason: str
    headers: httpx.Headers
    data: Any

    @property
    def request_id(self) -> str | None:
        value = self.headers.get("X-Athos-Request-Id")
        return value if isinstance(value, str) else None

    def violation(self, message: str, limit: Limit | None = None) -> ProtocolViolation:
        return ProtocolViolation(
            message, status=self.status, request_id=self.request_id, limit=limit
        )


def error_from_answer(answer: Answer) -> RestError:
    """A :class:`RestError` from a non-2xx answer, whatever shape its body has."""
    status = answer.status
    request_id = answer.request_id
    code: str = _DEFAULT_CODES.get(status, ErrorCode.INTERNAL_ERROR)
    message = answer.reason or f"HTTP {status}"
    body = answer.data
    envelope = body.get("error") if isinstance(body, dict) else None
    listed = atoms.error_text(body)  # the Atoms envelope: {"status": false, "errors": [...]}
    if listed:
        message = listed
    if isinstance(envelope, dict):
        code = _optional_str(envelope, "code", limits.CODE, answer) or code
        message = _optional_str(envelope, "message", limits.MESSAGE, answer) or message
        request_id = _optional_str(envelope, "requestId", limits.IDENTIFIER, answer) or request_id
    return RestError(
        code,
        message,
        status=status,
        request_id=request_id,
        retry_after=parse_retry_after(answer.headers.get("Retry-After")),
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
    request_id: str | None = None  # cleaned: safe to show


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


def _optional_str(data: Any, key: str, limit: Limit, answer: Answer) -> str | None:
    """``data[key]`` if it is a string within ``limit``; past the limit a PROTOCOL_ERROR."""
    value = data.get(key) if isinstance(data, dict) else None
    if not isinstance(value, str):
        return None
    if len(value) > limit.value:
        raise answer.violation(limit.exceeded(repr(key), len(value)), limit)
    return value


def _clean_or_none(name: str | None) -> str | None:
    return clean_name(name) if name else None


def _optional_id(data: Any, key: str, answer: Answer) -> str | None:
    """An identifier: it becomes a log field and a URL path part, so its alphabet is fixed."""
    value = _optional_str(data, key, limits.IDENTIFIER, answer)
    if value is not None and not is_word(value):
        raise answer.violation(f"{key!r} has characters outside [A-Za-z0-9_.:-]")
    return value


def _require_str(data: Any, key: str, limit: Limit, answer: Answer) -> str:
    value = _optional_str(data, key, limit, answer)
    if not value:
        raise answer.violation(f"response has no string {key!r}")
    return value


class RestClient:
    """Async client for the voice service's REST surface. Use as ``async with``."""

    def __init__(
        self,
        api_url: str,
        api_key: str | Secret,
        *,
        timeout: float = limits.REST_REQUEST_DEADLINE,
        retry: RetryPolicy | None = None,
        rng: random.Random | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        transport: httpx.AsyncBaseTransport | None = None,
        proxy: HttpProxy | None = None,
    ) -> None:
        parse_service_url(api_url, HTTP_SCHEMES)  # UrlRejected (a ValueError) says why not
        self.api_url = api_url.rstrip("/")
        self._api_key = _secret_value(api_key)
        register_secret(self._api_key, pinned=True)
        #: The whole of one request, headers and body; each read also has ``timeout``.
        self.deadline = timeout
        self.retry = retry or RetryPolicy()
        self._rng = rng or random.Random()  # noqa: S311 (jitter, not secrets)
        self._sleep = sleep
        self._proxy = proxy
        # Verified TLS always; no env proxies: a booth talks to its service (through the
        # configured proxy, if any) and nothing else.
        self._http = httpx.AsyncClient(
            proxy=proxy.for_httpx() if proxy is not None else None,
            base_url=self.api_url,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
            verify=client_context(),  # verifying: certificates and host names are checked
            trust_env=False,
            follow_redirects=False,
            transport=transport,
            # identity only: a compressed body could inflate past any limit checked on the wire
            headers={"Accept": "application/json", "Accept-Encoding": "identity"},
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
        answer = await self._request(
            "POST",
            "/api/external/v1/session",
            bearer=self._api_key,
            json={"externalUserId": external_user_id},
            retry=True,
        )
        token = _require_str(answer.data, "token", limits.TOKEN, answer)
        register_secret(token)
        expires = _optional_str(answer.data, "expiresAt", limits.CODE, answer)
        request_id = answer.request_id
        return SessionToken(
            token,
            clean(expires, limits.CODE.value) if expires else None,
            clean_word(request_id, limits.IDENTIFIER.value) if request_id else None,
        )

    async def redeem(
        self, token: SessionToken | str, drill_key: str, difficulty: str | None = None
    ) -> CallTicket:
        """POST /api/external/v1/roleplay/session with the session token. Never retried here:
        the token may be spent; :meth:`start_call` mints anew when that is safe."""
        raw = token.token if isinstance(token, SessionToken) else token
        body: dict[str, Any] = {"drillKey": drill_key}
        if difficulty:
            body["difficulty"] = difficulty
        answer = await self._request(
            "POST", "/api/external/v1/roleplay/session", bearer=raw, json=body, retry=False
        )
        data = answer.data
        ticket = _require_str(data, "connectionTicket", limits.TOKEN, answer)
        register_secret(ticket)
        url = _ws_url(_require_str(data, "connectionUrl", limits.URL, answer), answer)
        persona = data.get("persona") if isinstance(data, dict) else None
        return CallTicket(
            connection_url=url,
            connection_ticket=ticket,
            session_id=_optional_id(data, "sessionId", answer),
            call_id=_optional_id(data, "callId", answer),
            persona_name=_clean_or_none(_optional_str(persona, "name", limits.NAME, answer)),
        )

    async def sdk_token(self) -> CallTicket:
        """Seed 003: POST /api/v1/sdk/token with no body (the seed defines none, so no drill
        and no difficulty) -> {token, ws_url}."""
        answer = await self._request("POST", "/api/v1/sdk/token", bearer=self._api_key, retry=True)
        token = _require_str(answer.data, "token", limits.TOKEN, answer)
        register_secret(token)
        url = _ws_url(_require_str(answer.data, "ws_url", limits.URL, answer), answer)
        return CallTicket(connection_url=url, connection_ticket=token)

    async def register_call(
        self, agent_id: str, variables: dict[str, str] | None = None
    ) -> CallTicket:
        """Atoms: POST /atoms/v1/conversation/register-call -> a single-use ``wct_`` token and
        the Agent WebSocket URL it opens (on this client's host). Retried like a mint: the
        token is spent only by the WebSocket."""
        try:
            answer = await self._request(
                "POST",
                atoms.REGISTER_PATH,
                bearer=self._api_key,
                json=atoms.register_body(agent_id, variables),
                retry=True,
            )
        except RestError as exc:
            if exc.status == 404:  # the agent is Atoms' drill
                raise RestError(
                    ErrorCode.DRILL_NOT_FOUND, exc.message, status=404, request_id=exc.request_id
                ) from None
            raise
        try:
            registration = atoms.parse_registration(answer.data)
        except Invalid as exc:
            raise answer.violation(f"register-call: {exc}", exc.limit) from None
        register_secret(registration.access_token)
        url = atoms.connect_url(self.api_url, registration.access_token)
        return CallTicket(connection_url=url, connection_ticket=registration.access_token)

    async def get_conversation(self, call_id: str) -> dict[str, Any]:
        """Atoms: GET /atoms/v1/conversation/{callId}, the ``data`` of the conversation log."""
        answer = await self._request(
            "GET", atoms.conversation_path(call_id), bearer=self._api_key, retry=True
        )
        data = answer.data.get("data") if isinstance(answer.data, dict) else None
        if not isinstance(data, dict):
            raise answer.violation("conversation log has no 'data' object")
        return data

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
        answer = await self._request(
            "GET", f"/api/external/v1/calls/{call_id}", bearer=self._api_key, retry=True
        )
        if not isinstance(answer.data, dict):
            raise answer.violation("call record is not a JSON object")
        return answer.data

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
        answer = await self._request(
            "GET", "/api/external/v1/calls", bearer=self._api_key, params=params, retry=True
        )
        data = answer.data
        page = data.get("data") if isinstance(data, dict) else None
        if not isinstance(page, list) or not all(isinstance(c, dict) for c in page):
            raise answer.violation("call list has no 'data' array of objects")
        next_cursor = _optional_str(data, "nextCursor", limits.TOKEN, answer)
        return page, next_cursor or None

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
    ) -> Answer:
        started = time.monotonic()
        attempt = 0
        while True:
            try:
                answer = await self._send_once(method, path, bearer, json, params)
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
            return answer

    async def _send_once(
        self,
        method: str,
        path: str,
        bearer: str,
        json: dict[str, Any] | None,
        params: dict[str, str | int] | None,
    ) -> Answer:
        self.attempts += 1
        try:
            async with asyncio.timeout(self.deadline):
                answer = await _read_answer(
                    self._http.stream(
                        method,
                        path,
                        json=json,
                        params=params,
                        headers={"Authorization": f"Bearer {bearer}"},
                    ),
                    f"{method} {path}",
                )
        except TimeoutError:
            raise NetworkError(
                f"{method} {path}: timed out (no whole answer within {self.deadline:g} s)"
            ) from None
        except httpx.TimeoutException as exc:
            raise NetworkError(f"{method} {path}: timed out ({type(exc).__name__})") from None
        except httpx.ProxyError as exc:
            raise self._proxy_refusal(method, path, status_of_refusal(str(exc))) from None
        except httpx.TransportError as exc:
            cert = _cert_failure(exc)
            if cert is not None:
                raise TlsError(
                    f"{method} {path}: certificate not trusted: {cert.verify_message}"
                ) from None
            # The exception text is the OS's (refused, reset, certificate...), never a header.
            via = f" (through proxy {self._proxy.address})" if self._proxy is not None else ""
            raise NetworkError(
                f"{method} {path}{via}: {type(exc).__name__}: {clean(exc)}"
            ) from None
        if self._proxy is not None and is_proxy_challenge(answer.status, answer.headers):
            # Plain-http targets (loopback) are forwarded, not tunnelled: a refusal is a response.
            raise self._proxy_refusal(method, path, answer.status)
        if 200 <= answer.status < 300:
            if answer.data is None:
                raise answer.violation(f"{method} {path}: response is not JSON")
            return answer
        raise error_from_answer(answer)

    def _proxy_refusal(self, method: str, path: str, status: int) -> ProxyRefusedError:
        assert self._proxy is not None
        refusal = refusal_for_url(self._proxy, self.api_url, status)
        return ProxyRefusedError(f"{method} {path}: {refusal}", status)


async def _read_answer(
    request: contextlib.AbstractAsyncContextManager[httpx.Response], what: str
) -> Answer:
    """The response to ``request``, its body read within REST_BODY_BYTES: a Content-Length past
    the limit is refused before reading, a body that grows past it is cut off mid-stream."""
    async with request as response:
        partial = Answer(response.status_code, response.reason_phrase, response.headers, None)
        encoding = response.headers.get("Content-Encoding", "identity").strip().lower()
        if encoding != "identity":
            raise partial.violation(f"{what}: body is {clean_word(encoding)}-encoded")
        limit = limits.REST_BODY
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > limit.value:
            raise partial.violation(limit.exceeded("response body", int(declared)), limit)
        body = bytearray()
        async for chunk in response.aiter_raw():
            if len(body) + len(chunk) > limit.value:
                raise partial.violation(limit.exceeded("response body"), limit)
            body += chunk
    return Answer(partial.status, partial.reason, partial.headers, _json_or_none(body))


def _json_or_none(body: bytes | bytearray) -> Any:
    if not body:
        return None
    try:
        return jsonlib.loads(body)
    except (ValueError, RecursionError):  # not JSON, bad UTF-8, 5000-digit numbers, deep nests
        return None


def _ws_url(url: str, answer: Answer) -> str:
    try:
        return parse_service_url(url, WS_SCHEMES).url
    except UrlRejected as exc:
        raise answer.violation(f"service gave an unusable WebSocket URL: {exc}") from None
