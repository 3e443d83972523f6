"""The reference voice service: REST and WebSocket on one aiohttp port, in-process or standalone.

async with DevServer(api_keys={"ath_live_…"}, settings=Settings(resume_window=1)) as server:
    server.url        # http://127.0.0.1:PORT
    server.calls      # callId → Call (status, recordings, turns, transcript, score)
    server.faults     # global fault knobs; server.fault_call(call_id, …) for one call
    await server.wait_call(call_id, CallStatus.SCORED)
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import secrets
import time
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from types import TracebackType
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web

from booth.devserver.calls import Call, CallStatus, Watch
from booth.devserver.drills import DEFAULT_DRILLS_DIR, Drill, load_drills
from booth.devserver.faults import Faults, SocketFaults
from booth.devserver.live import LiveCall
from booth.devserver.modes import ATOMS, BOOTH, SEED003, Mode
from booth.devserver.rest import SERVER_KEY, add_routes, athos_middleware
from booth.devserver.scoring import measure, score
from booth.devserver.settings import Settings
from booth.devserver.tokens import KIND_ATOMS, KIND_SDK, KIND_TICKET, TokenIssuer, TokenProblem
from booth.devserver.voice import Voice
from booth.devserver.webhook_sender import WebhookSender
from booth.logs import log_event, register_secret
from booth.protocol.dialects.atoms import CONNECT_PATH
from booth.protocol.messages import Auth, Resume, ServerError

SEED003_WS_PATH = "/seed003/ws"

_log = logging.getLogger("booth.devserver")


@functools.cache
def _shipped_drills() -> dict[str, Drill]:
    return load_drills(DEFAULT_DRILLS_DIR)


def default_drills() -> dict[str, Drill]:
    """The drills in config/drills, read once per process (tests start many servers)."""
    return dict(_shipped_drills())


class DevServer:
    def __init__(
        self,
        *,
        api_keys: Iterable[str] = (),
        host: str = "127.0.0.1",
        port: int = 0,
        drills: dict[str, Drill] | None = None,
        drills_dir: Path | None = None,
        settings: Settings | None = None,
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
        use_espeak: bool = True,
    ) -> None:
        self.api_keys: set[str] = set(api_keys)
        for key in self.api_keys:
            register_secret(key, pinned=True)
        # Tenant knobs behind the 401/403/503 codes; tests flip them at run time.
        self.revoked_keys: set[str] = set()
        self.allowed_ips: set[str] | None = None
        self.tenant_active = True
        self.quota_calls: int | None = None
        self.max_live_calls: int | None = None

        self.host = host
        self.port = port
        self.settings = settings or Settings()
        if drills is None:
            drills = default_drills() if drills_dir is None else load_drills(drills_dir)
        self.drills = drills
        self.voice = Voice(use_espeak=use_espeak)
        self.tokens = TokenIssuer()
        self.faults = Faults()
        self.calls: dict[str, Call] = {}
        self.live: dict[str, LiveCall] = {}
        self.watch = Watch()
        self.webhooks: WebhookSender | None = None
        if webhook_url:
            if not webhook_secret:
                raise ValueError("a webhook URL needs a webhook secret")
            register_secret(webhook_secret)
            self.webhooks = WebhookSender(
                webhook_url,
                webhook_secret,
                retry_delay=self.settings.webhook_retry_delay,
                timeout=self.settings.webhook_timeout,
            )
        self._resume_tokens: dict[str, str] = {}
        self._tickets: dict[str, str] = {}  # connection-ticket jti → callId
        self._background: set[asyncio.Task[Any]] = set()
        self._ws_handlers: set[asyncio.Task[Any]] = set()
        self._runner: web.AppRunner | None = None

    # ── lifecycle ─────────────────────────────────────────────────────────────

    async def start(self) -> None:
        app = web.Application(middlewares=[athos_middleware])
        app[SERVER_KEY] = self
        add_routes(app)
        app.router.add_get("/ws", self._websocket)
        app.router.add_get(SEED003_WS_PATH, self._seed003_websocket)
        app.router.add_get(CONNECT_PATH, self._atoms_websocket)
        self._runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        # Render the greetings now so the first call does not wait for espeak-ng.
        for drill in self.drills.values():
            self._spawn(self.voice.render(drill.opening, drill.voice))
        log_event(
            _log,
            logging.INFO,
            f"devserver listening on {self.url} (voice: {self.voice.engine})",
            EVENT="devserver_started",
        )

    async def close(self) -> None:
        for live in list(self.live.values()):
            await live.end("server_shutdown")
        for task in list(self._background):
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> DevServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://", 1) + "/ws"

    @property
    def seed003_ws_url(self) -> str:
        return self.url.replace("http://", "ws://", 1) + SEED003_WS_PATH

    # ── test helpers ──────────────────────────────────────────────────────────

    def fault_call(self, call_id: str, **knobs: Any) -> SocketFaults:
        """Socket faults for one call (replacing the global ones for it)."""
        faults = SocketFaults(**knobs)
        self.calls[call_id].faults = faults
        return faults

    async def wait_until(
        self, predicate: Callable[[], bool], within: float = 10.0, what: str = ""
    ) -> None:
        await self.watch.wait(predicate, within, what)

    async def wait_call(
        self, call_id: str, status: CallStatus = CallStatus.SCORED, within: float = 10.0
    ) -> Call:
        order = list(CallStatus)

        def reached() -> bool:
            call = self.calls.get(call_id)
            return call is not None and order.index(call.status) >= order.index(status)

        await self.wait_until(reached, within, f"call {call_id} {status}")
        return self.calls[call_id]

    async def wait_frames(self, call_id: str, count: int, within: float = 10.0) -> Call:
        await self.wait_until(
            lambda: call_id in self.calls and self.calls[call_id].frames_received >= count,
            within,
            f"{count} frames from the rep on {call_id}",
        )
        return self.calls[call_id]

    async def wait_new_call(self, known: int = 0, within: float = 10.0) -> Call:
        """The call created after the first ``known`` (in creation order)."""
        await self.wait_until(lambda: len(self.calls) > known, within, "a new call")
        return list(self.calls.values())[known]

    def live_call_count(self) -> int:
        return sum(
            1
            for call in self.calls.values()
            if call.status in (CallStatus.CREATED, CallStatus.LIVE, CallStatus.SUSPENDED)
        )

    # ── calls ─────────────────────────────────────────────────────────────────

    def create_call(
        self, drill_key: str, difficulty: str, user: str, *, with_ticket: bool, mode: Mode = BOOTH
    ) -> tuple[Call, str | None]:
        drill = self.drills[drill_key]
        if mode is ATOMS:
            call_id = f"CALL-{int(time.time() * 1000)}-{secrets.token_hex(3)}"
            session_id = str(uuid.uuid4())
        else:  # a seed-003 call never learns its id; the server still keeps one
            call_id = f"{'athos' if mode is BOOTH else mode.name}_call_{secrets.token_hex(10)}"
            session_id = "ext_" + secrets.token_hex(10)
        call = Call(
            call_id=call_id,
            session_id=session_id,
            drill=drill,
            difficulty=difficulty or drill.default_difficulty,
            external_user_id=user,
            dialect=mode.name,
        )
        self.calls[call.call_id] = call
        ticket = None
        if with_ticket:
            ticket, _ = self.tokens.issue(
                KIND_TICKET, user, self.settings.ticket_lifetime, callId=call.call_id
            )
            register_secret(ticket)
        self.watch.changed()
        return call, ticket

    def _on_ended(self, call: Call) -> None:
        call.status = CallStatus.SCORING
        self.live.pop(call.call_id, None)
        self.watch.changed()
        self._spawn(self._score_later(call))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _score_later(self, call: Call) -> None:
        await asyncio.sleep(self.settings.scoring_delay)
        stops = [line.end for line in call.persona_lines if line.end is not None]
        call.measurements = measure(call.duration_s, call.rep_turns, call.persona_talk_s, stops)
        call.score = score(call.measurements)
        call.status = CallStatus.SCORED
        call.ended.set()
        self._forget_old_recordings()
        log_event(
            _log,
            logging.INFO,
            f"call scored {call.score.overall}/100",
            EVENT="scored",
            CALL_ID=call.call_id,
            SCORE=call.score.overall,
        )
        self.watch.changed()
        if self.webhooks is not None:
            await self.webhooks.deliver(call, self.watch.changed)

    def _forget_old_recordings(self) -> None:
        """Bound memory in a long-running server: up to ~58 MB of audio per 15-minute call."""
        scored = [c for c in self.calls.values() if c.status is CallStatus.SCORED]
        for old in scored[: max(0, len(scored) - self.settings.keep_recordings)]:
            old.rep_audio = bytearray()
            old.persona_audio = bytearray()

    def _live_call(self, call: Call, mode: Mode = BOOTH) -> LiveCall:
        live = LiveCall(
            call,
            mode=mode,
            settings=self.settings,
            voice=self.voice,
            watch=self.watch,
            global_faults=lambda: self.faults.socket,
            resume_tokens=self._resume_tokens,
            on_ended=self._on_ended,
        )
        self.live[call.call_id] = live
        return live

    # ── the WebSocket ─────────────────────────────────────────────────────────

    async def _websocket(self, request: web.Request) -> web.StreamResponse:
        # No server heartbeat: the client detects dead links (docs/protocol.md §3.9), and the
        # black-hole fault must be able to go quiet.
        ws = web.WebSocketResponse(heartbeat=None, autoping=True, max_msg_size=256 * 1024)
        await ws.prepare(request)
        try:
            msg = await asyncio.wait_for(ws.receive(), self.settings.auth_timeout)
        except TimeoutError:
            await self._refuse(ws, "AUTH_TIMEOUT", "no token within the time limit")
            return ws
        if msg.type != WSMsgType.TEXT:
            if msg.type == WSMsgType.BINARY:
                await self._refuse(ws, "INVALID_REQUEST", 'the first message must be {"token"}')
            return ws
        event = BOOTH.codec().parse(msg.data)
        if isinstance(event, Auth):
            live = await self._authenticate(ws, event.token)
            if live is not None:
                await live.serve(ws, request, resumed=False)
        elif isinstance(event, Resume):
            live = await self._resume(ws, event.resume_token)
            if live is not None:
                await live.serve(ws, request, resumed=True)
        else:
            await self._refuse(
                ws, "INVALID_REQUEST", 'the first message must be {"token"} or a resume'
            )
        return ws

    async def _seed003_websocket(self, request: web.Request) -> web.StreamResponse:
        """Seed 003 as published: ``{"token"}`` first, then binary frames; nothing else."""
        ws = web.WebSocketResponse(heartbeat=None, autoping=True, max_msg_size=256 * 1024)
        await ws.prepare(request)
        try:
            msg = await asyncio.wait_for(ws.receive(), self.settings.auth_timeout)
        except TimeoutError:
            await self._refuse(ws, "AUTH_TIMEOUT", "no token within the time limit", SEED003)
            return ws
        if msg.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
            return ws
        event = SEED003.codec().parse(msg.data)
        if not isinstance(event, Auth):
            await self._refuse(
                ws, "INVALID_REQUEST", 'the first message must be {"token"}', SEED003
            )
            return ws
        live = await self._admit_sdk(ws, event.token)
        if live is not None:
            await live.serve(ws, request, resumed=False)
        return ws

    async def _atoms_websocket(self, request: web.Request) -> web.StreamResponse:
        """The Atoms Agent WebSocket: a single-use ``wct_`` token in the query, checked before
        the upgrade (401, as the service answers); JSON events after."""
        token = request.query.get("token", "")
        try:
            if not token.startswith("wct_"):
                raise TokenProblem("INVALID_TOKEN", "Unauthorized: a wct_ token is required")
            claims = self.tokens.check(token.removeprefix("wct_"), KIND_ATOMS)
        except TokenProblem as problem:
            body = {"status": False, "errors": [problem.message]}
            return web.json_response(body, status=401)
        self.tokens.spend(claims)
        if self.faults.socket.upgrade_delays:
            await asyncio.sleep(self.faults.socket.upgrade_delays.pop(0))
        ws = web.WebSocketResponse(heartbeat=None, autoping=True, max_msg_size=256 * 1024)
        await ws.prepare(request)
        if self.max_live_calls is not None and self.live_call_count() >= self.max_live_calls:
            await self._refuse(ws, "503", "no agent is free; try again shortly", ATOMS)
            return ws
        drill_key = str(claims.extra.get("drillKey"))
        difficulty = str(claims.extra.get("difficulty") or "")
        call, _ = self.create_call(
            drill_key, difficulty, claims.subject, with_ticket=False, mode=ATOMS
        )
        await self._live_call(call, ATOMS).serve(ws, request, resumed=False)
        return ws

    async def _refuse(
        self, ws: web.WebSocketResponse, code: str, message: str, mode: Mode = BOOTH
    ) -> None:
        """An error in the dialect's words, then its close code for a fatal failure."""
        close = WSCloseCode.POLICY_VIOLATION if mode is BOOTH else mode.fatal_close
        with contextlib.suppress(Exception):
            for wire in mode.codec().encode(ServerError(code, message)):
                await ws.send_str(str(wire))
            await asyncio.wait_for(
                ws.close(code=close, message=code.encode()), self.settings.send_timeout
            )

    async def _authenticate(self, ws: web.WebSocketResponse, token: str) -> LiveCall | None:
        try:
            claims = self.tokens.check(token, KIND_TICKET)
        except TokenProblem as problem:
            await self._refuse(ws, problem.code, problem.message)
            return None
        self.tokens.spend(claims)
        call = self.calls.get(str(claims.extra.get("callId")))
        if call is None or call.status is not CallStatus.CREATED:
            await self._refuse(ws, "TOKEN_ALREADY_USED", "this call has already started")
            return None
        return self._live_call(call)

    async def _admit_sdk(self, ws: web.WebSocketResponse, token: str) -> LiveCall | None:
        try:
            claims = self.tokens.check(token, KIND_SDK)
        except TokenProblem as problem:
            await self._refuse(ws, problem.code, problem.message, SEED003)
            return None
        self.tokens.spend(claims)
        if self.max_live_calls is not None and self.live_call_count() >= self.max_live_calls:
            await self._refuse(ws, "SERVICE_UNAVAILABLE", "no persona is free", SEED003)
            return None
        drill_key = self.settings.default_drill  # seed 003 has no place to name a drill
        call, _ = self.create_call(drill_key, "", claims.subject, with_ticket=False, mode=SEED003)
        return self._live_call(call, SEED003)

    async def _resume(self, ws: web.WebSocketResponse, resume_token: str) -> LiveCall | None:
        call_id = self._resume_tokens.get(resume_token)
        live = self.live.get(call_id) if call_id else None
        if live is None:
            await self._refuse(ws, "RESUME_REJECTED", "unknown or expired resume token")
            return None
        ok, why = live.can_resume()
        if not ok:
            await self._refuse(ws, "RESUME_REJECTED", why)
            if why == "the resume window has passed":
                await live.end("network_lost", notify=False)
            return None
        return live
