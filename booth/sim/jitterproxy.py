"""A loopback TCP proxy that delays the service-to-booth direction by a jittered amount.

Each chunk read from the service is released ``base_ms`` ± ``jitter_ms`` (uniform) after it
arrived, but never before the chunk ahead of it: TCP delivers in order, so a late packet holds
back the ones behind it, as on a congested Wi-Fi link. The booth-to-service direction passes
untouched. Bench only: it stands in for the network, never part of a booth's own path.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import random
from urllib.parse import urlsplit, urlunsplit


class JitterProxy:
    def __init__(
        self,
        upstream_port: int,
        *,
        base_ms: float = 20.0,
        jitter_ms: float = 20.0,
        seed: int = 7,
        host: str = "127.0.0.1",
    ) -> None:
        self.upstream_port = upstream_port
        self.base = base_ms / 1000
        self.jitter = jitter_ms / 1000
        self.host = host
        self.port = 0
        self.chunks_delayed = 0
        #: When each delayed chunk was handed on (loop time: time.monotonic), to tell a gap
        #: the proxy passed on from one the booth made itself.
        self.released: collections.deque[float] = collections.deque(maxlen=200_000)
        self._rng = random.Random(seed)
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> JitterProxy:
        self._server = await asyncio.start_server(self._accept, self.host, 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def rewrite(self, url: str) -> str:
        """The service's URL, pointed at this proxy instead."""
        parts = urlsplit(url)
        return urlunsplit(parts._replace(netloc=f"{self.host}:{self.port}"))

    def _delay(self) -> float:
        return max(0.0, self.base + self._rng.uniform(-self.jitter, self.jitter))

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(self.host, self.upstream_port)
        except OSError:
            writer.close()
            return
        for coro in (self._straight(reader, up_writer), self._delayed(up_reader, writer)):
            task = asyncio.create_task(coro)
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _straight(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                writer.close()

    async def _delayed(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

        async def release() -> None:
            while True:
                at, data = await queue.get()
                if not data:
                    break
                wait = at - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)  # the simulated network delay itself
                writer.write(data)
                self.released.append(loop.time())
                await writer.drain()
                self.chunks_delayed += 1

        sender = asyncio.create_task(release())
        last = 0.0
        try:
            while data := await reader.read(65536):
                last = max(last, loop.time() + self._delay())
                queue.put_nowait((last, data))
            queue.put_nowait((last, b""))
            await sender
        except OSError:
            pass
        finally:
            sender.cancel()
            with contextlib.suppress(OSError):
                writer.close()
