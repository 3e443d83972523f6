"""This machine's own systemd as PID 1 in systemd-nspawn, over a throwaway overlay of /.

One container per test module (booted once; a few minutes with the provisioning). Inside it:
the booth provisioned by ``scripts/provision`` exactly as a Pi image is (in a chroot of the
overlay, before boot), the devserver as a unit on loopback, virtual ALSA devices paced in real
time (``booth.sim.fifo_devices`` declaring FIFOs as file PCMs in ``/etc/asound.conf``), and
GPIO from gpiozero's mock factory. Nothing touches the host: the overlay's upper layer is a
tmpfs in a private mount namespace, the container has no network but its own loopback, and
the image's network-facing units are masked.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
API_KEY = "ath_live_system_test_key_0000000000000001"
API_URL = "http://127.0.0.1:8765"
TARGET = "booth-test.target"
#: Units of this image that reach out to the network or start servers: never in the container.
MASKED = (
    "systemd-timesyncd.service",
    "avahi-daemon.service",
    "avahi-daemon.socket",
    "apt-daily.timer",
    "apt-daily-upgrade.timer",
    "apt-daily.service",
    "apt-daily-upgrade.service",
    "postgresql.service",
    "man-db.timer",
    "e2scrub_all.timer",
    "fstrim.timer",
    "dpkg-db-backup.timer",
    "systemd-networkd.service",
    "systemd-resolved.service",
    "ssh.service",
    "cron.service",
    "getty@.service",
    "console-getty.service",
    # A tmpfs on /tmp would hide a checkout under /tmp (bound into the container at its path).
    "tmp.mount",
)
BOOT_TIMEOUT = 900.0  # provisioning builds PyAudio and systemd-python with pip


def why_not() -> str:
    """Why this machine cannot run the suite ("" when it can)."""
    if os.geteuid() != 0:
        return "needs root (mounts, namespaces, systemd-nspawn)"
    for tool in ("systemd-nspawn", "unshare", "nsenter", "chroot"):
        if shutil.which(tool) is None:
            extra = " (apt install systemd-container)" if tool == "systemd-nspawn" else ""
            return f"{tool} is missing{extra}"
    if "overlay" not in Path("/proc/filesystems").read_text():
        return "the kernel has no overlayfs"
    if not Path("/usr/bin/python3").exists():
        return "no system interpreter /usr/bin/python3"
    if not (REPO / ".venv" / "bin" / "booth").exists():
        return "no .venv in the checkout (run scripts/setup)"
    return ""


@dataclass
class Container:
    nspawn: subprocess.Popen[bytes]
    leader: int
    log: Path
    booted_in: float
    timings: dict[str, float] = field(default_factory=dict)

    def run(self, command: str, timeout: float = 120.0, stdin: str = "") -> tuple[int, str, str]:
        """Run ``command`` inside the container (all its namespaces, as its root)."""
        proc = subprocess.run(
            ["nsenter", "-t", str(self.leader), "-a", "--", "/usr/bin/env", "-i",
             "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
             "LANG=C.UTF-8", "/bin/sh", "-c", command],
            input=stdin.encode(),
            capture_output=True,
            timeout=timeout,
            check=False,
        )  # fmt: skip
        return (
            proc.returncode,
            proc.stdout.decode(errors="replace"),
            proc.stderr.decode(errors="replace"),
        )

    def sh(
        self, command: str, *, check: bool = True, timeout: float = 120.0, stdin: str = ""
    ) -> str:
        code, out, err = self.run(command, timeout, stdin)
        if check and code != 0:
            raise AssertionError(f"`{command}` exited {code}:\n{out}\n{err}")
        return out

    def show(self, unit: str, *props: str) -> dict[str, str]:
        out = self.sh(f"systemctl show {unit} -p {','.join(props)}")
        return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)

    def journal(self, *filters: str) -> list[dict[str, Any]]:
        out = self.sh("journalctl --no-pager -o json " + " ".join(map(shlex.quote, filters)))
        return [json.loads(line) for line in out.splitlines() if line.strip()]

    def status(self) -> dict[str, Any]:
        return dict(json.loads(self.sh("booth status --json")))

    def until(
        self, what: str, probe: Callable[[], Any], within: float = 60.0, every: float = 0.25
    ) -> Any:
        """Poll ``probe`` (a look into another machine: there is nothing to wait on) until it
        returns something true; its value."""
        deadline = time.monotonic() + within
        while True:
            value = probe()
            if value:
                return value
            if time.monotonic() > deadline:
                tail = self.sh("journalctl -u booth -n 40 --no-pager", check=False)
                raise AssertionError(f"timed out after {within:g} s waiting for {what}\n{tail}")
            time.sleep(every)


def _units(stage: Path) -> None:
    etc = stage / "root" / "etc"
    system = etc / "systemd" / "system"
    system.mkdir(parents=True)
    for unit in MASKED:
        (system / unit).symlink_to("/dev/null")
    venv = REPO / ".venv" / "bin"
    (system / TARGET).write_text(
        "[Unit]\nDescription=booth system test: the base system only\n"
        "Requires=basic.target\nAfter=basic.target\nAllowIsolate=yes\n"
    )
    (etc / "booth-test").mkdir()
    (etc / "booth-test" / "api_key").write_text(API_KEY + "\n")
    (etc / "booth-test" / "api_key").chmod(0o600)
    # The devserver the booth calls, on the container's loopback; started once it listens.
    (etc / "booth-test" / "wait-port.py").write_text(
        "import socket, time\n"
        "for _ in range(600):\n"
        "    try:\n"
        "        socket.create_connection(('127.0.0.1', 8765), 1).close()\n"
        "        break\n"
        "    except OSError:\n"
        "        time.sleep(0.1)\n"
    )
    (system / "booth-devserver.service").write_text(
        "[Unit]\nDescription=booth devserver (the voice service, on loopback)\n"
        "[Service]\n"
        f"ExecStart={venv}/booth devserver --host 127.0.0.1 --port 8765 "
        "--api-key-file /etc/booth-test/api_key --no-espeak\n"
        f"ExecStartPost={venv}/python /etc/booth-test/wait-port.py\n"
        "Environment=PYTHONDONTWRITEBYTECODE=1\n"
    )
    (system / "booth-sim-audio.service").write_text(
        "[Unit]\nDescription=virtual ALSA mic and speaker for the booth\n"
        "[Service]\nType=notify\n"
        f"ExecStart={venv}/python -m booth.sim.fifo_devices --dir /run/booth-sim "
        "--asoundrc /etc/asound.conf --rate 16000\n"
        f"WorkingDirectory={REPO}\nEnvironment=PYTHONDONTWRITEBYTECODE=1\n"
    )
    dropin = system / "booth.service.d"
    dropin.mkdir()
    (dropin / "system-test.conf").write_text(
        "# The test bench around the booth: its service and devices, and mock GPIO pins.\n"
        "[Unit]\nWants=booth-devserver.service booth-sim-audio.service\n"
        "After=booth-devserver.service booth-sim-audio.service\n"
        "[Service]\nEnvironment=GPIOZERO_PIN_FACTORY=mock\n"
    )


def _leader(nspawn: subprocess.Popen[bytes]) -> int:
    children = Path(f"/proc/{nspawn.pid}/task/{nspawn.pid}/children")
    with contextlib.suppress(OSError):
        for pid in children.read_text().split():
            if Path(f"/proc/{pid}/comm").read_text().strip() == "systemd":
                return int(pid)
    return 0


@pytest.fixture(scope="module")
def container(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Container]:
    reason = why_not()
    if reason:
        pytest.skip(reason)
    stage = tmp_path_factory.mktemp("system")
    _units(stage)
    key_file = stage / "api_key"
    key_file.write_text(API_KEY + "\n")
    key_file.chmod(0o600)
    pip_cache = subprocess.run(
        [sys.executable, "-m", "pip", "cache", "dir"], capture_output=True, text=True, check=False
    ).stdout.strip() or str(stage / "pip-cache")
    log = stage / "boot.log"
    started = time.monotonic()
    with log.open("wb") as out:
        nspawn = subprocess.Popen(
            ["unshare", "--mount", "--propagation", "private", "--",
             str(REPO / "tests/system/boot.sh"), str(stage), str(REPO), pip_cache,
             str(key_file), API_URL],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        box = Container(nspawn, 0, log, 0.0)
        deadline = time.monotonic() + BOOT_TIMEOUT
        while not box.leader:
            if nspawn.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"the container did not boot:\n{log.read_text()[-4000:]}")
            time.sleep(0.2)
            box.leader = _leader(nspawn)
        state = box.until(
            "the container's systemd to finish booting",
            lambda: box.sh("systemctl is-system-running --wait", check=False).strip(),
            within=180,
        )
        box.booted_in = time.monotonic() - started
        assert state in ("running", "degraded"), state + box.sh("systemctl --failed", check=False)
        yield box
    finally:
        if nspawn.poll() is None:
            nspawn.send_signal(signal.SIGTERM)  # nspawn asks the container's systemd to halt
            try:
                nspawn.wait(60)
            except subprocess.TimeoutExpired:
                nspawn.kill()
                nspawn.wait(10)
        with contextlib.suppress(OSError):
            (stage / "mnt").rmdir()
