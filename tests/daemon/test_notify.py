"""systemd notify through a real NOTIFY_SOCKET datagram socket, and the loop-driven watchdog."""

from __future__ import annotations

import asyncio
import os
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from booth.daemon.notify import Notifier, WatchdogPinger, watchdog_interval


@pytest.fixture
def receiver(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    path = str(tmp_path / "notify")
    sock.bind(path)
    sock.setblocking(False)
    monkeypatch.setenv("NOTIFY_SOCKET", path)
    yield sock
    sock.close()


def drain(sock: socket.socket) -> list[str]:
    out = []
    while True:
        try:
            out.append(sock.recv(4096).decode())
        except BlockingIOError:
            return out


async def recv(sock: socket.socket, timeout: float = 5.0) -> str:
    loop = asyncio.get_running_loop()
    data = await asyncio.wait_for(loop.sock_recv(sock, 4096), timeout)
    return data.decode()


async def test_ready_status_watchdog_stopping_arrive(receiver: socket.socket) -> None:
    n = Notifier()
    assert n.enabled
    assert n.ready("Idle – press the button")
    assert await recv(receiver) == "READY=1\nSTATUS=Idle – press the button"
    assert n.status("In call with Alex, 02:31")
    assert await recv(receiver) == "STATUS=In call with Alex, 02:31"
    assert n.watchdog()
    assert await recv(receiver) == "WATCHDOG=1"
    assert n.stopping("Stopping")
    assert await recv(receiver) == "STOPPING=1\nSTATUS=Stopping"
    n.close()


async def test_abstract_namespace_socket(monkeypatch: pytest.MonkeyPatch) -> None:
    name = f"booth-test-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind("\0" + name)
    sock.setblocking(False)
    monkeypatch.setenv("NOTIFY_SOCKET", "@" + name)
    try:
        n = Notifier()
        assert n.ready()
        assert await recv(sock) == "READY=1"
    finally:
        sock.close()


def test_status_text_cannot_inject_fields(receiver: socket.socket) -> None:
    Notifier().status("line one\nWATCHDOG=trigger")
    assert drain(receiver) == ["STATUS=line one WATCHDOG=trigger"]


def test_a_supervisor_that_does_not_read_never_blocks_the_booth(
    receiver: socket.socket,
) -> None:
    """The receiver's queue fills (nobody reads it): sends go on returning at once, the ones
    that do not fit dropped, instead of blocking the event loop they are sent from."""
    n = Notifier()
    results = [n.status(f"In call with Alex, 00:{i:02d} " + "x" * 200) for i in range(5000)]
    assert results[0] and not results[-1]
    assert n.sent == results.count(True) < 5000
    assert len(drain(receiver)) == n.sent  # what was sent arrived whole


def test_off_systemd_is_a_no_op() -> None:
    n = Notifier(environ={})
    assert not n.enabled and not n.ready() and n.sent == 0


def test_a_vanished_socket_is_reported_not_raised(tmp_path: Path) -> None:
    n = Notifier(environ={"NOTIFY_SOCKET": str(tmp_path / "gone")})
    assert n.watchdog() is False
    assert n.sent == 0


def test_watchdog_interval_is_half_of_watchdog_usec() -> None:
    assert watchdog_interval({"WATCHDOG_USEC": "20000000"}) == 10.0
    assert watchdog_interval({"WATCHDOG_USEC": "20000000", "WATCHDOG_PID": "1"}) is None
    pid = str(os.getpid())
    assert watchdog_interval({"WATCHDOG_USEC": "4000000", "WATCHDOG_PID": pid}) == 2.0
    assert watchdog_interval({}) is None
    assert watchdog_interval({"WATCHDOG_USEC": "soon"}) is None


async def test_watchdog_pings_stop_while_the_loop_is_blocked(receiver: socket.socket) -> None:
    pinger = WatchdogPinger(Notifier(), interval=0.02)
    task = asyncio.create_task(pinger.run())
    try:
        assert await recv(receiver) == "WATCHDOG=1"
        drain(receiver)  # everything sent before the block
        time.sleep(0.3)  # blocks the loop itself for ~15 intervals (this is the fault, not a wait)
        assert drain(receiver) == []
        assert await recv(receiver) == "WATCHDOG=1"  # the loop turns again: pings resume
    finally:
        task.cancel()


async def test_watchdog_pings_withheld_while_the_daemon_makes_no_progress(
    receiver: socket.socket,
) -> None:
    progress = asyncio.Event()
    healthy = {"ok": False}

    def alive() -> bool:
        if not healthy["ok"]:
            progress.set()
        return healthy["ok"]

    pinger = WatchdogPinger(Notifier(), interval=0.01, alive=alive)
    task = asyncio.create_task(pinger.run())
    try:
        await asyncio.wait_for(progress.wait(), 5)
        while pinger.withheld < 3:  # several ticks of the pinger have passed
            await asyncio.sleep(0.01)
        assert drain(receiver) == [] and pinger.pings == 0
        healthy["ok"] = True
        assert await recv(receiver) == "WATCHDOG=1"
    finally:
        task.cancel()
