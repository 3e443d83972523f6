"""One WebSocket connection to the voice service: a thin adapter over ``websockets`` (asyncio).

What the library's defaults do not give a booth on Wi-Fi:

- dead-link detection within ~3 s: short pings keep inbound traffic flowing on a healthy link,
  a watchdog aborts the transport after ``silence_timeout`` without a single inbound byte (a
  black-holed link never resets), and ``TCP_USER_TIMEOUT`` lets the kernel give up on unacked
  data too;
- sends that never block the loop: messages go through a writer task; mic frames are dropped
  (and counted) while the socket's write buffer is backlogged; a send that stalls past
  ``send_timeout`` kills the link;
- a close bounded by ``close_timeout``, after which the transport is aborted.

Time comes from the ``clock`` given to :meth:`Link.open` (``time.monotonic`` by default): the
watchdog's input, and every ``dropped_at``. The waits run on the event loop's own clock.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import inspect
import logging
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI
from websockets.uri import parse_uri

from booth.limits import WS_MESSAGE
from booth.servicetext import clean
from booth.transport.probe import LinkProbe
from booth.transport.proxy import HttpProxy, ProxyError, open_tunnel
from booth.transport.tls import client_context
from booth.transport.urlpolicy import WS_SCHEMES, check_url_allowed

log = logging.getLogger(__name__)

# websockets logs whole frames at DEBUG (tickets and resume tokens, truncated but partly
# readable). Its logger for our links never goes below INFO, whatever the root level.
_wire_log = logging.getLogger("booth.transport.wire")
_wire_log.setLevel(logging.INFO)

# websockets >= 15 honours $https_proxy & co. by default; a booth dials its service directly.
_NO_PROXY: dict[str, Any] = (
    {"proxy": None} if "proxy" in inspect.signature(connect.__init__).parameters else {}
)

# The most a WebSocket frame adds to its payload: 2-10 bytes of header and a 4-byte mask.
_FRAME_OVERHEAD = 14

# Linux: ms a socket may hold unacknowledged data before the kernel drops the connection.
TCP_USER_TIMEOUT = getattr(socket, "TCP_USER_TIMEOUT", 18)


@dataclass(frozen=True)
class LinkSettings:
    open_timeout: float = 3.0  # TCP + TLS + WebSocket handshake
    ping_interval: float | None = 1.0
    ping_timeout: float | None = 2.0
    silence_timeout: float | None = 2.5  # watchdog: no inbound byte for this long = dead
    watchdog_period: float = 0.1  # the watchdog's shortest sleep (its resolution)
    tcp_user_timeout: float | None = 3.0
    close_timeout: float = 1.0
    send_timeout: float = 2.0
    write_guard: int = 16 * 1024  # bytes queued in the socket before mic frames are dropped
    max_pending: int = 50  # messages waiting for the writer task (1 s of mic audio)
    max_size: int = WS_MESSAGE.value  # largest inbound message (codec caps audio at 96 kB)
    max_queue: int = 64  # inbound messages buffered before reading pauses

    @classmethod
    def library_defaults(cls) -> LinkSettings:
        """``websockets``' own keepalive and timeouts, nothing added (the bench's baseline)."""
        return cls(
            open_timeout=10.0,
            ping_interval=20.0,
            ping_timeout=20.0,
            silence_timeout=None,
            tcp_user_timeout=None,
            close_timeout=10.0,
            send_timeout=3600.0,
            write_guard=1 << 30,
            max_pending=1 << 30,
            max_size=1 << 20,
            max_queue=16,
        )


class LinkError(Exception):
    """The link could not be opened or is gone. Never carries a secret."""


class LinkRefused(LinkError):
    """The service refused the WebSocket upgrade with an HTTP status: dialling again with the
    same credentials cannot help."""

    def __init__(self, status: int) -> None:
        super().__init__(f"the service refused the WebSocket (HTTP {status})")
        self.status = status


class LinkClosed(LinkError):
    def __init__(self, reason: str, *, dropped_at: float, code: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.dropped_at = dropped_at  # monotonic: best estimate of when the link died
        self.code = code  # WebSocket close code when the peer sent one


Clock = Callable[[], float]


class _StampedConnection(ClientConnection):
    """Records when the last inbound bytes arrived (pongs included): the watchdog's input."""

    last_rx: float = 0.0
    clock: Clock = staticmethod(time.monotonic)

    def data_received(self, data: bytes) -> None:
        self.last_rx = self.clock()
        super().data_received(data)


def _stamped_by(clock: Clock) -> type[_StampedConnection]:
    """The connection class stamping with ``clock`` (websockets builds the connection itself)."""
    if clock is time.monotonic:
        return _StampedConnection
    return type("_StampedConnection", (_StampedConnection,), {"clock": staticmethod(clock)})


class Link:
    """An open WebSocket. Create with :meth:`open`; read with :meth:`recv`."""

    def __init__(
        self,
        ws: _StampedConnection,
        settings: LinkSettings,
        *,
        clock: Clock = time.monotonic,
        probe: LinkProbe | None = None,
    ) -> None:
        self._ws = ws
        self.settings = settings
        self._clock = clock
        self._probe = probe
        # (message, is_audio): a dialect may carry audio as text (Atoms' base64 JSON).
        self._pending: collections.deque[tuple[str | bytes, bool]] = collections.deque()
        self._wakeup = asyncio.Event()
        self._drained = asyncio.Event()
        self._drained.set()
        self._dead: LinkClosed | None = None
        self.frames_sent = 0
        self.frames_dropped = 0
        ws.last_rx = clock()
        self._writer = asyncio.create_task(self._write_loop(), name="link-writer")
        self._watchdog: asyncio.Task[None] | None = None
        if settings.silence_timeout is not None:
            self._watchdog = asyncio.create_task(self._watch(), name="link-watchdog")

    @classmethod
    async def open(
        cls,
        url: str,
        settings: LinkSettings | None = None,
        *,
        clock: Clock = time.monotonic,
        probe: LinkProbe | None = None,
        proxy: HttpProxy | None = None,
    ) -> Link:
        """Dial ``url``, directly or through an HTTP CONNECT tunnel when ``proxy`` is set.
        ``probe`` (optional) hears of each binary message handed to the connection; ``clock``
        stamps inbound traffic and drops."""
        settings = settings or LinkSettings()
        problem = check_url_allowed(url, WS_SCHEMES)
        if problem:
            raise LinkError(problem)
        try:
            async with asyncio.timeout(settings.open_timeout):
                ws = await _connect(url, settings, _stamped_by(clock), proxy)
        except ProxyError as exc:
            raise LinkError(f"cannot open the WebSocket: {exc}") from None
        except InvalidStatus as exc:
            # The service answered the upgrade with an HTTP status (401: a bad or spent token).
            status = exc.response.status_code
            raise LinkRefused(status) from None
        except (OSError, TimeoutError, InvalidHandshake, InvalidURI) as exc:
            # The exception text names the host and the failure, never a header or token.
            via = f" (through proxy {proxy.address})" if proxy is not None else ""
            raise LinkError(
                f"cannot open the WebSocket{via}: {type(exc).__name__}: {clean(exc)}"
            ) from None
        assert isinstance(ws, _StampedConnection)
        if settings.tcp_user_timeout is not None:
            _set_tcp_user_timeout(ws, settings.tcp_user_timeout)
        return cls(ws, settings, clock=clock, probe=probe)

    # ── state ─────────────────────────────────────────────────────────────────

    @property
    def last_rx(self) -> float:
        return self._ws.last_rx

    @property
    def is_alive(self) -> bool:
        return self._dead is None

    def write_buffer_size(self) -> int:
        transport = self._ws.transport
        return 0 if transport.is_closing() else transport.get_write_buffer_size()

    # ── sending (never blocks the caller) ───────────────────────────────────────

    def send_audio(self, frame: str | bytes) -> bool:
        """Queue a mic frame (binary, or a dialect's text message carrying one); False
        (dropped and counted) while the link is backlogged."""
        if (
            self._dead is not None
            or len(self._pending) >= self.settings.max_pending
            or self.write_buffer_size() > self.settings.write_guard
        ):
            self.frames_dropped += 1
            return False
        self._pending.append((frame, True))
        self._drained.clear()
        self._wakeup.set()
        return True

    def send_text(self, message: str) -> bool:
        """Queue a control message (never dropped for backlog; False if the link is dead)."""
        if self._dead is not None:
            return False
        self._pending.append((message, False))
        self._drained.clear()
        self._wakeup.set()
        return True

    async def _write_loop(self) -> None:
        try:
            while True:
                while not self._pending:
                    self._drained.set()
                    self._wakeup.clear()
                    await self._wakeup.wait()
                message, is_audio = self._pending.popleft()
                if self._probe is not None and isinstance(message, bytes):
                    self._probe.frame_sent(message, self._clock())
                try:
                    if self._cannot_block(len(message)):
                        await self._ws.send(message)
                    else:
                        async with asyncio.timeout(self.settings.send_timeout):
                            await self._ws.send(message)
                except TimeoutError:
                    self._kill("send stalled", dropped_at=self._clock())
                    return
                except ConnectionClosed:
                    return
                if is_audio:
                    self.frames_sent += 1
        except asyncio.CancelledError:
            raise
        except Exception:  # an adapter bug must end this link, not the loop
            log.exception("link writer failed")
            self._kill("writer failed", dropped_at=self._clock())

    def _cannot_block(self, size: int) -> bool:
        """Whether a send of ``size`` bytes cannot stall: on an open connection ``websockets``
        waits only while asyncio's flow control has paused writing, which takes the transport's
        buffer above its high-water mark and lasts until it drains to the low one. Below the
        low mark even with this message, no timer is needed: a healthy link sends each frame
        without one (a heap entry, task lookups, a cancellation); a backlogged or closing one
        gets ``send_timeout``."""
        transport = self._ws.transport
        if transport.is_closing():
            return False
        low, _high = transport.get_write_buffer_limits()
        return transport.get_write_buffer_size() + size + _FRAME_OVERHEAD <= low

    # ── receiving ───────────────────────────────────────────────────────────────

    async def recv(self) -> str | bytes:
        """The next message; raises :class:`LinkClosed` when the link is gone."""
        try:
            return await self._ws.recv()
        except ConnectionClosed as exc:
            if self._dead is None:
                rcvd = exc.rcvd
                code = rcvd.code if rcvd is not None else None
                reason = (
                    f"closed by the service ({code})" if code is not None else "connection lost"
                )
                self._dead = LinkClosed(reason, dropped_at=self._clock(), code=code)
                self._stop_tasks()
            raise self._dead from None

    async def _watch(self) -> None:
        timeout = self.settings.silence_timeout
        assert timeout is not None
        while self._dead is None:
            silent_since = self._ws.last_rx
            silent_for = self._clock() - silent_since
            if silent_for > timeout:
                # No pong, no audio: the path is gone even though no reset came (Wi-Fi).
                self._kill(f"no traffic for {timeout:g} s", dropped_at=silent_since)
                return
            # Wake when the link could first be dead, not on a fixed beat: on a healthy link
            # a pong or audio comes first and it sleeps again (under one wake-up a second).
            await asyncio.sleep(max(timeout - silent_for, self.settings.watchdog_period))

    def _kill(self, reason: str, *, dropped_at: float) -> None:
        if self._dead is None:
            self._dead = LinkClosed(reason, dropped_at=dropped_at)
        self._stop_tasks()
        self._ws.transport.abort()

    def _stop_tasks(self) -> None:
        current = asyncio.current_task()
        for task in (self._writer, self._watchdog):
            if task is not None and task is not current:
                task.cancel()

    # ── closing ────────────────────────────────────────────────────────────────

    def abort(self) -> None:
        """Drop the connection now (no closing handshake)."""
        self._kill("aborted", dropped_at=self._clock())

    async def close(self) -> None:
        """Closing handshake bounded by ``close_timeout``, then abort."""
        if self._dead is not None:
            self._ws.transport.abort()
            return
        self._dead = LinkClosed("closed by the booth", dropped_at=self._clock())
        # Mic audio still queued is for a call that is over: it goes, uncounted. Only a
        # control message (an `end`) is worth a moment to leave before the close frame.
        text = [(m, a) for m, a in self._pending if not a]
        self._pending.clear()
        self._pending.extend(text)
        if text:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.settings.close_timeout / 2):
                    if not self._writer.done():
                        await self._drained.wait()
        self._stop_tasks()
        try:
            async with asyncio.timeout(self.settings.close_timeout):
                await self._ws.close()
        except (TimeoutError, OSError):
            pass
        finally:
            self._ws.transport.abort()


async def _connect(
    url: str,
    settings: LinkSettings,
    factory: type[_StampedConnection],
    proxy: HttpProxy | None,
) -> ClientConnection:
    """The WebSocket handshake; through ``proxy`` it runs (with TLS for wss) over a tunnel we
    open ourselves and hand over as ``sock=``: typed proxy failures naming the proxy, bounded
    reply parsing (h11), and the same socket options and dead-link watchdog as direct."""
    target = parse_uri(url)
    route: dict[str, Any] = dict(_NO_PROXY)
    if proxy is not None:
        # websockets sets server_hostname from the URL, as for a direct connection.
        route = {"sock": await open_tunnel(proxy, target.host, target.port)}
    if target.secure:  # as websockets decides it; not a fresh default context for every dial
        route["ssl"] = client_context()
    try:
        return await connect(
            url,
            open_timeout=settings.open_timeout,
            ping_interval=settings.ping_interval,
            ping_timeout=settings.ping_timeout,
            close_timeout=settings.close_timeout,
            max_size=settings.max_size,
            max_queue=settings.max_queue,
            compression=None,  # PCM barely compresses; deflate only costs a Pi CPU
            create_connection=factory,
            logger=_wire_log,
            **route,
        )
    except BaseException:
        if "sock" in route:
            route["sock"].close()  # not yet owned by a transport if the handshake never began
        raise


def _set_tcp_user_timeout(ws: ClientConnection, seconds: float) -> None:
    sock: Any = ws.transport.get_extra_info("socket")
    if sock is None:
        return
    try:
        sock.setsockopt(socket.IPPROTO_TCP, TCP_USER_TIMEOUT, int(seconds * 1000))
    except OSError as exc:  # not Linux, or a socket type without it: the watchdog still works
        log.debug("TCP_USER_TIMEOUT not set: %s", exc)
