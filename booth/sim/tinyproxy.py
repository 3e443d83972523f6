"""A real HTTP proxy for tests and ``booth bench transport``: tinyproxy (Debian's
``tinyproxy-bin``) as a child process with a config written for it, ended by its PID.

The config names the address it listens on, who may use it (``Allow``), the ports CONNECT may
reach (``ConnectPort``) and, optionally, a Basic credential (``BasicAuth``).
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

READY_WITHIN_S = 10.0


@dataclass(frozen=True)
class TinyProxy:
    host: str
    port: int
    pid: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def available() -> bool:
    return shutil.which("tinyproxy") is not None


def write_config(
    path: Path,
    *,
    listen: str,
    port: int,
    allow: Iterable[str],
    connect_ports: Iterable[int],
    basic_auth: tuple[str, str] | None = None,
) -> Path:
    log = path.with_suffix(".log")
    lines = [
        f"Port {port}",
        f"Listen {listen}",
        "Timeout 60",
        "MaxClients 64",
        f'LogFile "{log}"',
        "LogLevel Info",
        "DisableViaHeader Yes",
        *(f"Allow {who}" for who in allow),
        # Without any ConnectPort line tinyproxy allows CONNECT to every port.
        *(f"ConnectPort {p}" for p in connect_ports),
    ]
    if basic_auth is not None:
        lines.append(f"BasicAuth {basic_auth[0]} {basic_auth[1]}")
    path.write_text("\n".join(lines) + "\n")
    path.chmod(0o600)  # it may hold the test's proxy password
    return log


@contextlib.contextmanager
def running(
    directory: Path,
    *,
    listen: str = "127.0.0.1",
    allow: Iterable[str] = ("127.0.0.1",),
    connect_ports: Iterable[int] = (),
    basic_auth: tuple[str, str] | None = None,
) -> Iterator[TinyProxy]:
    """tinyproxy in the foreground on ``listen`` (a free port), ended by PID on exit."""
    binary = shutil.which("tinyproxy")
    if binary is None:
        raise FileNotFoundError("tinyproxy is not installed (apt install tinyproxy-bin)")
    port = _free_port(listen)
    conf = directory / f"tinyproxy-{port}.conf"
    log = write_config(
        conf,
        listen=listen,
        port=port,
        allow=allow,
        connect_ports=connect_ports,
        basic_auth=basic_auth,
    )
    proc = subprocess.Popen(  # noqa: S603 (our config, our binary)
        [binary, "-d", "-c", str(conf)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_listening(proc, listen, port, log)
        yield TinyProxy(listen, port, proc.pid, log)
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


def _wait_listening(proc: subprocess.Popen[bytes], host: str, port: int, log: Path) -> None:
    """Until a TCP connect to the proxy succeeds (it has bound), or it exits, or 10 s."""
    deadline = time.monotonic() + READY_WITHIN_S
    while True:
        if proc.poll() is not None:
            text = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(f"tinyproxy exited with {proc.returncode}: {text}")
        try:
            socket.create_connection((host, port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"tinyproxy did not listen on {host}:{port}") from None
            time.sleep(0.02)  # polling the condition itself (a bind we cannot be told about)
