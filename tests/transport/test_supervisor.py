"""The supervisor across outages, on virtual time: a fake dialler, fake links, no sockets.

Each scenario plays a whole outage (up to the 30 s cutoff) on
:class:`booth.sim.virtual_time.VirtualTimeLoop`, whose clock is also the supervisor's, so
every timestamp asserted here is the scenario's exact time and the file runs in milliseconds.

The fake network: a dial started while the network is down hangs like a black-holed SYN
(``OPEN_TIMEOUT``) and fails; one started while it is up opens after ``HANDSHAKE``. The live
link notices a drop ``DETECT`` after it (the link's silence watchdog) and dates it to the drop.
"""

from __future__ import annotations

import asyncio
import itertools
import random
from dataclasses import dataclass, field

import pytest

from booth.config import RECONNECT_CUTOFF_S
from booth.errors import ErrorCode
from booth.protocol.client import ClientProtocol
from booth.protocol.codec import encode_server, parse_client
from booth.protocol.messages import (
    FEATURE_END,
    FEATURE_RESUME,
    Audio,
    Auth,
    Connected,
    Resume,
    Resumed,
    ServerError,
)
from booth.sim.virtual_time import run
from booth.transport.link import LinkClosed, LinkError
from booth.transport.supervisor import (
    Closed,
    Message,
    Reconnected,
    Reconnecting,
    ReconnectPolicy,
    Supervisor,
    SupervisorEvent,
)

OPEN_TIMEOUT = 3.0
HANDSHAKE = 0.005
DETECT = 2.5
T0 = 10.0  # the drop, on the virtual clock (the call opens at ~0)

# Virtual time runs these in milliseconds; a loop that stops advancing it spins for real.
pytestmark = pytest.mark.timeout(10)


class FakeLink:
    """One WebSocket of the fake service: answers ``auth`` and ``resume`` as scripted."""

    def __init__(self, service: FakeService) -> None:
        self.service = service
        self.inbox: asyncio.Queue[str | bytes | LinkClosed] = asyncio.Queue()
        self.frames_sent = 0
        self.frames_dropped = 0
        self.alive = True

    def send_audio(self, frame: bytes) -> bool:
        self.frames_sent += 1
        return self.alive

    def send_text(self, message: str) -> bool:
        if not self.alive:
            return False
        match parse_client(message):
            case Auth():
                self.inbox.put_nowait(encode_server(self.service.connected()))
            case Resume():
                self.service.resumes += 1
                self.service.resume_asked.set()
                if self.service.resume_answer is not None:
                    self.inbox.put_nowait(encode_server(self.service.resume_answer))
        return True

    async def recv(self) -> str | bytes:
        item = await self.inbox.get()
        if isinstance(item, LinkClosed):
            self.inbox.put_nowait(item)
            raise item
        return item

    def die(self, reason: str, dropped_at: float) -> None:
        self.alive = False
        self.inbox.put_nowait(LinkClosed(reason, dropped_at=dropped_at))

    def abort(self) -> None:
        if self.alive:
            self.die("aborted", asyncio.get_running_loop().time())

    async def close(self) -> None:
        self.abort()


@dataclass
class FakeService:
    offers_resume: bool = True
    resume_answer: Resumed | ServerError | None = field(
        default_factory=lambda: Resumed(resume_token="rt-2")
    )
    down: tuple[float, float] | None = None  # [start, end) of the outage
    dials: list[float] = field(default_factory=list)
    links: list[FakeLink] = field(default_factory=list)
    resumes: int = 0
    resume_asked: asyncio.Event = field(default_factory=asyncio.Event)

    def connected(self) -> Connected:
        features = {FEATURE_END} | ({FEATURE_RESUME} if self.offers_resume else set())
        return Connected(
            session_id="s1",
            call_id="c1",
            resume_token="rt-1" if self.offers_resume else None,
            persona_name="Pat",
            features=frozenset(features),
        )

    def is_up(self, at: float) -> bool:
        return self.down is None or not self.down[0] <= at < self.down[1]

    async def dial(self) -> FakeLink:
        now = asyncio.get_running_loop().time()
        self.dials.append(now)
        if not self.is_up(now):
            await asyncio.sleep(OPEN_TIMEOUT)
            raise LinkError("cannot open the WebSocket: TimeoutError")
        await asyncio.sleep(HANDSHAKE)
        link = FakeLink(self)
        self.links.append(link)
        return link

    def outage(self, start: float, length: float) -> None:
        """The network goes down at ``start`` for ``length`` s; the live link notices later."""
        self.down = (start, start + length)
        live = self.links[-1]
        loop = asyncio.get_running_loop()
        loop.call_at(start + DETECT, live.die, f"no traffic for {DETECT:g} s", start)


class Call:
    """A supervisor on the fake service, recording what it reports."""

    def __init__(self, service: FakeService, *, seed: int = 1, **policy: float) -> None:
        self.service = service
        self.events: list[SupervisorEvent] = []
        self._news = asyncio.Event()
        self.policy = ReconnectPolicy(**policy)
        self.sup = Supervisor(
            ClientProtocol(),
            service.dial,
            self._listen,
            policy=self.policy,
            rng=random.Random(seed),
            clock=asyncio.get_running_loop().time,
        )

    def _listen(self, event: SupervisorEvent) -> None:
        self.events.append(event)
        self._news.set()

    async def open(self) -> None:
        connected = await self.sup.open("ticket-1")
        assert connected.call_id == "c1"

    async def next(self, kind: type[SupervisorEvent], within: float = 120.0) -> SupervisorEvent:
        """The first reported event of ``kind`` (waiting up to ``within`` virtual seconds)."""
        async with asyncio.timeout(within):
            while True:
                found = [e for e in self.events if isinstance(e, kind)]
                if found:
                    return found[0]
                self._news.clear()
                await self._news.wait()

    def kinds(self) -> list[type]:
        return [type(e) for e in self.events if not isinstance(e, Message)]


async def _outage(length: float, **service: object) -> Call:
    call = Call(FakeService(**service))  # type: ignore[arg-type]
    await call.open()
    call.service.outage(T0, length)
    await call.next(Closed if length >= RECONNECT_CUTOFF_S else Reconnected)
    return call


@pytest.mark.parametrize("length", [5.0, 15.0, 29.0])
def test_an_outage_shorter_than_the_cutoff_resumes_the_same_call(length: float) -> None:
    async def scenario() -> None:
        call = await _outage(length)
        reconnecting, reconnected = (e for e in call.events if not isinstance(e, Message))
        assert isinstance(reconnecting, Reconnecting)
        assert reconnecting.at == T0 + DETECT
        assert reconnecting.dropped_at == T0  # dated to the drop, not to its detection
        assert isinstance(reconnected, Reconnected)
        # Back within one capped backoff step (plus a handshake) of the network's return.
        assert T0 + length <= reconnected.at <= T0 + length + call.policy.cap + HANDSHAKE
        assert reconnected.outage == pytest.approx(reconnected.at - T0)
        assert call.service.resumes == 1
        assert call.sup.stats.reconnects == 1
        assert call.sup.stats.longest_outage == pytest.approx(reconnected.outage)
        # The call goes on, on the new link.
        assert call.sup.link is call.service.links[-1]
        assert call.sup.running
        await call.sup.close()
        assert call.kinds() == [Reconnecting, Reconnected, Closed]
        assert call.events[-1] == Closed(call.events[-1].at, "client_requested")

    run(scenario())


def test_an_outage_past_the_cutoff_is_network_lost_at_exactly_the_cutoff() -> None:
    async def scenario() -> None:
        call = await _outage(31.0)
        closed = call.events[-1]
        assert isinstance(closed, Closed)
        assert closed.code == ErrorCode.NETWORK_LOST
        assert closed.reason == "network_lost"
        assert closed.at == pytest.approx(T0 + RECONNECT_CUTOFF_S, abs=1e-6)
        assert call.kinds() == [Reconnecting, Closed]
        assert call.service.resumes == 0
        # Dialled right up to the cutoff, never after it; no attempt is left running.
        assert max(call.service.dials) < T0 + RECONNECT_CUTOFF_S
        assert max(call.service.dials) > T0 + RECONNECT_CUTOFF_S - call.policy.cap
        assert not call.sup.running
        assert call.sup.protocol.end_reason == "network_lost"
        assert [t for t in asyncio.all_tasks() if t.get_name() == "redial"] == []

    run(scenario())


def test_the_cutoff_comes_from_the_policy() -> None:
    async def scenario() -> None:
        call = Call(FakeService(), cutoff=5.0)
        await call.open()
        call.service.outage(T0, 6.0)
        closed = await call.next(Closed)
        assert closed.at == pytest.approx(T0 + 5.0, abs=1e-6)
        assert closed.code == ErrorCode.NETWORK_LOST

    run(scenario())


def test_backoff_first_dial_soon_then_jittered_steps_never_above_the_cap() -> None:
    async def scenario(seed: int) -> list[float]:
        call = Call(FakeService(), seed=seed)
        await call.open()
        dials_before = len(call.service.dials)
        call.service.outage(T0, 40.0)
        await call.next(Closed)
        policy = call.policy
        starts = call.service.dials[dials_before:]
        assert starts[0] == pytest.approx(T0 + DETECT + policy.first_delay)
        gaps = [b - a for a, b in itertools.pairwise(starts)]
        step = policy.base
        for gap in gaps:
            bound = min(step, policy.cap)
            assert bound / 2 - 1e-9 <= gap <= bound + 1e-9
            step *= policy.factor
        assert max(gaps) <= policy.cap + 1e-9
        return gaps

    runs = [run(scenario(seed)) for seed in range(5)]
    # Jittered: booths dropped together do not redial in lock-step.
    assert len({round(r[5], 6) for r in runs}) == len(runs)


def test_a_refused_resume_ends_the_call_with_the_services_code() -> None:
    async def scenario() -> None:
        call = Call(FakeService(resume_answer=ServerError("RESUME_REJECTED", "that call is gone")))
        await call.open()
        call.service.outage(T0, 5.0)
        closed = await call.next(Closed)
        assert closed == Closed(
            closed.at, "RESUME_REJECTED", "RESUME_REJECTED", "that call is gone"
        )
        assert T0 + 5.0 <= closed.at <= T0 + 5.0 + call.policy.cap + HANDSHAKE
        assert call.kinds() == [Reconnecting, Closed]
        assert call.service.resumes == 1
        assert call.sup.stats.reconnects == 0
        assert not call.sup.running

    run(scenario())


def test_a_service_without_resume_ends_the_call_at_the_drop() -> None:
    """No resume offered: NETWORK_LOST as soon as the drop is noticed, no Reconnecting (a
    booth must not announce a reconnect it cannot make), and not a single dial."""

    async def scenario() -> None:
        call = Call(FakeService(offers_resume=False))
        await call.open()
        dials_before = len(call.service.dials)
        call.service.outage(T0, 5.0)
        closed = await call.next(Closed)
        assert call.kinds() == [Closed]
        assert closed.code == ErrorCode.NETWORK_LOST
        assert closed.at == T0 + DETECT
        assert "no resume" in closed.message
        assert len(call.service.dials) == dials_before

    run(scenario())


def test_ending_the_call_during_an_outage_stops_reconnecting() -> None:
    async def scenario() -> None:
        call = Call(FakeService())
        await call.open()
        call.service.outage(T0, 20.0)
        reconnecting = await call.next(Reconnecting)
        await asyncio.sleep(4.0)  # scenario time: four seconds into the outage
        closing = asyncio.get_running_loop().time()
        await call.sup.close()
        closed = call.events[-1]
        assert isinstance(closed, Closed)
        assert closed.reason == "client_requested"
        assert closed.code is None  # not an error: the booth ended it
        assert closed.at == closing  # at once, not at the next backoff step
        assert call.kinds() == [Reconnecting, Closed]
        assert reconnecting.at == T0 + DETECT
        dials = len(call.service.dials)
        await asyncio.sleep(30.0)  # past the network's return and the cutoff
        assert len(call.service.dials) == dials
        assert call.kinds() == [Reconnecting, Closed]
        assert [t for t in asyncio.all_tasks() if t.get_name() == "redial"] == []

    run(scenario())


def test_a_resume_that_dies_keeps_dialling_until_one_succeeds() -> None:
    async def scenario() -> None:
        service = FakeService(resume_answer=None)  # the first resume is never answered
        call = Call(service)
        await call.open()
        service.outage(T0, 5.0)
        await call.next(Reconnecting)
        async with asyncio.timeout(40):
            await service.resume_asked.wait()
        first_resume_link = service.links[-1]
        service.resume_answer = Resumed(resume_token="rt-3")
        reconnected = await call.next(Reconnected)
        assert not first_resume_link.alive  # aborted when its resume timed out
        assert service.resumes == 2
        # The unanswered resume cost its timeout, then one more dial.
        assert reconnected.at >= T0 + 5.0 + call.policy.resume_timeout
        assert call.sup.protocol.resume_token == "rt-3"

    run(scenario())


def test_server_events_reach_the_listener_typed() -> None:
    async def scenario() -> None:
        call = Call(FakeService())
        await call.open()
        call.service.links[-1].inbox.put_nowait(b"\x01\x00" * 320)
        message = await call.next(Message)
        assert isinstance(message, Message)
        assert message.event == Audio(b"\x01\x00" * 320)
        await call.sup.close()
        assert call.kinds() == [Closed]

    run(scenario())
