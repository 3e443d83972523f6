"""A proxy that misbehaves: its answer to CONNECT is bounded in size (PROXY_REPLY_BYTES) and in
time (the link's open_timeout), and whatever it sends ends in a LinkError naming the proxy."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import pytest

from booth import limits
from booth.transport.link import Link, LinkError, LinkSettings
from booth.transport.proxy import HttpProxy

Reply = Callable[[asyncio.StreamWriter], None]


@asynccontextmanager
async def bad_proxy(reply: Reply) -> AsyncIterator[HttpProxy]:
    """A loopback listener that reads the CONNECT head, then answers with ``reply``."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        reply(writer)
        if not writer.is_closing():
            await writer.drain()
            await reader.read()  # hold the connection until the client gives up
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    try:
        yield HttpProxy("127.0.0.1", server.sockets[0].getsockname()[1])
    finally:
        server.close()


def endless_headers(writer: asyncio.StreamWriter) -> None:
    writer.write(b"HTTP/1.1 200 Connection established\r\n")
    writer.write(b"X-Padding: " + b"a" * 1000 + b"\r\n" * 1 + b"X-More: b\r\n" * 2000)


def not_http(writer: asyncio.StreamWriter) -> None:
    writer.write(b"NOT HTTP AT ALL\r\n\r\n")


def socks(writer: asyncio.StreamWriter) -> None:
    """A SOCKS5 server's "no acceptable method", then it hangs up."""
    writer.write(b"\x05\xff")
    writer.close()


def hangs_up(writer: asyncio.StreamWriter) -> None:
    writer.close()


def silent(_writer: asyncio.StreamWriter) -> None:
    pass


def talks_first(writer: asyncio.StreamWriter) -> None:
    writer.write(b"HTTP/1.1 200 OK\r\n\r\nunexpected bytes")


@pytest.mark.parametrize(
    ("reply", "problem"),
    [
        (endless_headers, f"exceeds PROXY_REPLY_BYTES ({limits.PROXY_REPLY.value} bytes)"),
        (not_http, "did not answer CONNECT with HTTP"),
        (socks, "did not answer CONNECT with HTTP"),
        (hangs_up, "closed the connection without answering CONNECT"),
        (talks_first, "sent data after accepting CONNECT"),
        (silent, "TimeoutError"),
    ],
)
async def test_a_misbehaving_proxy_is_a_bounded_link_error(reply: Reply, problem: str) -> None:
    async with bad_proxy(reply) as proxy:
        with pytest.raises(LinkError) as caught:
            await Link.open("ws://127.0.0.1:9/ws", LinkSettings(open_timeout=1.0), proxy=proxy)
    assert problem in str(caught.value)
    assert proxy.address in str(caught.value)
