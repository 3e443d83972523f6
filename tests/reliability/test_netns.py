"""A real dead link: the booth's call crosses a veth pair into a network namespace of our own, and
the veth is taken down and brought back — the kernel drops the packets, nothing is simulated.

    booth ─▶ 127.0.0.1 entry relay ═ socket in netns ═ veth ═▶ 10.231.x.1 relay ─▶ devserver

The booth refuses plain ws:// off loopback, so it talks to a loopback relay whose upstream socket
is created inside the namespace: every byte of the call then crosses the veth link.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from booth.daemon.app import session_factory_for
from booth.secret import Secret
from booth.sim.faultproxy import TcpProxy
from tests.daemon.harness import API_KEY, running_booth
from tests.reliability.conftest import Record
from tests.reliability.test_network import IN_CALL, OPEN_MIC, audio_arrives, start_call

pytestmark = [
    pytest.mark.reliability,
    pytest.mark.root,
    pytest.mark.skipif(
        os.geteuid() != 0 or shutil.which("ip") is None, reason="needs root and iproute2"
    ),
]

CLONE_NEWNET = 0x40000000


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=10)


@pytest.fixture
def veth_namespace() -> Iterator[tuple[str, str, str]]:
    """(namespace, root-side veth, root-side address) — private addresses, our namespace only."""
    n = os.getpid() % 250 + 1
    ns, outer, inner = f"boothrel{n}", f"brA{n}", f"brB{n}"
    here, there = f"10.231.{n}.1", f"10.231.{n}.2"
    ip("netns", "add", ns)
    try:
        ip("link", "add", outer, "type", "veth", "peer", "name", inner)
        ip("link", "set", inner, "netns", ns)
        ip("addr", "add", f"{here}/30", "dev", outer)
        ip("link", "set", outer, "up")
        ip("-n", ns, "addr", "add", f"{there}/30", "dev", inner)
        ip("-n", ns, "link", "set", inner, "up")
        ip("-n", ns, "link", "set", "lo", "up")
        yield ns, outer, here
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):
            ip("link", "del", outer)
        ip("netns", "del", ns)


def socket_in_namespace(ns: str) -> socket.socket:
    """A TCP socket that belongs to ``ns`` (made on a throwaway thread: setns is per thread)."""
    made: list[socket.socket | BaseException] = []

    def make() -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        try:
            with open(f"/run/netns/{ns}") as handle:
                if libc.setns(handle.fileno(), CLONE_NEWNET) != 0:
                    raise OSError(ctypes.get_errno(), "setns")
            made.append(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
        except BaseException as exc:  # handed to the caller
            made.append(exc)

    thread = threading.Thread(target=make)
    thread.start()
    thread.join()
    result = made[0]
    if isinstance(result, BaseException):
        raise result
    result.setblocking(False)
    return result


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError, asyncio.CancelledError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    writer.close()


@contextlib.asynccontextmanager
async def entry_relay(ns: str, target: tuple[str, int]) -> AsyncIterator[int]:
    """Loopback listener; each connection is carried on from inside ``ns`` to ``target``."""
    tasks: set[asyncio.Task[None]] = set()

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sock = socket_in_namespace(ns)
        try:
            await asyncio.wait_for(asyncio.get_running_loop().sock_connect(sock, target), 30)
        except (OSError, TimeoutError):
            sock.close()
            writer.close()
            return
        up_reader, up_writer = await asyncio.open_connection(sock=sock)
        for task in (_pump(reader, up_writer), _pump(up_reader, writer)):
            tasks.add(asyncio.create_task(task))

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


@pytest.mark.parametrize("outage", ["noticed", "1s"])
async def test_veth_link_down_and_back_resumes_the_call(
    tmp_path: Path, figure: Record, veth_namespace: tuple[str, str, str], outage: str
) -> None:
    """``noticed``: down until the booth sees the dead link (a resume follows). ``1s``: a blip
    shorter than dead-link detection, which TCP may bridge on its own (no resume needed)."""
    ns, outer, here = veth_namespace
    async with running_booth(tmp_path, panel=OPEN_MIC, server_kw={"resume_window": 40.0}) as b:
        # The far end of the veth: a relay on the root side's address, on to the devserver.
        far = await TcpProxy("127.0.0.1", b.server.port, host=here).start()
        try:
            async with entry_relay(ns, (here, far.port)) as entry_port:
                origin = f"127.0.0.1:{b.server.port}"
                b.app.session_factory = session_factory_for(
                    b.app.config,
                    Secret(API_KEY),
                    route=lambda url: url.replace(origin, f"127.0.0.1:{entry_port}"),
                )
                call_id = await start_call(b)
                await audio_arrives(b, call_id)
                connections = far.connections
                reconnects = b.states().count("reconnecting")
                ip("link", "set", outer, "down")  # the kernel drops everything now
                if outage == "noticed":
                    await b.until(lambda: "reconnecting" in b.states(), 15, "dead link noticed")
                else:
                    await asyncio.sleep(1.0)  # the outage itself
                ip("link", "set", outer, "up")
                restored = time.monotonic()
                await b.until(lambda: b.app.machine.state in IN_CALL, 30, "back in the call")
                back = await audio_arrives(b, call_id, within=30)
                assert b.app.call is not None
                assert b.app.call.call_id == call_id
                resumed = b.states().count("reconnecting") > reconnects
                if outage == "noticed":
                    assert resumed
                    assert far.connections > connections  # the resume crossed the veth again
                figure("audio_back_after_link_up_s", back - restored)
                figure("resumes", float(resumed))
        finally:
            await far.close()
