"""The WebSocket link on its own, and what a whole call leaves in the logs."""

from __future__ import annotations

import asyncio
import io
import logging
import socket

import pytest
from websockets.asyncio.server import ServerConnection, serve

from booth import call_events as ev
from booth.errors import BoothError
from booth.logs import StderrFormatter
from booth.session import SessionState
from booth.transport.link import TCP_USER_TIMEOUT, Link, LinkClosed, LinkError, LinkSettings
from tests.transport.helpers import KEY, service, session, speak_turn, wait_event


async def _echo(ws: ServerConnection) -> None:
    async for message in ws:
        await ws.send(message)


async def _big(ws: ServerConnection) -> None:
    await ws.recv()
    await ws.send(b"\x00" * (200 * 1024))
    await ws.wait_closed()


async def test_link_options_are_on_the_socket() -> None:
    async with serve(_echo, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        link = await Link.open(f"ws://127.0.0.1:{port}/", LinkSettings(tcp_user_timeout=3.0))
        try:
            sock = link._ws.transport.get_extra_info("socket")
            assert sock.getsockopt(socket.IPPROTO_TCP, TCP_USER_TIMEOUT) == 3000
            assert link.send_audio(b"\x01\x00" * 320)
            assert await link.recv() == b"\x01\x00" * 320
            assert link.frames_sent == 1
        finally:
            await link.close()
        assert not link.is_alive


async def test_oversize_inbound_message_closes_the_link() -> None:
    async with serve(_big, "127.0.0.1", 0, max_size=None) as server:
        port = server.sockets[0].getsockname()[1]
        link = await Link.open(f"ws://127.0.0.1:{port}/", LinkSettings(max_size=64 * 1024))
        link.send_text("{}")
        with pytest.raises(LinkClosed):
            await link.recv()
        await link.close()


async def _deaf(ws: ServerConnection) -> None:
    """A peer that stops reading after the first message: the booth's sends back up."""
    await ws.recv()
    ws.transport.pause_reading()
    await ws.wait_closed()


async def test_a_peer_that_stops_reading_drops_frames_then_stalls_a_send() -> None:
    settings = LinkSettings(silence_timeout=None, ping_interval=None, send_timeout=0.5)
    async with serve(_deaf, "127.0.0.1", 0, close_timeout=0.1) as server:
        port = server.sockets[0].getsockname()[1]
        link = await Link.open(f"ws://127.0.0.1:{port}/", settings)
        link.send_text("{}")
        frame = b"\x01\x00" * 8000  # larger than real frames: the kernel's buffers fill sooner
        try:
            # Frames go while the socket takes them; once its buffer backs up past the guard
            # they are dropped, not queued without end.
            while link.send_audio(frame):
                await asyncio.sleep(0)
            assert link.frames_dropped == 1
            assert link.write_buffer_size() > settings.write_guard
            # A control message is never dropped: its send waits for room, and gives up
            # after send_timeout, killing the link.
            assert link.send_text("x" * (64 * 1024))
            with pytest.raises(LinkClosed, match="send stalled"):
                await link.recv()
        finally:
            await link.close()


async def test_plain_ws_off_loopback_is_refused() -> None:
    with pytest.raises(LinkError, match="wss"):
        await Link.open("ws://voice.example.com/ws")


async def test_nothing_listening_is_a_link_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(LinkError, match="cannot open"):
        await Link.open(f"ws://127.0.0.1:{port}/ws")


async def test_expired_ticket_is_refused_with_its_code() -> None:
    async with service(ticket_lifetime=0.001) as (server, proxy):
        sess = session(server, proxy)
        with pytest.raises(BoothError) as caught:
            await sess.connect()
        assert caught.value.code == "TOKEN_EXPIRED"
        assert sess.first(ev.CallFailed).code == "TOKEN_EXPIRED"
        assert sess.state is SessionState.ENDED


async def test_no_secret_reaches_the_logs() -> None:
    """A whole call with a reconnect, every logger at DEBUG, through booth's formatter."""
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(StderrFormatter())
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    logging.getLogger("websockets").setLevel(logging.DEBUG)
    secrets: list[str] = [KEY]
    try:
        async with service() as (server, proxy):
            sess = session(server, proxy)
            await sess.connect()
            assert sess._ticket is not None
            secrets.append(sess._ticket.connection_ticket)
            await wait_event(sess, ev.Ready)
            assert sess.protocol.resume_token
            secrets.append(sess.protocol.resume_token)
            start = asyncio.get_running_loop().time()
            proxy.reset()
            await wait_event(sess, ev.Reconnected, after=start)
            secrets.append(sess.protocol.resume_token or "")
            await speak_turn(sess)
            await sess.end()
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
        logging.getLogger("websockets").setLevel(logging.NOTSET)
    text = buffer.getvalue()
    assert "reconnect" in text  # the call's story is there...
    for secret in secrets:
        assert secret
        # ...its secrets are not, not even a fragment (frames are never logged).
        fragments = {secret[i : i + 12] for i in range(0, len(secret) - 12, 4)}
        assert not [f for f in fragments if f in text]
