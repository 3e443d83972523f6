"""`RoleplaySession`: the Python client API for a live roleplay call, mirroring the Athos SDK.

Needs no booth hardware: feed it 20 ms frames of s16le mono at :attr:`RoleplaySession.sample_rate`
(640 bytes at 16 kHz; 960 at 24 kHz for Atoms), read the persona's audio (same rate) from
:meth:`RoleplaySession.persona_audio`, and listen to the events of :mod:`booth.call_events`::

    session = RoleplaySession(api_url, api_key, "cold-call-skeptic", booth_id="booth-01")
    session.on("ready", lambda p: print("talking to", p["persona"]["name"]))
    await session.connect()
    session.send_audio(frame)
    async for pcm in session.persona_audio(): ...
    await session.end()

Every event carries ``at`` (the session's ``clock``, ``time.monotonic`` unless given), and
:attr:`RoleplaySession.events` keeps the whole timeline, so timings are read from the events
themselves.

Layers: the session owns the REST set-up and one :class:`~booth.transport.supervisor.Supervisor`,
which holds the WebSocket (:class:`~booth.transport.link.Link`) across drops and reports typed
supervisor events; the session turns them into :mod:`booth.call_events` for ``subscribe()``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import enum
import logging
import random
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Literal, TypeVar, overload

from booth import call_events as ev
from booth.audio.levels import VoiceActivity
from booth.audio.pcmqueue import PcmQueue
from booth.errors import BoothError, ErrorCode
from booth.events import Emitter, Listener
from booth.limits import CONNECT_DEADLINE, PERSONA_BUFFER, REST_REQUEST_DEADLINE
from booth.logs import log_event
from booth.protocol.client import Phase
from booth.protocol.dialects import client_protocol, traits
from booth.protocol.messages import (
    AgentReady,
    AgentStartTalking,
    AgentStopTalking,
    Audio,
    Connected,
    Interruption,
    ServerError,
    SessionEnded,
    Transcript,
)
from booth.secret import Secret
from booth.servicetext import clean
from booth.transport import supervisor as sv
from booth.transport.link import Link, LinkError, LinkRefused, LinkSettings
from booth.transport.probe import SessionProbe
from booth.transport.proxy import HttpProxy
from booth.transport.reconnect import CLIENT_REQUESTED
from booth.transport.rest import CallTicket, RestClient, RestError
from booth.transport.supervisor import ConnectRefused, ReconnectPolicy, Supervisor

log = logging.getLogger(__name__)

# An HTTP status on the WebSocket upgrade, as the error the booth reports.
_REFUSED = {
    401: ErrorCode.INVALID_TOKEN,
    403: ErrorCode.IP_NOT_ALLOWED,
    429: ErrorCode.RATE_LIMITED,
    503: ErrorCode.SERVICE_UNAVAILABLE,
}

#: The end reason of a session whose connect() failed (its CallFailed says why).
CONNECT_FAILED = "connect_failed"

E = TypeVar("E", bound=ev.CallEvent)


class SessionState(enum.StrEnum):
    """Where a session is, as its user sees it (compares equal to its string value).

    The link's own detail (dialling, resuming) lives in the supervisor's reconnect plan;
    the protocol's (authenticating, open, resuming) in ``ClientProtocol.phase``.
    """

    #: Made, not yet connected: ``connect()`` may be called once.
    IDLE = "idle"
    #: ``connect()`` runs: the REST set-up, the first dial, waiting for ``connected``.
    CONNECTING = "connecting"
    #: On the line: frames are sent and persona audio arrives.
    OPEN = "open"
    #: The link dropped; frames are dropped until ``Reconnected`` or ``Ended``.
    RECONNECTING = "reconnecting"
    #: Over, for whatever reason (``end_reason``); ``Ended`` has been reported.
    ENDED = "ended"


@dataclass(frozen=True)
class SessionStats:
    frames_sent: int
    frames_received: int
    frames_dropped: int
    frames_muted: int
    persona_audio_dropped: int
    reconnects: int
    longest_outage: float
    protocol_errors: int


class RoleplaySession:
    """One roleplay call: REST set-up, the WebSocket across drops, events, audio in and out."""

    def __init__(
        self,
        api_url: str,
        api_key: str | Secret,
        drill_key: str,
        *,
        difficulty: str | None = None,
        booth_id: str = "booth-01",
        protocol: str = "booth",
        agent_id: str | None = None,
        flow: Literal["athos", "sdk-token"] = "athos",
        reconnect_cutoff: float | None = None,
        request_timeout: float = REST_REQUEST_DEADLINE,
        connect_deadline: float = CONNECT_DEADLINE,
        link_settings: LinkSettings | None = None,
        reconnect_policy: ReconnectPolicy | None = None,
        persona_buffer_bytes: int = PERSONA_BUFFER.value,
        rng: random.Random | None = None,
        route: Callable[[str], str] | None = None,
        clock: Callable[[], float] = time.monotonic,
        probe: SessionProbe | None = None,
        proxy: HttpProxy | None = None,
    ) -> None:
        """``route`` maps the service's WebSocket URL to the one dialled (tests and the bench
        send it through a fault proxy); the URL policy applies to the result.

        ``reconnect_cutoff`` overrides the policy's cutoff (default: ``call.reconnect_cutoff``'s
        default, :data:`booth.config.RECONNECT_CUTOFF_S`). ``clock`` stamps every event and
        drives the reconnect plan; it must be the event loop's clock. ``probe`` (also settable
        as :attr:`probe` before ``connect()``) hears of frames sent and persona audio received.

        ``protocol`` is the dialect (``booth``, ``seed003``, ``atoms``; docs/protocol.md §6);
        ``agent_id`` is the Atoms agent. ``flow="sdk-token"`` is the older name of ``seed003``.
        """
        self.api_url = api_url
        self._api_key = api_key
        self.drill_key = drill_key
        self.difficulty = difficulty or None
        self.booth_id = booth_id
        if flow == "sdk-token" and protocol == "booth":
            protocol = "seed003"
        self.traits = traits(protocol)
        if protocol == "atoms" and not agent_id:
            raise ValueError("the atoms protocol needs an agent_id")
        self.agent_id = agent_id
        self.link_settings = link_settings or LinkSettings()
        policy = reconnect_policy or ReconnectPolicy()
        if reconnect_cutoff is not None:
            policy = dataclasses.replace(policy, cutoff=reconnect_cutoff)
        self.reconnect_policy = policy
        self.request_timeout = request_timeout
        self.connect_deadline = connect_deadline
        self._rng = rng or random.Random()  # noqa: S311 (jitter, not secrets)
        self._route = route
        self.proxy = proxy  # HTTP CONNECT proxy for REST and the WebSocket; None: direct
        self._emitter = Emitter()
        self.events: list[ev.CallEvent] = []
        self._subscribers: list[Callable[[ev.CallEvent], object]] = []
        self._clock = clock
        #: Optional probe hooks (benches): None costs one test per frame.
        self.probe = probe
        self.state = SessionState.IDLE
        self.protocol = client_protocol(protocol)
        self._supervisor: Supervisor | None = None
        self._ticket: CallTicket | None = None
        self.call_id: str | None = None
        self.session_id: str | None = None
        self.persona_name: str | None = None
        self.muted = False
        self._user = VoiceActivity()
        self._persona_speaking = False
        self._persona_markers = False
        self._persona_quiet: asyncio.TimerHandle | None = None
        self._audio = PcmQueue(persona_buffer_bytes)
        self._connected_at: float | None = None
        self._ended = asyncio.Event()
        self._end_reason: str | None = None
        self._frames_dropped = 0
        self._frames_muted = 0

    # ── events (Athos SDK shape) ────────────────────────────────────────────────

    def on(self, name: str, callback: Listener) -> Callable[[], None]:
        """Subscribe; returns the unsubscribe function."""
        return self._emitter.on(name, callback)

    def off(self, name: str, callback: Listener | None = None) -> None:
        self._emitter.off(name, callback)

    def subscribe(self, callback: Callable[[ev.CallEvent], object]) -> Callable[[], None]:
        """Get every :mod:`booth.call_events` event of this call, in order; returns the
        unsubscribe function. A failing callback is logged and never stops the others."""
        self._subscribers.append(callback)

        def unsubscribe() -> None:
            if callback in self._subscribers:
                self._subscribers.remove(callback)

        return unsubscribe

    def _tell(self, event: ev.CallEvent) -> None:
        self.events.append(event)
        for callback in list(self._subscribers):
            try:
                callback(event)
            except Exception:
                log.exception("subscriber failed on %s", type(event).__name__)
        self._emitter.emit(event.name, event.payload())

    @overload
    def first(self, kind: type[E], after: float = ...) -> E | None: ...

    @overload
    def first(self, kind: str, after: float = ...) -> ev.CallEvent | None: ...

    def first(
        self, kind: type[ev.CallEvent] | str, after: float = float("-inf")
    ) -> ev.CallEvent | None:
        """The first event of ``kind`` (a :mod:`booth.call_events` class, or its SDK name)
        at or after ``after``."""
        if isinstance(kind, str):
            return next((e for e in self.events if e.name == kind and e.at >= after), None)
        return next((e for e in self.events if isinstance(e, kind) and e.at >= after), None)

    async def wait_for(self, kind: type[E], after: float = float("-inf")) -> E:
        """The first ``kind`` event at or after ``after``, waiting for it if it has not come
        yet (bound the wait with ``asyncio.timeout``)."""
        arrived = asyncio.Event()
        off = self.subscribe(lambda event: arrived.set() if isinstance(event, kind) else None)
        try:
            while (found := self.first(kind, after)) is None:
                arrived.clear()
                await arrived.wait()
        finally:
            off()
        return found

    # ── connecting ──────────────────────────────────────────────────────────────

    async def connect(self) -> None:
        """Redeem a call and join it within ``connect_deadline``. Raises :class:`BoothError`
        (also reported as CallFailed, then Ended: a failed connect always ends the session)."""
        if self.state is not SessionState.IDLE:
            raise RuntimeError(f"connect() while {self.state}")
        self.state = SessionState.CONNECTING
        self._tell(ev.Connecting(at=self._clock()))
        try:
            async with asyncio.timeout(self.connect_deadline):
                connected, supervisor = await self._open()
        except RestError as exc:
            self._fail(exc.code, exc.message)
            raise
        except ConnectRefused as exc:
            self._fail(exc.code, exc.message)
            raise BoothError(exc.code, exc.message) from None
        except LinkRefused as exc:
            code = _REFUSED.get(exc.status, ErrorCode.INTERNAL_ERROR)
            self._fail(code, str(exc))
            raise BoothError(code, str(exc)) from None
        except (LinkError, TimeoutError) as exc:
            message = clean(exc) or f"no call within {self.connect_deadline:g} s"
            self._fail(ErrorCode.NETWORK_LOST, message)
            raise BoothError(ErrorCode.NETWORK_LOST, message) from None
        except asyncio.CancelledError:
            self._on_closed(sv.Closed(self._clock(), CLIENT_REQUESTED))
            raise
        except Exception as exc:  # a bug, not the service: still a typed end, then the bug
            self._fail(ErrorCode.INTERNAL_ERROR, f"{type(exc).__name__}: {clean(exc)}")
            raise
        self._supervisor = supervisor
        self.state = SessionState.OPEN
        self._connected_at = self._clock()
        self.call_id = connected.call_id or self.call_id
        self.session_id = connected.session_id or self.session_id
        self.persona_name = connected.persona_name or self.persona_name
        log_event(
            log,
            logging.INFO,
            "call connected",
            EVENT="connected",
            CALL_ID=self.call_id,
            SESSION_ID=self.session_id,
        )
        if self.protocol.agent_ready:  # agent_ready arrived with or before `connected`
            self._emit_ready()

    async def _start(self, rest: RestClient) -> CallTicket:
        """The dialect's REST set-up: where to open the WebSocket, with what."""
        match self.traits.name:
            case "seed003":  # no body: the seed has no place for a drill or a difficulty
                return await rest.sdk_token()
            case "atoms":
                assert self.agent_id is not None
                variables = {"difficulty": self.difficulty} if self.difficulty else None
                return await rest.register_call(self.agent_id, variables)
        return await rest.start_call(self.booth_id, self.drill_key, self.difficulty)

    async def _open(self) -> tuple[Connected, Supervisor]:
        """The REST set-up, dial and wait for ``connected`` (the deadline is the caller's).

        Where the dial spends the ticket (Atoms), the supervisor asks for a fresh one before
        it dials again: the spent one would only earn a 401.
        """
        async with RestClient(
            self.api_url,
            self._api_key,
            timeout=self.request_timeout,
            rng=self._rng,
            proxy=self.proxy,
        ) as rest:

            async def new_ticket() -> str:
                ticket = await self._start(rest)
                self._ticket = ticket
                self.call_id = ticket.call_id
                self.session_id = ticket.session_id
                self.persona_name = ticket.persona_name
                return ticket.connection_ticket

            first = await new_ticket()
            supervisor = Supervisor(
                self.protocol,
                self._dial,
                self._on_supervisor,
                policy=self.reconnect_policy,
                rng=self._rng,
                clock=self._clock,
            )
            return await supervisor.open(first, renew=new_ticket), supervisor

    async def _dial(self) -> Link:
        assert self._ticket is not None
        url = self.protocol.connect_url(self._ticket.connection_url, self._ticket.connection_ticket)
        if self._route is not None:
            url = self._route(url)
        return await Link.open(
            url, self.link_settings, clock=self._clock, probe=self.probe, proxy=self.proxy
        )

    def resume_point(self) -> tuple[str, str] | None:
        """(WebSocket URL, resume token) while the call can be resumed: what a restarted
        process needs to end this call should this one die."""
        token = self.protocol.resume_token
        if self._ticket is None or not token or self.state is SessionState.ENDED:
            return None
        url = self._ticket.connection_url
        return (self._route(url) if self._route is not None else url, token)

    def _fail(self, code: str, message: str) -> None:
        self._on_closed(sv.Closed(self._clock(), CONNECT_FAILED, str(code), message))

    def _emit_ready(self) -> None:
        self._tell(
            ev.Ready(
                at=self._clock(),
                persona_name=self.persona_name or "",
                call_id=self.call_id,
                session_id=self.session_id,
            )
        )

    # ── what the supervisor reports ─────────────────────────────────────────────

    def _on_supervisor(self, event: sv.SupervisorEvent) -> None:
        match event:
            case sv.Message(event=message):
                self._on_message(message)
            case sv.Reconnecting(at=at, reason=reason, dropped_at=dropped_at):
                self.state = SessionState.RECONNECTING
                self._set_persona_speaking(False)
                self._tell(ev.Reconnecting(at=at, reason=reason, dropped_at=dropped_at))
            case sv.Reconnected(at=at, outage=outage):
                self.state = SessionState.OPEN
                self._tell(ev.Reconnected(at=at, outage=outage, call_id=self.call_id))
            case sv.Closed():
                self._on_closed(event)

    def _on_message(self, event: object) -> None:
        match event:
            case Audio(pcm=pcm):
                if self.probe is not None:
                    self.probe.persona_audio_received(pcm, self._clock())
                self._push_persona_audio(pcm)
                if not self._persona_markers:
                    self._set_persona_speaking(True)
                    self._arm_persona_quiet()
            case AgentReady():
                if self.state is SessionState.OPEN:
                    self._emit_ready()
            case AgentStartTalking():
                self._persona_markers = True
                self._set_persona_speaking(True)
            case AgentStopTalking():
                self._persona_markers = True
                self._set_persona_speaking(False)
            case Interruption():
                flushed = self.flush_persona_audio()
                self._set_persona_speaking(False)
                self._tell(ev.Interruption(at=self._clock(), flushed_chunks=flushed))
            case ServerError(code=code, message=message):
                self._tell(ev.CallFailed(at=self._clock(), code=code, message=message))
            case Transcript(role=role, text=text, final=final):
                self._tell(ev.Transcript(at=self._clock(), role=role, text=text, final=final))
            case SessionEnded():
                pass  # the supervisor reports `closed` next

    def _on_closed(self, closed: sv.Closed) -> None:
        if self.state is SessionState.ENDED:
            return
        if closed.code is not None:
            self._tell(ev.CallFailed(at=closed.at, code=closed.code, message=closed.message))
        self.state = SessionState.ENDED
        self._set_persona_speaking(False)
        self._user_quiet()
        self._end_reason = closed.reason
        duration = self._clock() - self._connected_at if self._connected_at else 0.0
        stats = self.stats
        log_event(
            log,
            logging.INFO,
            f"call ended ({self._end_reason})",
            EVENT="ended",
            CALL_ID=self.call_id,
            DURATION_SEC=round(duration, 1),
            RECONNECTS=stats.reconnects,
        )
        self._tell(
            ev.Ended(
                at=self._clock(), reason=self._end_reason, call_id=self.call_id, duration=duration
            )
        )
        self._audio_close()
        self._ended.set()

    # ── persona audio ───────────────────────────────────────────────────────────

    def _push_persona_audio(self, pcm: bytes) -> None:
        self._audio.put(pcm)  # bounded in bytes: a stalled reader loses the oldest audio

    def _audio_close(self) -> None:
        self._audio.close()

    async def persona_audio(self, *, turn_ends: bool = False) -> AsyncIterator[bytes]:
        """PCM s16le mono at :attr:`sample_rate` as it arrives; ends when the call ends.

        ``turn_ends``: also an empty chunk where a persona turn ended, in order with its audio
        (a player that holds audio back, as the booth does when it comes faster than real time,
        marks the end of the turn when it reaches it, not when the service said so)."""
        while (chunk := await self._audio.get()) is not None:
            if chunk or turn_ends:
                yield chunk

    def flush_persona_audio(self) -> int:
        """Drop persona audio not yet read (barge-in, `interruption`); returns chunks dropped."""
        return self._audio.flush()

    def _set_persona_speaking(self, speaking: bool) -> None:
        if self._persona_quiet is not None and not speaking:
            self._persona_quiet.cancel()
            self._persona_quiet = None
        if speaking != self._persona_speaking:
            self._persona_speaking = speaking
            if not speaking:
                self._push_persona_audio(b"")  # the turn's end, in order with its audio
            self._tell(ev.PersonaSpeaking(at=self._clock(), speaking=speaking))

    def _arm_persona_quiet(self) -> None:
        # Without turn markers, 400 ms without persona audio means it stopped speaking.
        if self._persona_quiet is not None:
            self._persona_quiet.cancel()
        loop = asyncio.get_running_loop()
        self._persona_quiet = loop.call_later(0.4, self._set_persona_speaking, False)

    # ── rep audio and controls ──────────────────────────────────────────────────

    def _user_quiet(self) -> None:
        if self._user.speaking:
            self._user.reset()
            self._tell(ev.UserSpeaking(at=self._clock(), speaking=False))
        else:
            self._user.reset()

    def mute(self) -> None:
        self.muted = True
        self._user_quiet()

    def unmute(self) -> None:
        self.muted = False
        if self.probe is not None:
            self.probe.mic_opened(self._clock())

    @property
    def frame_bytes(self) -> int:
        """Bytes of one 20 ms frame for :meth:`send_audio`."""
        return self.protocol.frame_bytes

    @property
    def silence_while_muted(self) -> bool:
        """Whether muted frames are sent as silence (Atoms: the service must hear the rep
        stop), so the mic has to keep delivering them."""
        return self.traits.idle_silence

    def send_audio(self, frame: bytes) -> bool:
        """Send one 20 ms frame (:attr:`frame_bytes`); False if it was dropped (muted, offline
        or backlogged). While muted, a dialect whose service detects turns by itself (Atoms)
        gets silence instead: the service must hear the rep stop.

        Never blocks. Call it on the session's event loop (from an audio thread, hand frames
        over with ``loop.call_soon_threadsafe``)."""
        if len(frame) != self.protocol.frame_bytes:
            raise ValueError(
                f"frames are exactly {self.protocol.frame_bytes} bytes, got {len(frame)}"
            )
        if self.protocol.phase is Phase.ENDED:
            return False  # the call is over: nothing to drop, nothing to count
        if self.muted:
            self._frames_muted += 1
            if not self.traits.idle_silence:
                return False
            frame = bytes(len(frame))
        else:
            change = self._user.update(frame)
            if change is not None:
                self._tell(ev.UserSpeaking(at=self._clock(), speaking=change))
        link = self._supervisor.link if self._supervisor else None
        if self.state is not SessionState.OPEN or link is None or not self.protocol.is_open:
            self._frames_dropped += 1
            return False
        return link.send_audio(self.protocol.audio_message(frame))

    def turn_end(self) -> bool:
        """Tell the service the rep released the talk button (if it supports that)."""
        self._user_quiet()
        message = self.protocol.turn_end()
        link = self._supervisor.link if self._supervisor else None
        if message is None or link is None or self.state is not SessionState.OPEN:
            return False
        return link.send_text(message)

    async def end(self, grace: float = 2.0) -> None:
        """End the call: ``{"type":"end"}`` if supported, wait briefly for ``session_ended``."""
        if self.state is SessionState.ENDED or self._supervisor is None:
            return
        message = self.protocol.end()
        link = self._supervisor.link
        if message is not None and link is not None and self.state is SessionState.OPEN:
            link.send_text(message)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(grace):
                    await self._ended.wait()
        await self.disconnect()

    async def disconnect(self) -> None:
        """Leave now: close the link (bounded) and emit ``ended`` if not yet."""
        if self._supervisor is not None:
            await self._supervisor.close()
        if self.state is not SessionState.ENDED:
            self._on_closed(sv.Closed(self._clock(), CLIENT_REQUESTED))

    async def wait_ended(self) -> str | None:
        """Wait for the call to end (wrap in ``asyncio.timeout``); returns its reason."""
        await self._ended.wait()
        return self._end_reason

    @property
    def sample_rate(self) -> int:
        """Rate of the audio both ways: 16000, or 24000 for Atoms (whatever the wire says, the
        dialect resamples at the edge)."""
        return self.protocol.audio_rate

    @property
    def end_reason(self) -> str | None:
        return self._end_reason

    # ── counters ────────────────────────────────────────────────────────────────

    @property
    def stats(self) -> SessionStats:
        sup = self._supervisor
        link = sup.link if sup else None
        link_stats = sup.stats if sup else None
        return SessionStats(
            frames_sent=(link_stats.frames_sent if link_stats else 0)
            + (link.frames_sent if link else 0),
            frames_received=link_stats.frames_received if link_stats else 0,
            frames_dropped=self._frames_dropped
            + (link_stats.frames_dropped if link_stats else 0)
            + (link.frames_dropped if link else 0),
            frames_muted=self._frames_muted,
            persona_audio_dropped=self._audio.dropped,
            reconnects=link_stats.reconnects if link_stats else 0,
            longest_outage=link_stats.longest_outage if link_stats else 0.0,
            protocol_errors=link_stats.protocol_errors if link_stats else 0,
        )
