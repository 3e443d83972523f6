"""A real systemd-journald in a private mount namespace, for tests that log and read back.

As root, ``unshare -m`` gives journald its own tmpfs on /run/systemd and /run/log, so its
sockets and journal files never touch the host's. Processes join that namespace to log to it
(the standard socket path /run/systemd/journal/socket then reaches *this* journald), and
journalctl reads it back, inside the namespace or from outside with
``--directory=<journal.directory>`` (``/proc/<pid>/root/...`` sees the namespace's mounts).

    with private_journal(tmp_path) as journal:          # skips the test when not root
        journal.call(my_function, arg)                  # runs in a forked child, inside
        journal.run(["booth", "history", "--json"])     # a command inside the namespace
        entries = journal.entries(SYSLOG_IDENTIFIER="booth")

Startup is synchronised on journald's own sd_notify READY=1, not on a sleep.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import pickle
import shutil
import socket
import subprocess
import sys
import traceback
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

import pytest

JOURNALD = Path("/lib/systemd/systemd-journald")
CLONE_NEWNS = 0x00020000
T = TypeVar("T")

_CONF = """\
[Journal]
Storage=volatile
ReadKMsg=no
RateLimitBurst=0
ForwardToSyslog=no
ForwardToWall=no
ForwardToConsole=no
ForwardToKMsg=no
Audit=no
"""

# Runs under `unshare -m`: private mounts, then exec journald (so its pid is the handle).
_SCRIPT = """\
set -eu
mount --make-rprivate /
mount -t tmpfs -o mode=0755 tmpfs /run/systemd
mount -t tmpfs -o mode=0755 tmpfs /run/log
mkdir -p /run/systemd/journal
if [ -e /etc/systemd/journald.conf ]; then
  mount --bind "$1" /etc/systemd/journald.conf
fi
# Drop-ins on the host must not change the test journal's behaviour.
if [ -d /etc/systemd/journald.conf.d ]; then
  mount -t tmpfs tmpfs /etc/systemd/journald.conf.d
fi
exec "$2"
"""


def unavailable_reason() -> str | None:
    """Why a private journald cannot run here, or None when it can."""
    if os.geteuid() != 0:
        return "needs root (mount namespaces)"
    for tool in ("unshare", "nsenter", "journalctl"):
        if shutil.which(tool) is None:
            return f"{tool} not installed"
    if not JOURNALD.exists():
        return f"{JOURNALD} not installed"
    return None


class PrivateJournal:
    def __init__(self, workdir: Path, start_timeout: float = 15.0) -> None:
        self.workdir = workdir
        self.start_timeout = start_timeout
        self.proc: subprocess.Popen[bytes] | None = None

    # -- lifecycle ------------------------------------------------------------------------
    def start(self) -> PrivateJournal:
        self.workdir.mkdir(parents=True, exist_ok=True)
        conf = self.workdir / "journald.conf"
        conf.write_text(_CONF)
        notify_path = self.workdir / "notify.sock"
        with contextlib.suppress(FileNotFoundError):
            notify_path.unlink()
        notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            notify.bind(str(notify_path))
            notify.settimeout(self.start_timeout)
            env = {
                "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                "NOTIFY_SOCKET": str(notify_path),
            }
            self.proc = subprocess.Popen(
                ["unshare", "-m", "sh", "-c", _SCRIPT, "sh", str(conf), str(JOURNALD)],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            self._wait_ready(notify)
        except BaseException:
            self.stop()
            raise
        finally:
            notify.close()
        return self

    def _wait_ready(self, notify: socket.socket) -> None:
        while True:
            try:
                data = notify.recv(4096)
            except TimeoutError:
                raise RuntimeError(f"journald sent no READY=1: {self._stderr()}") from None
            if b"READY=1" in data.split(b"\n"):
                return

    def _stderr(self) -> str:
        if self.proc is None or self.proc.poll() is None or self.proc.stderr is None:
            return "(still running)"
        return self.proc.stderr.read().decode(errors="replace")

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stderr is not None:
            self.proc.stderr.close()
        self.proc = None

    def __enter__(self) -> PrivateJournal:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- inside the namespace -------------------------------------------------------------
    @property
    def pid(self) -> int:
        assert self.proc is not None, "journal not started"
        return self.proc.pid

    @property
    def directory(self) -> Path:
        """The journal files, as seen from outside the namespace (for journalctl --directory)."""
        return Path(f"/proc/{self.pid}/root/run/log/journal")

    def nsenter(self, argv: Sequence[str]) -> list[str]:
        return ["nsenter", f"--mount=/proc/{self.pid}/ns/mnt", "--", *argv]

    def run(
        self, argv: Sequence[str], *, check: bool = True, **kwargs: Any
    ) -> subprocess.CompletedProcess[str]:
        """Run a command inside the namespace (it logs to and reads this journal)."""
        kwargs.setdefault("capture_output", True)
        kwargs.setdefault("timeout", 60)
        return subprocess.run(self.nsenter(argv), text=True, check=check, **kwargs)

    def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run ``fn(*args, **kwargs)`` in a forked child that joined the namespace.

        The result (or exception) comes back pickled. The child is single-threaded, which
        setns(CLONE_NEWNS) requires.
        """
        ns_fd = os.open(f"/proc/{self.pid}/ns/mnt", os.O_RDONLY)
        read_end, write_end = os.pipe()
        try:
            child = os.fork()
            if child == 0:  # pragma: no cover - runs in the child
                os.close(read_end)
                _child(ns_fd, write_end, fn, args, kwargs)
            os.close(write_end)
            with os.fdopen(read_end, "rb") as pipe:
                payload = pipe.read()
            _, status = os.waitpid(child, 0)
        finally:
            os.close(ns_fd)
        if not payload:
            raise RuntimeError(f"child died without a result (wait status {status})")
        ok, value = pickle.loads(payload)
        if not ok:
            raise RuntimeError(f"in the journal namespace: {value}")
        return value  # type: ignore[no-any-return]

    # -- reading back ---------------------------------------------------------------------
    def sync(self) -> None:
        """Make journald write everything it has received (journalctl --sync)."""
        self.run(["journalctl", "--sync"])

    def entries(self, *matches: str, **fields: str) -> list[dict[str, Any]]:
        """Every entry (after a sync), optionally filtered by journalctl FIELD=value matches."""
        self.sync()
        argv = ["journalctl", "-o", "json", "--no-pager", "--directory", str(self.directory)]
        argv += [*matches, *(f"{k}={v}" for k, v in fields.items())]
        proc = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=60)
        if proc.returncode not in (0, 1) or (proc.returncode == 1 and proc.stdout):
            raise RuntimeError(f"journalctl failed: {proc.stderr}")
        return [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]


def _setns(fd: int) -> None:
    if hasattr(os, "setns"):  # Python 3.12+
        os.setns(fd, CLONE_NEWNS)
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, CLONE_NEWNS) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


def _child(ns_fd: int, out_fd: int, fn: Callable[..., Any], args: Any, kwargs: Any) -> None:
    code = 0
    try:
        _setns(ns_fd)
        result: tuple[bool, Any] = (True, fn(*args, **kwargs))
    except BaseException:
        result = (False, traceback.format_exc())
        code = 1
    try:
        data = pickle.dumps(result)
    except Exception:
        data = pickle.dumps((False, f"unpicklable result: {result[1]!r}"))
        code = 1
    with os.fdopen(out_fd, "wb") as out:
        out.write(data)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def booth_journal_logging(level: str = "info", **context: object) -> None:
    """booth.logs.setup_logging(target="journal") for a child inside the namespace."""
    from booth.logs import setup_logging

    assert setup_logging(level, "journal", **context) == "journal"


@contextlib.contextmanager
def private_journal(workdir: Path) -> Iterator[PrivateJournal]:
    """A started PrivateJournal; skips the calling test where one cannot run."""
    reason = unavailable_reason()
    if reason:
        pytest.skip(f"private journald: {reason}")
    with PrivateJournal(workdir) as journal:
        yield journal
