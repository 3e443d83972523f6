"""`booth run` as systemd runs it: a real process, NOTIFY_SOCKET, SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from pathlib import Path

from booth.daemon.service import install_signal_handlers
from booth.devserver import DevServer
from booth.devserver.calls import CallStatus
from tests.daemon.harness import API_KEY, quick_drill, running_booth, server_settings


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
    key_file = tmp_path / "api_key"
    key_file.write_text(API_KEY + "\n")
    key_file.chmod(0o600)
    async with DevServer(
        api_keys={API_KEY},
        settings=server_settings(),
        drills={"quick": quick_drill()},
        use_espeak=False,
    ) as server:
        config = tmp_path / "booth.toml"
        config.write_text(
            f'[booth]\nid = "booth-proc"\n'
            f'[service]\napi_url = "{server.url}"\ndrill_key = "quick"\n'
            f'api_key_file = "{key_file}"\n'
            f'[panel]\npin_factory = "mock"\n'
            f'[logging]\ntarget = "stderr"\n'
        )
        notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        notify.bind(str(tmp_path / "notify"))
        notify.setblocking(False)
        env = dict(os.environ, NOTIFY_SOCKET=str(tmp_path / "notify"), WATCHDOG_USEC="400000")
        env.pop("WATCHDOG_PID", None)
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "booth",
            "run",
            "--config",
            str(config),
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        loop = asyncio.get_running_loop()
        got: list[str] = []

        async def until(prefix: str) -> None:
            while not any(m.startswith(prefix) for m in got):
                got.append((await loop.sock_recv(notify, 4096)).decode())

        try:
            await asyncio.wait_for(until("READY=1"), 30)
            await asyncio.wait_for(until("WATCHDOG=1"), 10)
            proc.send_signal(signal.SIGTERM)
            await asyncio.wait_for(until("STOPPING=1"), 10)
            _, err = await asyncio.wait_for(proc.communicate(), 15)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
            notify.close()
        assert proc.returncode == 0, err.decode()[-2000:]
        text = err.decode()
        assert "booth ready" in text and "booth stopped" in text
        assert API_KEY not in text
        # No sound card on a test machine: the booth still comes up and says so in STATUS.
        ready = next(m for m in got if m.startswith("READY=1"))
        assert "STATUS=" in ready
