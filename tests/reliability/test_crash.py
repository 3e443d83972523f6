"""SIGKILL mid-call, then a restart as systemd would: the new process ends the orphaned call."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

import pytest

from booth.devserver.calls import CallStatus
from booth.sim.supervised import booth_process
from tests.daemon.harness import (
    API_KEY,
    quick_devserver,
    write_run_config,
)

pytestmark = pytest.mark.reliability

REPO = Path(__file__).resolve().parents[2]


async def test_sigkill_mid_call_then_restart_ends_the_orphaned_call(tmp_path: Path) -> None:
    state_dir = tmp_path / "run"
    async with quick_devserver(resume_window=30.0) as server:
        child = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.reliability.crash_child",
            server.url,
            str(state_dir),
            cwd=REPO,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
        assert child.stdin is not None and child.stdout is not None
        child.stdin.write(API_KEY.encode() + b"\n")
        await child.stdin.drain()
        line = await asyncio.wait_for(child.stdout.readline(), 30)
        call_id = line.decode().split()[1]
        assert (state_dir / "call.json").stat().st_mode & 0o777 == 0o600
        assert API_KEY not in (state_dir / "call.json").read_text()
        child.send_signal(signal.SIGKILL)
        await child.wait()
        call = server.calls[call_id]
        await server.wait_until(lambda: call.status is CallStatus.SUSPENDED, 10, "the drop")

        # systemd restarts the service with the same RuntimeDirectory.
        config = write_run_config(tmp_path, server.url)
        async with booth_process(
            config, tmp_path / "notify", env={"RUNTIME_DIRECTORY": str(state_dir)}
        ) as booth:
            await booth.wait_for("READY=1")
            # Ended by the new process, not by the service's resume window running out.
            await server.wait_call(call_id, CallStatus.SCORING, within=10)
            assert call.end_reason == "client_requested"
            assert not (state_dir / "call.json").exists()
        assert "left open by the previous run: ended" in booth.stderr
        assert API_KEY not in booth.stderr
