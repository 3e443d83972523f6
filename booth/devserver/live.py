"""One call while it is live: the WebSocket(s) it runs over, the persona, turns, faults, resume.

A call outlives its sockets: an unexpected drop suspends it for the resume window, a resume
attaches a new socket to the same call, and the persona picks up where it stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Callable
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web

from booth.devserver.calls import Call, CallStatus, PersonaLine, Watch
from booth.devserver.faults import MALFORMED_MESSAGES, UNKNOWN_MESSAGES, SocketFaults
from booth.devserver.modes import BOOTH, CALL_RATE, Mode
from booth.devserver.settings import Settings
from booth.devserver.turns import RepTurn, TurnDetector
from booth.devserver.voice import Voice
from booth.logs import log_event, register_secret
from booth.protocol.messages import (
    FEATURE_END,
    FEATURE_INTERRUPTION,
    FEATURE_RESUME,
    FEATURE_TURN_END,
    AgentReady,
    AgentStartTalking,
    AgentStopTalking,
    Audio,
    Auth,
    Connected,
    End,
    Interruption,
    ProtocolError,
    Reserved,
    Resume,
    Resumed,
    ServerError,
    ServerEvent,
    SessionEnded,
    TextInput,
    Transcript,
    TurnEnd,
    Unknown,
)

FEATURES = frozenset({FEATURE_TURN_END, FEATURE_END, FEATURE_RESUME, FEATURE_INTERRUPTION})
TICK_S = 0.05
# A close frame with these codes is the client hanging up on purpose (the seed-003 page just
# closes); anything else (1006, 1011 keepalive timeout, no close at all) may be resumed.
CLEAN_CLOSE_CODES = frozenset({WSCloseCode.OK, WSCloseCode.GOING_AWAY})
MAX_ERRORS_PER_SOCKET = 5

_log = logging.getLogger("booth.devserver.live")


class _Socket:
    """One WebSocket attached to the call, with what the fault knobs need."""

    def __init__(self, ws: web.WebSocketResponse, request: web.Request, number: int) -> None:
        self.ws = ws
        self.transport = request.transport
        self.number = number
        self.opened = time.monotonic()
        self.blackholed = False
        self.dropped = False
        self.errors_sent = 0

    def abort(self) -> None:
        """Drop the connection without a close frame, as a network failure would."""
        self.dropped = True
        if self.transport is not None:
            self.transport.abort()


class LiveCall:
    def __init__(
        self,
        call: Call,
        *,
        settings: Settings,
        voice: Voice,
        watch: Watch,
        global_faults: Callable[[], SocketFaults],
        resume_tokens: dict[str, str],
        on_ended: Callable[[Call], None],
        mode: Mode = BOOTH,
    ) -> None:
        self.call = call
        self.mode = mode
        self.codec = mode.codec()
        self._inbound = mode.inbound()
        self._outbound = mode.outbound()
        self._ready = False  # the session is set up: client messages are taken
        self._persona_started = False
        self.settings = settings
        self.voice = voice
        self.watch = watch
        self._global_faults = global_faults
        self._resume_tokens = resume_tokens
        self._on_ended = on_ended
        self.detector = TurnDetector(
            threshold_dbfs=settings.speech_threshold_dbfs, silence_s=settings.silence_s
        )
        self.t0 = time.monotonic()
        self.resume_token: str | None = None
        self._socket: _Socket | None = None
        self._attached = asyncio.Event()  # a live socket is attached (speaker waits on it)
        self._send_lock = asyncio.Lock()
        self._lines: asyncio.Queue[str] = asyncio.Queue()
        self._speaking = False
        self._barge_in = asyncio.Event()
        self._rep_quiet = asyncio.Event()  # clear while the rep is mid-turn
        self._rep_quiet.set()
        self._reply_index = 0
        self._dropped_at: float | None = None
        self._tasks: list[asyncio.Task[Any]] = []
        self._unknown_seen: set[str] = set()
        self._finished = False

    # ── helpers ───────────────────────────────────────────────────────────────

    def now(self) -> float:
        """Seconds since the call started (its first socket)."""
        return time.monotonic() - self.t0

    @property
    def faults(self) -> SocketFaults:
        return self.call.faults or self._global_faults()

    @property
    def live(self) -> bool:
        return self.call.status in (CallStatus.LIVE, CallStatus.SUSPENDED)

    async def _send_raw(self, sock: _Socket, data: str | bytes) -> bool:
        if sock.blackholed or sock.dropped or sock.ws.closed:
            return False
        try:
            async with self._send_lock:
                send = (
                    sock.ws.send_bytes(data) if isinstance(data, bytes) else sock.ws.send_str(data)
                )
                await asyncio.wait_for(send, self.settings.send_timeout)
        except (ConnectionError, RuntimeError, TimeoutError, OSError):
            # A send that cannot complete means the link is gone: never block on it.
            sock.abort()
            return False
        return True

    async def send(self, event: ServerEvent, sock: _Socket | None = None) -> bool:
        """Send ``event`` as the dialect spells it (True when it has no such message)."""
        sock = sock or self._socket
        if sock is None:
            return False
        for message in self.codec.encode(event):
            if not await self._send_raw(sock, message):
                return False
        return True

    def _new_resume_token(self) -> str:
        if self.resume_token is not None:
            self._resume_tokens.pop(self.resume_token, None)
        token = secrets.token_urlsafe(24)
        register_secret(token)
        self._resume_tokens[token] = self.call.call_id
        self.resume_token = token
        return token

    # ── sockets ───────────────────────────────────────────────────────────────

    async def serve(
        self, ws: web.WebSocketResponse, request: web.Request, *, resumed: bool
    ) -> None:
        """Run ``ws`` for this call until it closes or is dropped."""
        previous = self._socket
        if previous is not None:
            # A resume on a new socket while the old one still looks open (black-holed, or the
            # server has not noticed the drop yet): the new one wins.
            previous.abort()
        self.call.sockets += 1
        sock = _Socket(ws, request, self.call.sockets)
        self._socket = sock
        self._dropped_at = None
        if not self._finished:
            self.call.status = CallStatus.LIVE
        if resumed:
            self.call.resumes += 1
            await self.send(Resumed(self._new_resume_token()), sock)
            await self._attach(sock, resumed=True)
        else:
            self.t0 = time.monotonic()
            if self.mode.setup_delay > 0:
                # The service sets the session up meanwhile; messages before it are refused.
                self._tasks.append(asyncio.create_task(self._open_later(sock)))
            else:
                await self._attach(sock, resumed=False)
        try:
            await self._read(sock)
        finally:
            await self._detach(sock)

    async def _open_later(self, sock: _Socket) -> None:
        await asyncio.sleep(self.mode.setup_delay)
        if sock is self._socket and not self._finished:
            await self._attach(sock, resumed=False)

    async def _attach(self, sock: _Socket, *, resumed: bool) -> None:
        if not resumed:
            connected = Connected(
                session_id=self.call.session_id,
                call_id=None if self.faults.hide_call_id else self.call.call_id,
                resume_token=self._new_resume_token() if self.mode.resume else None,
                persona_name=self.call.drill.persona_name,
                sample_rate=self.mode.wire_rate,
                features=FEATURES,
            )
            await self.send(connected, sock)
            await self.send(AgentReady(), sock)
        self._ready = True
        log_event(
            _log,
            logging.INFO,
            "call resumed" if resumed else "call connected",
            EVENT="resumed" if resumed else "connected",
            CALL_ID=self.call.call_id,
        )
        faults = self.faults
        extra: list[str | bytes] = []
        if faults.send_malformed:
            extra.extend(MALFORMED_MESSAGES)
        if faults.send_unknown:
            extra.extend(UNKNOWN_MESSAGES)
        extra.extend(faults.inject)
        for message in extra:
            await self._send_raw(sock, message)
        if not self._persona_started and not self._finished:
            self._persona_started = True
            self._tasks += [
                asyncio.create_task(self._speaker(), name=f"speaker {self.call.call_id}"),
                asyncio.create_task(self._ticker(), name=f"ticker {self.call.call_id}"),
            ]
            if self.settings.greet:
                self._lines.put_nowait(self.call.drill.opening)
        self._attached.set()
        self.watch.changed()

    async def _read(self, sock: _Socket) -> None:
        # Read until the socket closes, even once the call has ended: returning would make
        # aiohttp close the socket before end() has sent session_ended.
        while True:
            msg = await sock.ws.receive()
            if msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR):
                code = sock.ws.close_code
                if msg.type == WSMsgType.CLOSE and code in CLEAN_CLOSE_CODES and not sock.dropped:
                    hangup = "session_closed" if self.mode.resume else self.mode.drop_reason
                    await self.end(hangup, notify=False)
                return
            if sock.blackholed or sock is not self._socket:
                continue
            if msg.type not in (WSMsgType.BINARY, WSMsgType.TEXT):
                continue
            event = self.codec.parse(msg.data)
            if not self._ready:
                self._client_error(sock, "no_session", "the session is not ready yet")
            elif isinstance(event, End):
                await self.end("client_requested")
                return
            else:
                self._on_event(sock, event)

    def _on_event(self, sock: _Socket, event: Any) -> None:
        match event:
            case Audio(pcm=wire):
                pcm = self._inbound(wire)
                self.call.rep_audio.extend(pcm)
                self.call.frames_received += 1
                if self.detector.frame(pcm, self.now()):
                    self._rep_quiet.clear()
                    if self._speaking:
                        self._barge_in.set()
                self.watch.changed()
            case TurnEnd():
                turn = self.detector.turn_end()
                if turn is not None:
                    self._on_rep_turn(turn)
            case TextInput(text=text):
                # Text in place of speech: a rep turn like any other.
                turn = self.detector.turn_end()
                if turn is not None:
                    self._on_rep_turn(turn)
                now = self.now()
                self._on_rep_turn(RepTurn(now, now, 0.0))
                self._spawn_send(sock, Transcript("user", text))
            case Reserved():
                pass  # accepted and without effect, as the dialect defines it
            case Unknown(type=kind):
                if self.mode.unknown_is_error:
                    self._client_error(sock, self.mode.bad_message, f"unknown type {kind!r}")
                elif kind not in self._unknown_seen:
                    self._unknown_seen.add(kind)
                    log_event(_log, logging.INFO, f"ignored client message type {kind!r}")
            case ProtocolError(problem=problem):
                self._client_error(sock, self.mode.bad_message, problem)
            case Auth() | Resume():
                self._client_error(sock, self.mode.bad_message, "already authenticated")

    def _spawn_send(self, sock: _Socket, event: ServerEvent) -> None:
        self._tasks.append(asyncio.create_task(self.send(event, sock)))

    def _client_error(self, sock: _Socket, code: str, message: str) -> None:
        self.call.bad_messages += 1
        self.watch.changed()
        if sock.errors_sent < MAX_ERRORS_PER_SOCKET:
            sock.errors_sent += 1
            self._spawn_send(sock, ServerError(code, message))

    async def _detach(self, sock: _Socket) -> None:
        if self._socket is not sock:
            return  # replaced by a resumed socket
        self._socket = None
        self._attached.clear()
        if not self.mode.resume and not self._finished:
            # No resume in this dialect: the call cannot outlive its socket.
            await self.end(self.mode.drop_reason, notify=False)
        elif self.call.status is CallStatus.LIVE and not self._finished:
            # Not a hang-up: keep the call for the resume window.
            self.call.status = CallStatus.SUSPENDED
            self._dropped_at = time.monotonic()
            log_event(
                _log, logging.INFO, "call suspended", EVENT="dropped", CALL_ID=self.call.call_id
            )
        self.watch.changed()

    def can_resume(self) -> tuple[bool, str]:
        if self.faults.refuse_resume:
            return False, "resume refused (fault injection)"
        if not self.live:
            return False, "the call has ended"
        if self._dropped_at is not None and (
            time.monotonic() - self._dropped_at > self.settings.resume_window
        ):
            return False, "the resume window has passed"
        return True, ""

    # ── the persona ───────────────────────────────────────────────────────────

    def _on_rep_turn(self, turn: RepTurn) -> None:
        self._rep_quiet.set()
        self.call.rep_turns.append(turn)
        reply = self.call.drill.script(self.call.difficulty).reply(self._reply_index)
        self._reply_index += 1
        self._lines.put_nowait(reply)
        sock = self._socket
        if self.mode.transcripts and sock is not None:
            number = len(self.call.rep_turns)
            self._spawn_send(sock, Transcript("user", f"(rep turn {number})"))
        self.watch.changed()

    async def _speaker(self) -> None:
        while True:
            text = await self._lines.get()
            if self.call.rep_turns and self.settings.reply_delay > 0:
                await asyncio.sleep(self.settings.reply_delay)
            if self.detector.in_turn:
                # The rep started talking again while the persona was thinking: answer later.
                await self._wait_rep_quiet()
            pcm = await self.voice.render(text, self.call.drill.voice)
            await self._speak(text, pcm)

    async def _wait_rep_quiet(self) -> None:
        await self._rep_quiet.wait()

    async def _speak(self, text: str, pcm: bytes) -> None:
        await self._attached.wait()
        line = PersonaLine(text, self.now())
        self.call.persona_lines.append(line)
        self._barge_in.clear()
        self._speaking = True
        await self.send(AgentStartTalking())
        if self.mode.transcripts:
            await self.send(Transcript("assistant", text.split(" ", maxsplit=1)[0], final=False))
        self.watch.changed()
        loop = asyncio.get_running_loop()
        deadline = loop.time()
        chunk = round(CALL_RATE * self.mode.chunk_s) * 2
        spoken = 0
        try:
            for offset in range(0, len(pcm), chunk):
                if self._barge_in.is_set():
                    line.interrupted = True
                    self.call.interruptions += 1
                    await self.send(Interruption())
                    break
                if not self._attached.is_set():
                    await self._attached.wait()  # suspended: carry on after the resume
                    deadline = loop.time()
                frame = pcm[offset : offset + chunk]
                wire = self._outbound(frame)
                if wire and await self.send(Audio(wire)):
                    self.call.persona_audio.extend(frame)
                    self.call.frames_sent += 1
                    spoken += len(frame)
                    self.watch.changed()
                if not self.faults.flood:
                    deadline += len(frame) / 2 / CALL_RATE / self.mode.speed
                    delay = deadline - loop.time()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    elif delay < -0.5:
                        deadline = loop.time()  # fell behind (a stall): do not burst to catch up
                else:
                    await asyncio.sleep(0)
        finally:
            self._speaking = False
            line.end = self.now()
        await self.send(AgentStopTalking())
        if self.mode.transcripts:
            # What the rep heard: an interruption truncates the line.
            words = text.split(" ")
            heard = words[: max(1, round(len(words) * spoken / max(1, len(pcm))))]
            await self.send(Transcript("assistant", " ".join(heard)))
        self.watch.changed()

    @property
    def persona_stops(self) -> list[float]:
        return [line.end for line in self.call.persona_lines if line.end is not None]

    # ── time-driven behaviour ─────────────────────────────────────────────────

    async def _ticker(self) -> None:
        while not self._finished:
            await asyncio.sleep(TICK_S)
            turn = self.detector.poll(self.now())
            if turn is not None:
                self._on_rep_turn(turn)
            if self.now() >= self.settings.max_call_duration:
                await self.end("max_duration")
                return
            sock = self._socket
            if sock is not None and not sock.blackholed:
                self._socket_faults(sock)
                age = time.monotonic() - sock.opened
                end_after = self.faults.end_after
                if end_after is not None and age >= end_after:
                    await self.end(self.faults.end_reason)
                    return
                error_after = self.faults.error_after
                if error_after is not None and age >= error_after:
                    await self.fail(self.faults.error_code, "injected fatal error")
                    return
            window = self.settings.resume_window if self.mode.resume else 0.0
            if self._dropped_at is not None and time.monotonic() - self._dropped_at > window:
                lost = "network_lost" if self.mode.resume else self.mode.drop_reason
                await self.end(lost, notify=False)
                return

    def _socket_faults(self, sock: _Socket) -> None:
        faults = self.faults
        if faults.once and sock.number > 1:
            return
        age = time.monotonic() - sock.opened
        if faults.drop_after is not None and age >= faults.drop_after and not sock.dropped:
            log_event(_log, logging.INFO, "fault: dropping the socket", CALL_ID=self.call.call_id)
            sock.abort()
        if (
            faults.blackhole_after is not None
            and age >= faults.blackhole_after
            and not sock.blackholed
        ):
            log_event(
                _log, logging.INFO, "fault: black-holing the socket", CALL_ID=self.call.call_id
            )
            sock.blackholed = True
            # The client will reconnect: the resume window runs from now.
            self.call.status = CallStatus.SUSPENDED
            self._dropped_at = time.monotonic()
            if sock.transport is not None:
                sock.transport.pause_reading()  # nothing read: no pongs, the client's buffer fills
            self._attached.clear()
            self.watch.changed()

    # ── the end ───────────────────────────────────────────────────────────────

    async def fail(self, code: str, message: str) -> None:
        """A fatal error: ``error``, then close with the dialect's code (no session end)."""
        sock = self._socket
        if sock is not None and not self._finished:
            await self.send(ServerError(code, message), sock)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(
                    sock.ws.close(code=self.mode.fatal_close, message=code.encode()[:100]),
                    self.settings.send_timeout,
                )
        await self.end(code, notify=False)

    async def end(self, reason: str, *, notify: bool = True) -> None:
        """End the call (once): tell the client why, close, and hand the call to scoring."""
        if self._finished:
            return
        self._finished = True
        self.call.end_reason = reason
        self.call.duration_s = self.now()
        turn = self.detector.turn_end()
        if turn is not None:
            self.call.rep_turns.append(turn)
        current = asyncio.current_task()
        for task in self._tasks:
            if task is not current:
                task.cancel()
        for line in self.call.persona_lines:
            if line.end is None:
                line.end = self.now()
        sock = self._socket
        if sock is not None:
            if notify:
                await self.send(SessionEnded(reason), sock)
            if sock.blackholed:
                sock.abort()
            else:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(sock.ws.close(), self.settings.send_timeout)
                sock.abort()
        if self.resume_token is not None:
            self._resume_tokens.pop(self.resume_token, None)
        self._attached.set()  # release a speaker waiting for a socket
        log_event(
            _log,
            logging.INFO,
            f"call ended: {reason}",
            EVENT="ended",
            CALL_ID=self.call.call_id,
            DURATION_SEC=f"{self.call.duration_s:.1f}",
        )
        self._on_ended(self.call)
