"""The REST surface of docs/protocol.md §2 on aiohttp: shapes, error envelope, request ids, CORS."""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import json
import logging
import secrets
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from aiohttp import web

from booth.devserver.calls import CallStatus, iso
from booth.devserver.drills import DIFFICULTIES
from booth.devserver.tokens import KIND_ATOMS, KIND_SDK, KIND_SESSION, TokenProblem
from booth.logs import log_event, register_secret
from booth.protocol.dialects.atoms import CONNECT_PATH, CONVERSATION_PATH, RATE, REGISTER_PATH

if TYPE_CHECKING:
    from booth.devserver.server import DevServer

REQUEST_ID_HEADER = "X-Athos-Request-Id"
CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
    "Access-Control-Allow-Headers": "Authorization, Content-Type",
    "Access-Control-Expose-Headers": f"{REQUEST_ID_HEADER}, Retry-After",
    "Access-Control-Max-Age": "600",
}
STATUS_CODES = {429: "RATE_LIMITED", 503: "SERVICE_UNAVAILABLE", 500: "INTERNAL_ERROR"}
MAX_LIST_LIMIT = 100
DEFAULT_LIST_LIMIT = 20

SEED003_WS_PATH = "/seed003/ws"
WEBSOCKET_PATHS = frozenset({"/ws", SEED003_WS_PATH, CONNECT_PATH})
ATOMS_TOKEN_LIFETIME = 30  # seconds, as the service grants

SERVER_KEY: web.AppKey[DevServer] = web.AppKey("devserver")
_log = logging.getLogger("booth.devserver.rest")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ApiError(Exception):
    def __init__(
        self, status: int, code: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


ATOMS_PREFIX = "/atoms/"


def error_response(request_id: str, err: ApiError, *, atoms: bool = False) -> web.Response:
    if atoms:  # the Atoms envelope: no code, a list of messages
        body: dict[str, Any] = {"status": False, "errors": [err.message]}
    else:
        body = {"error": {"code": err.code, "message": err.message, "requestId": request_id}}
    return web.json_response(body, status=err.status, headers=err.headers)


@web.middleware
async def athos_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    server = request.app[SERVER_KEY]
    if request.path in WEBSOCKET_PATHS:
        return await handler(request)
    request_id = "req_" + secrets.token_hex(8)
    if request.method == "OPTIONS":
        # CORS preflight: a browser page (seed 003) asks before sending Authorization.
        response: web.StreamResponse = web.Response(status=204)
    else:
        response = await _answer(server, request, handler, request_id)
    response.headers[REQUEST_ID_HEADER] = request_id
    response.headers.update(CORS_HEADERS)
    return response


async def _answer(
    server: DevServer, request: web.Request, handler: Handler, request_id: str
) -> web.StreamResponse:
    faults = server.faults.rest
    if faults.delay > 0:
        await asyncio.sleep(faults.delay)
    status = faults.take()
    atoms = request.path.startswith(ATOMS_PREFIX)
    try:
        if status is not None:
            code = STATUS_CODES.get(status, "INTERNAL_ERROR")
            headers = {"Retry-After": str(faults.retry_after)} if status in (429, 503) else {}
            raise ApiError(status, code, f"injected fault: HTTP {status}", headers)
        return await handler(request)
    except ApiError as err:
        return error_response(request_id, err, atoms=atoms)
    except web.HTTPException as exc:
        code = "NOT_FOUND" if exc.status == 404 else "INVALID_REQUEST"
        return error_response(request_id, ApiError(exc.status, code, exc.reason), atoms=atoms)
    except Exception:
        log_event(_log, logging.ERROR, "request failed", EVENT="internal_error")
        _log.exception("unhandled error in %s %s", request.method, request.path)
        error = ApiError(500, "INTERNAL_ERROR", "internal error")
        return error_response(request_id, error, atoms=atoms)


# ── auth ──────────────────────────────────────────────────────────────────────


def _bearer(request: web.Request, missing_code: str) -> str:
    scheme, _, credential = request.headers.get("Authorization", "").partition(" ")
    credential = credential.strip()
    if scheme.lower() != "bearer" or not credential:
        raise ApiError(401, missing_code, "an Authorization: Bearer header is required")
    return credential


def _tenant_checks(server: DevServer, request: web.Request) -> None:
    if server.allowed_ips is not None and request.remote not in server.allowed_ips:
        raise ApiError(403, "IP_NOT_ALLOWED", "requests from this address are not allowed")
    if not server.tenant_active:
        raise ApiError(403, "TENANT_INACTIVE", "the tenant is inactive")


def require_api_key(server: DevServer, request: web.Request) -> None:
    key = _bearer(request, "INVALID_API_KEY")
    if any(hmac.compare_digest(key, revoked) for revoked in server.revoked_keys):
        raise ApiError(401, "API_KEY_REVOKED", "this API key has been revoked")
    if not any(hmac.compare_digest(key, known) for known in server.api_keys):
        raise ApiError(401, "INVALID_API_KEY", "the API key is not valid")
    _tenant_checks(server, request)


async def _json_body(request: web.Request, *, optional: bool = False) -> dict[str, Any]:
    raw = await request.read()
    if not raw.strip() and optional:
        return {}
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ApiError(400, "INVALID_REQUEST", "the body must be a JSON object") from None
    if not isinstance(data, dict):
        raise ApiError(400, "INVALID_REQUEST", "the body must be a JSON object")
    return data


def _token_error(problem: TokenProblem) -> ApiError:
    return ApiError(401, problem.code, problem.message)


def _ws_url(request: web.Request, path: str = "/ws") -> str:
    return f"ws://{request.host}{path}"


# ── endpoints ─────────────────────────────────────────────────────────────────


async def mint_session(request: web.Request) -> web.Response:
    server = request.app[SERVER_KEY]
    require_api_key(server, request)
    body = await _json_body(request)
    user = body.get("externalUserId")
    if not isinstance(user, str) or not user.strip() or len(user) > 256:
        raise ApiError(400, "INVALID_REQUEST", "externalUserId must be a non-empty string")
    token, expires = server.tokens.issue(KIND_SESSION, user.strip(), server.settings.token_lifetime)
    register_secret(token)
    return web.json_response(
        {"token": token, "expiresAt": iso(datetime.fromtimestamp(expires, UTC))}
    )


def _drill_choice(server: DevServer, body: dict[str, Any], *, required: bool) -> tuple[str, str]:
    """(drillKey, difficulty) from a body; INVALID_REQUEST for bad shapes."""
    drill_key = body.get("drillKey")
    if drill_key is None and not required:
        drill_key = server.settings.default_drill
    if not isinstance(drill_key, str) or not drill_key:
        raise ApiError(400, "INVALID_REQUEST", "drillKey must be a non-empty string")
    difficulty = body.get("difficulty")
    if difficulty is not None and difficulty not in DIFFICULTIES:
        raise ApiError(
            400, "INVALID_REQUEST", f"difficulty must be one of {', '.join(DIFFICULTIES)}"
        )
    return drill_key, difficulty or ""


def _admit_call(server: DevServer, drill_key: str) -> None:
    """Checks after a token is spent: drill, quota, capacity."""
    if drill_key not in server.drills:
        raise ApiError(400, "DRILL_NOT_FOUND", f"no drill {drill_key!r}")
    if server.quota_calls is not None and len(server.calls) >= server.quota_calls:
        raise ApiError(403, "TENANT_QUOTA_EXCEEDED", "the tenant's call quota is used up")
    if server.max_live_calls is not None and server.live_call_count() >= server.max_live_calls:
        raise ApiError(503, "SERVICE_UNAVAILABLE", "no persona is free; try again shortly")


async def redeem_session(request: web.Request) -> web.Response:
    server = request.app[SERVER_KEY]
    token = _bearer(request, "INVALID_TOKEN")
    try:
        claims = server.tokens.check(token, KIND_SESSION)
    except TokenProblem as problem:
        raise _token_error(problem) from None
    body = await _json_body(request)
    drill_key, difficulty = _drill_choice(server, body, required=True)
    # From here on the token is spent, whatever happens (docs/protocol.md §2.3).
    server.tokens.spend(claims)
    _tenant_checks(server, request)
    _admit_call(server, drill_key)
    call, ticket = server.create_call(drill_key, difficulty, claims.subject, with_ticket=True)
    assert ticket is not None
    return web.json_response(
        {
            "connectionUrl": _ws_url(request),
            "connectionTicket": ticket,
            "sessionId": call.session_id,
            "callId": call.call_id,
            "persona": {"name": call.drill.persona_name},
        }
    )


async def sdk_token(request: web.Request) -> web.Response:
    """Seed 003's token endpoint: the page sends no body, and the seed defines none."""
    server = request.app[SERVER_KEY]
    require_api_key(server, request)
    body = await _json_body(request, optional=True)
    if body:
        raise ApiError(400, "INVALID_REQUEST", "seed 003 defines no request body here")
    token, _ = server.tokens.issue(KIND_SDK, "sdk", server.settings.token_lifetime)
    register_secret(token)
    return web.json_response({"token": token, "ws_url": _ws_url(request, SEED003_WS_PATH)})


async def get_call(request: web.Request) -> web.Response:
    server = request.app[SERVER_KEY]
    require_api_key(server, request)
    call = server.calls.get(request.match_info["call_id"])
    if call is None or call.status is not CallStatus.SCORED or call.dialect != "booth":
        raise ApiError(404, "CALL_NOT_FOUND", "no scored call with this id (yet)")
    return web.json_response(call.record())


def _parse_from(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ApiError(400, "INVALID_REQUEST", "from must be an ISO 8601 date-time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _encode_cursor(created: str, call_id: str) -> str:
    return base64.urlsafe_b64encode(f"{created}|{call_id}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[str, str]:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise ApiError(400, "INVALID_REQUEST", "cursor is not valid") from None
    created, sep, call_id = text.partition("|")
    if not sep or not call_id.startswith("athos_call_"):
        raise ApiError(400, "INVALID_REQUEST", "cursor is not valid")
    return created, call_id


async def list_calls(request: web.Request) -> web.Response:
    server = request.app[SERVER_KEY]
    require_api_key(server, request)
    query = request.query
    unknown = set(query) - {"from", "source", "limit", "cursor"}
    if unknown:
        raise ApiError(400, "INVALID_REQUEST", f"unknown parameter {sorted(unknown)[0]!r}")
    since = _parse_from(query["from"]) if "from" in query else None
    source = query.get("source")
    if source is not None and source != "roleplay":
        raise ApiError(400, "INVALID_REQUEST", "source must be 'roleplay'")
    try:
        limit = int(query.get("limit", DEFAULT_LIST_LIMIT))
    except ValueError:
        raise ApiError(400, "INVALID_REQUEST", "limit must be an integer") from None
    if not 1 <= limit <= MAX_LIST_LIMIT:
        raise ApiError(400, "INVALID_REQUEST", f"limit must be 1–{MAX_LIST_LIMIT}")
    after = _decode_cursor(query["cursor"]) if "cursor" in query else None
    rows = sorted(
        (
            (iso(call.created_at), call.call_id, call)
            for call in server.calls.values()
            if call.status is CallStatus.SCORED
            and call.dialect == "booth"
            and (since is None or call.created_at >= since)
            and (source is None or call.source == source)
        ),
        key=lambda row: (row[0], row[1]),
    )
    if after is not None:
        rows = [row for row in rows if (row[0], row[1]) > after]
    page = rows[:limit]
    next_cursor = _encode_cursor(page[-1][0], page[-1][1]) if len(rows) > limit else None
    return web.json_response({"data": [row[2].record() for row in page], "nextCursor": next_cursor})


def add_routes(app: web.Application) -> None:
    app.router.add_post("/api/external/v1/session", mint_session)
    app.router.add_post("/api/external/v1/roleplay/session", redeem_session)
    app.router.add_get("/api/external/v1/calls", list_calls)
    app.router.add_get("/api/external/v1/calls/{call_id}", get_call)
    app.router.add_post("/api/v1/sdk/token", sdk_token)
    app.router.add_post(REGISTER_PATH, atoms_register_call)
    app.router.add_get(CONVERSATION_PATH + "{call_id}", atoms_conversation)


# ── Atoms (register-call, conversation log) ───────────────────────────────────


def _atoms_variables(body: dict[str, Any]) -> dict[str, str | int | float | bool]:
    variables = body.get("variables", {})
    if not isinstance(variables, dict) or not all(
        isinstance(k, str) and isinstance(v, str | int | float | bool) for k, v in variables.items()
    ):
        raise ApiError(
            400, "INVALID_REQUEST", "variables must map names to strings, numbers or booleans"
        )
    return variables


async def atoms_register_call(request: web.Request) -> web.Response:
    """A short-lived, single-use ``wct_`` token; the agent is one of the server's drills and a
    ``difficulty`` variable picks its difficulty."""
    server = request.app[SERVER_KEY]
    require_api_key(server, request)
    body = await _json_body(request)
    agent_id = body.get("agent_id")
    if not isinstance(agent_id, str) or not agent_id:
        raise ApiError(400, "INVALID_REQUEST", "agent_id is required")
    mode = body.get("mode", "webcall")
    if mode not in ("webcall", "chat"):
        raise ApiError(400, "INVALID_REQUEST", "mode must be webcall or chat")
    if mode == "chat":
        raise ApiError(400, "INVALID_REQUEST", "this devserver speaks webcall only")
    variables = _atoms_variables(body)
    if agent_id not in server.drills:
        raise ApiError(404, "NOT_FOUND", "Agent not found")
    difficulty = variables.get("difficulty", "")
    if difficulty not in ("", *DIFFICULTIES):
        raise ApiError(
            400, "INVALID_REQUEST", f"difficulty must be one of {', '.join(DIFFICULTIES)}"
        )
    token, _ = server.tokens.issue(
        KIND_ATOMS, "atoms", ATOMS_TOKEN_LIFETIME, drillKey=agent_id, difficulty=difficulty
    )
    access = "wct_" + token
    register_secret(access)
    register_secret(token)
    data = {"access_token": access, "expires_in": ATOMS_TOKEN_LIFETIME, "sample_rate": RATE}
    return web.json_response({"status": True, "data": data}, status=201)


_ATOMS_STATUS = {
    CallStatus.CREATED: "in_progress",
    CallStatus.LIVE: "in_progress",
    CallStatus.SUSPENDED: "in_progress",
    CallStatus.SCORING: "processing",
    CallStatus.SCORED: "completed",
}


async def atoms_conversation(request: web.Request) -> web.Response:
    """The conversation log: status, duration, transcript; the devserver's score stays inside."""
    server = request.app[SERVER_KEY]
    require_api_key(server, request)
    call = server.calls.get(request.match_info["call_id"])
    if call is None or call.dialect != "atoms":
        raise ApiError(404, "NOT_FOUND", "Conversation not found")
    started = call.created_at
    transcript = [
        {
            "role": "agent" if entry["role"] == "beneficiary" else "user",
            "content": entry["content"],
            "timestamp": iso(started + timedelta(seconds=entry["startTime"])),
        }
        for entry in call.transcript()
    ]
    data = {
        "_id": call.session_id.replace("-", "")[:24],
        "callId": call.call_id,
        "status": _ATOMS_STATUS[call.status],
        "duration": round(call.duration_s, 1),
        "type": "webcall",
        "recordingUrl": "",
        "transcript": transcript,
        "variables": {"difficulty": call.difficulty},
    }
    return web.json_response({"status": True, "data": data})
