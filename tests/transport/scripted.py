"""A scripted REST service on loopback (aiohttp): each path answers from a queue of replies.

Used for the REST error matrix, which the devserver cannot produce in full (403 tenant states,
odd bodies); everything else runs against the devserver.
"""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class Reply:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    raw: str | None = None  # a body that is not JSON
    delay: float = 0.0


def envelope(status: int, code: str, message: str = "nope", request_id: str = "req_1") -> Reply:
    return Reply(
        status,
        {"error": {"code": code, "message": message, "requestId": request_id}},
        {"X-Athos-Request-Id": request_id},
    )


class ScriptedService:
    def __init__(self) -> None:
        self.replies: defaultdict[str, deque[Reply]] = defaultdict(deque)
        self.default: dict[str, Reply] = {}
        self.requests: list[tuple[str, str, dict[str, str], Any]] = []
        self.port = 0
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def script(self, path: str, *replies: Reply) -> None:
        self.replies[path].extend(replies)

    def count(self, path: str) -> int:
        return sum(1 for _, p, _, _ in self.requests if p == path)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = None
        if request.can_read_body:
            try:
                body = await request.json()
            except json.JSONDecodeError:
                body = "<not json>"
        self.requests.append((request.method, request.path, dict(request.headers), body))
        queue = self.replies.get(request.path)
        reply = queue.popleft() if queue else self.default.get(request.path, envelope(404, "X"))
        if reply.delay:
            await asyncio.sleep(reply.delay)
        if reply.raw is not None:
            return web.Response(status=reply.status, text=reply.raw, headers=reply.headers)
        return web.json_response(reply.body, status=reply.status, headers=reply.headers)

    async def __aenter__(self) -> ScriptedService:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._runner is not None
        await self._runner.cleanup()
