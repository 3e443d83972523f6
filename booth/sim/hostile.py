"""A hostile or broken voice service on loopback, for the hostile-service suite and the bench.

Polite by default (mint, redeem, a WebSocket that says ``connected``/``agent_ready`` and ends on
``end``), and each part can be swapped for misbehaviour: a REST answer written byte by byte at
whatever pace and size a scenario wants (a 100 MB token, a body trickled a byte every few
seconds, headers that never finish), a WebSocket that floods, stalls or lies, a TCP port that
accepts and never answers. Bodies are generated as they are sent, so the server itself stays
small whatever it claims to send.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

MINT = "/api/external/v1/session"
REDEEM = "/api/external/v1/roleplay/session"
CALLS = "/api/external/v1/calls/"

#: Writes one whole HTTP response (status line onwards) however it likes.
Responder = Callable[[asyncio.StreamWriter], Awaitable[None]]
#: Runs one WebSocket connection after the handshake.
WsHandler = Callable[[ServerConnection, "HostileService"], Awaitable[None]]

_REASONS = {200: "OK", 201: "Created", 400: "Bad Request", 404: "Not Found", 500: "Oops"}


def _head(status: int, headers: dict[str, str]) -> bytes:
    lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}"]
    lines += [f"{k}: {v}" for k, v in {"Connection": "close", **headers}.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def json_reply(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Responder:
    """An ordinary JSON answer (with Content-Length)."""
    data = json.dumps(body).encode()

    async def respond(writer: asyncio.StreamWriter) -> None:
        extra = {"Content-Type": "application/json", "Content-Length": str(len(data))}
        writer.write(_head(status, extra | (headers or {})) + data)
        await writer.drain()

    return respond


def chunked_reply(
    parts: Callable[[], Iterable[bytes]],
    status: int = 200,
    headers: dict[str, str] | None = None,
    pause: float = 0.0,
) -> Responder:
    """A chunked body made of ``parts()`` (generated lazily), ``pause`` seconds between them."""

    async def respond(writer: asyncio.StreamWriter) -> None:
        extra = {"Content-Type": "application/json", "Transfer-Encoding": "chunked"}
        writer.write(_head(status, extra | (headers or {})))
        for part in parts():
            writer.write(f"{len(part):x}\r\n".encode() + part + b"\r\n")
            await writer.drain()
            if pause:
                await asyncio.sleep(pause)
        writer.write(b"0\r\n\r\n")
        await writer.drain()

    return respond


def repeated(
    prefix: bytes, filler: bytes, total: int, suffix: bytes, chunk: int = 1 << 16
) -> Callable[[], Iterable[bytes]]:
    """``prefix + filler * n + suffix`` of about ``total`` bytes, as ``chunk``-sized parts."""

    def parts() -> Iterable[bytes]:
        yield prefix
        block = filler * max(1, chunk // len(filler))
        sent = 0
        while sent < total:
            yield block
            sent += len(block)
        yield suffix

    return parts


def huge_json_token(total: int) -> Responder:
    """``{"token": "AAAA…"}`` of ``total`` bytes: valid JSON, absurd size."""
    return chunked_reply(repeated(b'{"token": "', b"A", total, b'"}'))


def huge_body(total: int) -> Responder:
    """``total`` bytes that are not JSON."""
    return chunked_reply(repeated(b"<html>", b"not json ", total, b"</html>"))


def declared_length(total: int) -> Responder:
    """Claims a ``total``-byte body in Content-Length, then sends a little and waits."""

    async def respond(writer: asyncio.StreamWriter) -> None:
        writer.write(_head(200, {"Content-Length": str(total)}) + b'{"token": "')
        await writer.drain()
        await asyncio.sleep(3600)

    return respond


def trickle_body(every: float, body: bytes = b'{"token": "' + b"T" * 64 + b'"}') -> Responder:
    """Headers at once, then the body one byte every ``every`` seconds."""

    async def respond(writer: asyncio.StreamWriter) -> None:
        writer.write(_head(200, {"Content-Length": str(len(body))}))
        for i in range(len(body)):
            writer.write(body[i : i + 1])
            await writer.drain()
            await asyncio.sleep(every)

    return respond


def trickle_headers(every: float) -> Responder:
    """The status line and headers one byte every ``every`` seconds (never finishing)."""

    async def respond(writer: asyncio.StreamWriter) -> None:
        for byte in b"HTTP/1.1 200 OK\r\n" + b"X-Slow: " + b"a" * 10_000:
            writer.write(bytes([byte]))
            await writer.drain()
            await asyncio.sleep(every)

    return respond


def endless_headers(total: int) -> Responder:
    """A status line, then ``total`` bytes of header lines at full speed, never a blank line."""

    async def respond(writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\n")
        line = b"X-Padding: " + b"p" * 1000 + b"\r\n"
        for _ in range(total // len(line)):
            writer.write(line)
            await writer.drain()

    return respond


def ws_sends(*messages: str | bytes, then_end: bool = True) -> WsHandler:
    """A WebSocket that accepts the call, sends ``messages``, then (optionally) ends it."""

    async def handler(ws: ServerConnection, service: HostileService) -> None:
        await accept_call(ws)
        for message in messages:
            await ws.send(message)
        if then_end:
            await ws.send(json.dumps({"type": "session_ended", "reason": "session_closed"}))
        await idle(ws)

    return handler


def ws_stream(make: Callable[[], Iterable[str | bytes]], then_end: bool = True) -> WsHandler:
    """Accept the call, send everything ``make()`` yields (lazily), then end."""

    async def handler(ws: ServerConnection, service: HostileService) -> None:
        await accept_call(ws)
        for message in make():
            await ws.send(message)
        if then_end:
            await ws.send(json.dumps({"type": "session_ended", "reason": "session_closed"}))
        await idle(ws)

    return handler


async def never_connected(ws: ServerConnection, service: HostileService) -> None:
    """Takes the ticket and says nothing, ever (pings are still answered)."""
    with contextlib.suppress(ConnectionClosed):
        await ws.recv()
        await idle(ws)


async def polite(ws: ServerConnection, service: HostileService) -> None:
    """The well-behaved call: accepted, ready, ended on ``end``."""
    await accept_call(ws)
    await idle(ws)


async def accept_call(ws: ServerConnection) -> None:
    await ws.recv()  # the ticket
    await ws.send(
        json.dumps(
            {
                "type": "connected",
                "sessionId": "sess_hostile",
                "callId": "call_hostile",
                "resumeToken": "resume-" + "r" * 24,
                "sampleRate": 16000,
                "features": ["end", "resume"],
                "persona": {"name": "Hostile Harry"},
            }
        )
    )
    await ws.send(json.dumps({"type": "agent_ready"}))


async def idle(ws: ServerConnection) -> None:
    """Read until the client leaves; answer ``end`` with ``session_ended``."""
    with contextlib.suppress(ConnectionClosed):
        async for message in ws:
            if isinstance(message, str) and '"end"' in message:
                await ws.send(json.dumps({"type": "session_ended", "reason": "client_requested"}))
                await ws.close()
                return


class HostileService:
    """REST on one loopback port, the WebSocket on another, a silent TCP port on a third.

    Swap ``rest[path]`` (a :data:`Responder`), ``ws`` (a :data:`WsHandler`) or
    ``connection_url`` (what redeem hands out) to choose the misbehaviour.
    """

    def __init__(self) -> None:
        self.rest: dict[str, Responder] = {}
        self.ws: WsHandler = polite
        self.connection_url: str | None = None  # None: this service's own WebSocket
        self.requests: list[tuple[str, str]] = []
        self.rest_port = 0
        self.ws_port = 0
        self.silent_port = 0
        self._servers: list[asyncio.Server] = []
        self._ws_server: Server | None = None
        self._held: set[asyncio.StreamWriter] = set()

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.rest_port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.ws_port}/ws"

    @property
    def silent_url(self) -> str:
        """A WebSocket URL whose TCP handshake succeeds and whose HTTP upgrade never does."""
        return f"ws://127.0.0.1:{self.silent_port}/ws"

    def count(self, path: str) -> int:
        return sum(1 for _, p in self.requests if p.startswith(path))

    # ── REST ────────────────────────────────────────────────────────────────────

    def _default(self, path: str) -> Responder:
        if path == MINT:
            return json_reply({"token": "tok-" + "m" * 40, "expiresAt": "2099-01-01T00:00:00Z"})
        if path == REDEEM:
            return json_reply(
                {
                    "connectionUrl": self.connection_url or self.ws_url,
                    "connectionTicket": "ticket-" + "t" * 40,
                    "sessionId": "sess_hostile",
                    "callId": "call_hostile",
                    "persona": {"name": "Hostile Harry"},
                }
            )
        return json_reply({"error": {"code": "CALL_NOT_FOUND", "message": "not yet"}}, 404)

    async def _serve_rest(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._held.add(writer)
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, target, _ = lines[0].split(" ", 2)
            length = 0
            for line in lines[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value.strip())
            if length:
                await reader.readexactly(length)
            path = target.split("?", 1)[0]
            self.requests.append((method, path))
            responder = self.rest.get(path)
            if responder is None and path.startswith(CALLS):
                responder = self.rest.get(CALLS)
            await (responder or self._default(path))(writer)
        except (
            ConnectionError,
            asyncio.IncompleteReadError,
            asyncio.LimitOverrunError,
            ValueError,
        ):
            pass  # the client gave up: what a hostile server hopes for
        finally:
            self._held.discard(writer)
            writer.transport.abort()

    # ── the silent port ───────────────────────────────────────────────────────────

    async def _serve_silent(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self._held.add(writer)
        try:
            while await reader.read(4096):
                pass
        except ConnectionError:
            pass
        finally:
            self._held.discard(writer)
            writer.transport.abort()

    # ── WebSocket ───────────────────────────────────────────────────────────────

    async def _serve_ws(self, ws: ServerConnection) -> None:
        with contextlib.suppress(ConnectionClosed):
            await self.ws(ws, self)

    # ── life ────────────────────────────────────────────────────────────────────

    async def start(self) -> None:
        rest = await asyncio.start_server(self._serve_rest, "127.0.0.1", 0)
        silent = await asyncio.start_server(self._serve_silent, "127.0.0.1", 0)
        self._servers = [rest, silent]
        self.rest_port = rest.sockets[0].getsockname()[1]
        self.silent_port = silent.sockets[0].getsockname()[1]
        self._ws_server = await serve(self._serve_ws, "127.0.0.1", 0, max_size=None)
        self.ws_port = next(iter(self._ws_server.sockets)).getsockname()[1]

    async def stop(self) -> None:
        for writer in list(self._held):
            writer.transport.abort()
        for server in self._servers:
            server.close()
        if self._ws_server is not None:
            self._ws_server.close()
            await self._ws_server.wait_closed()
        for server in self._servers:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), 2.0)


@contextlib.asynccontextmanager
async def hostile_service() -> AsyncIterator[HostileService]:
    service = HostileService()
    await service.start()
    try:
        yield service
    finally:
        await service.stop()
