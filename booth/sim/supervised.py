"""A `booth run` child process with its own NOTIFY_SOCKET, as systemd would run it.

For the benches (start → READY) and the tests that need the real process (signals, sockets it
holds, a restart after SIGKILL). The child never gets the API key on its command line.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
from collections.abc import AsyncIterator, Mapping
from pathlib import Path

from booth.interpreter import module_command

#: What a child's stderr is kept up to (the rest is read and dropped).
STDERR_KEPT = 4 << 20


class BoothProcess:
    def __init__(self, proc: asyncio.subprocess.Process, notify: socket.socket) -> None:
        self.proc = proc
        self._notify = notify
        #: Every sd_notify datagram received so far, in order.
        self.messages: list[str] = []
        #: The child's stderr, once it has stopped (its first STDERR_KEPT bytes).
        self.stderr = ""
        self._stopped = False
        # Read all along: a child whose stderr pipe fills (64 kB) blocks in its next log
        # write, event loop and all, and stops answering.
        self._err = bytearray()
        self._reader = asyncio.get_running_loop().create_task(self._read_stderr())

    async def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        while chunk := await self.proc.stderr.read(65536):
            self._err += chunk[: max(0, STDERR_KEPT - len(self._err))]

    @property
    def pid(self) -> int:
        return self.proc.pid

    async def wait_for(self, field: str, within: float = 30.0) -> str:
        """The first notify message carrying ``field`` (e.g. "READY=1")."""
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(within):
            while True:
                for message in self.messages:
                    if field in message.split("\n"):
                        return message
                self.messages.append((await loop.sock_recv(self._notify, 4096)).decode())

    async def stop(self, within: float = 20.0) -> int:
        """SIGTERM, then the exit code (killed if it does not stop within ``within``).

        Idempotent: the context manager stops it again on the way out."""
        if self._stopped:
            assert self.proc.returncode is not None
            return self.proc.returncode
        self._stopped = True
        if self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(self.proc.wait(), within)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()
        await self._reader  # to the pipe's end
        self.stderr = self._err.decode(errors="replace")
        assert self.proc.returncode is not None
        return self.proc.returncode


@contextlib.asynccontextmanager
async def booth_process(
    config: Path, notify_path: Path, env: Mapping[str, str] | None = None
) -> AsyncIterator[BoothProcess]:
    """Start `booth run --config CONFIG`; stop it (SIGTERM) on the way out."""
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(notify_path))
    notify.setblocking(False)
    child_env = dict(os.environ, NOTIFY_SOCKET=str(notify_path), **(env or {}))
    if "WATCHDOG_USEC" not in (env or {}):
        child_env.pop("WATCHDOG_USEC", None)
    child_env.pop("WATCHDOG_PID", None)
    try:
        proc = await asyncio.create_subprocess_exec(
            *module_command("booth", "run", "--config", str(config)),
            env=child_env,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        booth = BoothProcess(proc, notify)
        try:
            yield booth
        finally:
            await booth.stop()
    finally:
        notify.close()
