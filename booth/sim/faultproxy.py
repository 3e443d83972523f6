"""A TCP proxy on loopback that can pass, black-hole or reset traffic (tests and `booth bench`).

Never part of a booth's own path to its service; it stands in for a failing Wi-Fi link.

- pass: bytes flow both ways.
- black-hole: every open connection is held open and nothing passes either way (what a Wi-Fi
  link that vanishes looks like: no FIN, no RST); new connections are accepted and held too.
  A connection that saw a black hole never passes again; when the link returns, the service
  side of such a connection is reset if the client side has gone (as the client's kernel would
  answer the server's retransmissions), and new connections pass.
- reset: every connection is aborted with an RST on both sides.

``blackholed_at`` / ``restored_at`` are ``time.monotonic()`` stamps, the same clock as the
session's event timestamps.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import time
from dataclasses import dataclass, field


@dataclass(eq=False)
class _Pair:
    client: asyncio.StreamWriter
    upstream: asyncio.StreamWriter | None = None
    tainted: bool = False
    client_gone: bool = False
    tasks: list[asyncio.Task[None]] = field(default_factory=list)


def _rst(writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


class TcpProxy:
    def __init__(self, upstream_host: str, upstream_port: int, host: str = "127.0.0.1") -> None:
        self.upstream_host = upstream_host
        self.upstream_port = upstream_port
        self.host = host
        self.port = 0
        self.blackholed = False
        self.blackholed_at: float | None = None
        self.restored_at: float | None = None
        self.connections = 0
        self._pairs: set[_Pair] = set()
        self._server: asyncio.Server | None = None

    async def start(self) -> TcpProxy:
        self._server = await asyncio.start_server(self._accept, self.host, 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aenter__(self) -> TcpProxy:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def url(self, scheme: str = "http") -> str:
        return f"{scheme}://{self.host}:{self.port}"

    def rewrite(self, url: str) -> str:
        """``url`` with the upstream's host:port replaced by the proxy's."""
        return url.replace(f"{self.upstream_host}:{self.upstream_port}", f"{self.host}:{self.port}")

    # ── faults ────────────────────────────────────────────────────────────────

    def blackhole(self) -> float:
        self.blackholed = True
        self.blackholed_at = time.monotonic()
        for pair in self._pairs:
            pair.tainted = True
        return self.blackholed_at

    def stall(self) -> float:
        """Black-hole without reading: nothing is acknowledged, so senders' buffers fill (a
        link whose packets vanish before any ACK comes back)."""
        stamp = self.blackhole()
        for pair in self._pairs:
            for writer in (pair.client, pair.upstream):
                if writer is not None:
                    with contextlib.suppress(Exception):
                        writer.transport.pause_reading()  # type: ignore[attr-defined]
        return stamp

    def restore(self) -> float:
        for pair in list(self._pairs):
            if pair.tainted and pair.client_gone:
                self._drop(pair, rst=True)
        self.blackholed = False
        self.restored_at = time.monotonic()
        return self.restored_at

    def reset(self) -> None:
        for pair in list(self._pairs):
            self._drop(pair, rst=True)

    def _drop(self, pair: _Pair, *, rst: bool) -> None:
        for writer in (pair.client, pair.upstream):
            if writer is not None:
                if rst:
                    _rst(writer)
                else:
                    writer.transport.abort()
        for task in pair.tasks:
            task.cancel()
        self._pairs.discard(pair)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for pair in list(self._pairs):
            self._drop(pair, rst=False)
        if self._server is not None:
            with contextlib.suppress(Exception):
                await self._server.wait_closed()

    # ── plumbing ──────────────────────────────────────────────────────────────

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        pair = _Pair(client=writer, tainted=self.blackholed)
        self._pairs.add(pair)
        if pair.tainted:
            # Held: accepted, nothing passes. The client's own timeout ends it.
            await self._drain_forever(reader, pair)
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(
                self.upstream_host, self.upstream_port
            )
        except OSError:
            self._drop(pair, rst=True)  # upstream down: the client sees a reset
            return
        pair.upstream = up_writer
        pair.tasks = [
            asyncio.create_task(self._pump(reader, up_writer, pair, from_client=True)),
            asyncio.create_task(self._pump(up_reader, writer, pair, from_client=False)),
        ]

    async def _drain_forever(self, reader: asyncio.StreamReader, pair: _Pair) -> None:
        with contextlib.suppress(OSError, asyncio.CancelledError):
            while await reader.read(65536):
                pass
        pair.client_gone = True
        if not self.blackholed:
            self._drop(pair, rst=False)

    async def _pump(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        pair: _Pair,
        *,
        from_client: bool,
    ) -> None:
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                if pair.tainted:
                    continue  # the black hole swallows it
                writer.write(data)
                await writer.drain()
        except (OSError, asyncio.CancelledError):
            pass
        if from_client:
            pair.client_gone = True
        if pair.tainted and self.blackholed:
            return  # nothing may pass, not even a FIN: hold the other side open
        if pair in self._pairs:
            self._drop(pair, rst=False)
