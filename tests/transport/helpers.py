"""Shared pieces of the transport tests: a devserver, the fault proxy, sessions, waiting."""

from __future__ import annotations

import asyncio
import math
import struct
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from booth.call_events import CallEvent
from booth.devserver import DevServer, Settings
from booth.session import RoleplaySession
from booth.sim.faultproxy import TcpProxy

KEY = "ath_live_transport_tests_0001"
DRILL = "cold-call-skeptic"
SILENCE = b"\x00" * 640

E = TypeVar("E", bound=CallEvent)


def tone(amplitude: int = 8000, freq: float = 440.0) -> bytes:
    return b"".join(
        struct.pack("<h", int(amplitude * math.sin(2 * math.pi * freq * n / 16000)))
        for n in range(320)
    )


LOUD = tone()


def fast_settings(**overrides: Any) -> Settings:
    base: dict[str, Any] = {"scoring_delay": 0.1, "reply_delay": 0.05, "silence_s": 0.3}
    base.update(overrides)
    return Settings(**base)


@asynccontextmanager
async def service(**settings: Any) -> AsyncIterator[tuple[DevServer, TcpProxy]]:
    """A devserver and a fault proxy in front of its WebSocket."""
    async with (
        DevServer(api_keys={KEY}, settings=fast_settings(**settings), use_espeak=False) as srv,
        TcpProxy("127.0.0.1", srv.port) as proxy,
    ):
        yield srv, proxy


def session(server: DevServer, proxy: TcpProxy, **kw: Any) -> RoleplaySession:
    return RoleplaySession(server.url, KEY, DRILL, booth_id="booth-test", route=proxy.rewrite, **kw)


async def wait_event(
    sess: RoleplaySession, kind: type[E], *, after: float = float("-inf"), within: float = 10.0
) -> E:
    """The first ``kind`` event at or after ``after``, waiting up to ``within`` seconds."""
    async with asyncio.timeout(within):
        return await sess.wait_for(kind, after)


async def speak_turn(sess: RoleplaySession, frames: int = 25) -> None:
    """A short rep turn: loud frames, then the talk button's release."""
    for _ in range(frames):
        sess.send_audio(LOUD)
        await asyncio.sleep(0)
    sess.turn_end()


async def persona_audio_after(sess: RoleplaySession, chunks: int, within: float = 10.0) -> int:
    """Read ``chunks`` persona audio chunks (proves audio flows); returns bytes read."""
    total = 0
    got = 0
    async with asyncio.timeout(within):
        async for pcm in sess.persona_audio():
            total += len(pcm)
            got += 1
            if got >= chunks:
                break
    return total
