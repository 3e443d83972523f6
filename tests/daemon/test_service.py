"""`booth run` as systemd runs it: a real process, NOTIFY_SOCKET, SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

from booth.daemon import control
from booth.daemon.service import install_signal_handlers
from booth.devserver.calls import CallStatus
from booth.sim.supervised import booth_process
from tests.daemon.harness import (
    API_KEY,
    quick_devserver,
    running_booth,
    write_run_config,
)


async def test_real_sigterm_mid_call_ends_the_call_on_the_server(tmp_path: Path) -> None:
    async with running_booth(tmp_path) as b:
        remove = install_signal_handlers(asyncio.get_running_loop(), b.app.request_stop)
        try:
            await b.tap()
            await b.wait_state("listening")
            call = b.call()
            os.kill(os.getpid(), signal.SIGTERM)
            await b.server.wait_call(call.call_id, CallStatus.SCORING, within=10)
            assert call.end_reason == "client_requested"  # `end` sent, not a dropped socket
            await b.until(lambda: any(n.startswith("STOPPING=1") for n in b.notifications))
        finally:
            remove()


async def test_booth_run_process_notifies_systemd_and_stops_on_sigterm(tmp_path: Path) -> None:
    async with quick_devserver() as server:
        config = write_run_config(tmp_path, server.url, booth_id="booth-proc")
        async with booth_process(
            config, tmp_path / "notify", env={"WATCHDOG_USEC": "400000"}
        ) as booth:
            ready = await booth.wait_for("READY=1")
            await booth.wait_for("WATCHDOG=1", within=10)
            booth.proc.send_signal(signal.SIGTERM)
            await booth.wait_for("STOPPING=1", within=10)
            code = await booth.stop()
        assert code == 0, booth.stderr[-2000:]
        assert "booth ready" in booth.stderr
        assert "booth stopped" in booth.stderr
        assert API_KEY not in booth.stderr
        # No sound card on a test machine: the booth still comes up and says so in STATUS.
        assert "STATUS=" in ready


async def test_a_chatty_booth_run_keeps_answering(tmp_path: Path) -> None:
    """More log than a pipe holds (64 kB): the child's stderr is read all along, so the daemon
    never blocks in a log write and stops answering its control socket."""
    async with quick_devserver() as server:
        config = write_run_config(tmp_path, server.url, booth_id="booth-chatty")
        sock = tmp_path / "control.sock"
        env = {"BOOTH_CONTROL_SOCKET": str(sock)}
        async with booth_process(config, tmp_path / "notify", env=env) as booth:
            await booth.wait_for("READY=1")
            for _ in range(2000):  # each logs a ~150-byte "control: release" record
                response = await asyncio.to_thread(control.request, "release", sock, timeout=5)
                assert response.ok
            code = await booth.stop()
        assert code == 0
        assert len(booth.stderr) > 65536
        assert booth.stderr.count("control: release") == 2000
