"""When the service ends the call, the booth knows at once (issue 13, defect 6).

A service that sends `session_ended` and its close frame but is slow to drop the TCP connection
used to hold the booth for half its close timeout: a mic frame queued after the close frame
left the link's writer waiting in ``websockets``' send, and the link waited for its send queue.
Real sockets on the virtual-time loop, so every wait is exact and takes no real time.
"""

from __future__ import annotations

import asyncio
from typing import Any

from websockets.asyncio.server import ServerConnection, serve

from booth.protocol.client import ClientProtocol
from booth.protocol.messages import SessionEnded
from booth.sim.virtual_time import run
from booth.transport import supervisor as sv
from booth.transport.link import Link, LinkSettings

SETTINGS = LinkSettings(ping_interval=None, silence_timeout=None, tcp_user_timeout=None)
CONNECTED = '{"type":"connected","callId":"c1","features":["end"]}'
ENDED = '{"type":"session_ended","reason":"agent_disconnected"}'


async def slow_closer(ws: ServerConnection) -> None:
    """Accepts the call, ends it at once: `session_ended` and a close frame, then it stops
    reading and keeps the TCP connection open (a busy server, or one draining)."""
    await ws.recv()  # {"token"}
    await ws.send(CONNECTED)
    await ws.send(ENDED)
    ws.protocol.send_close(1000)
    ws.send_data()
    ws.transport.pause_reading()
    await asyncio.sleep(60)


def test_the_end_is_reported_as_the_service_says_it() -> None:
    async def main() -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        seen: dict[str, Any] = {}
        async with serve(slow_closer, "127.0.0.1", 0) as server:
            port = server.sockets[0].getsockname()[1]

            async def dial() -> Link:
                return await Link.open(f"ws://127.0.0.1:{port}/", SETTINGS, clock=loop.time)

            def listener(event: sv.SupervisorEvent) -> None:
                match event:
                    case sv.Message(event=SessionEnded()):
                        seen["session_ended"] = loop.time()
                        # The mic pump's next frame, queued as the end arrives.
                        assert supervisor.link is not None
                        supervisor.link.send_audio(bytes(640))
                    case sv.Closed():
                        seen["closed"] = event
                        seen["reported"] = loop.time()

            supervisor = sv.Supervisor(ClientProtocol(), dial, listener, clock=loop.time)
            await supervisor.open("ticket")
            await supervisor.wait()
        return seen

    seen = run(main())
    closed = seen["closed"]
    assert closed.reason == "agent_disconnected" and closed.code is None
    # Reported at the very moment session_ended arrived: no wait for the send queue, nor for
    # the closing handshake of a server slow to drop the connection.
    assert closed.at == seen["reported"] == seen["session_ended"]
