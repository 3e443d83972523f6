"""systemd notify: READY=1, STATUS=…, WATCHDOG=1, STOPPING=1 over $NOTIFY_SOCKET.

The protocol is one ``KEY=value`` per line in a datagram to an AF_UNIX socket (a leading
``@`` means the abstract namespace), sent here without blocking. Not libsystemd's sd_notify:
its socket blocks when the receiver's queue is full, and a status line sent from the event
loop then stops the whole booth (buttons, audio, the control socket) until the supervisor
reads; a message that cannot go now is dropped instead. Off systemd (no NOTIFY_SOCKET) every
call is a cheap no-op. Never raises: a booth must not die because its supervisor's socket
hiccuped.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable, Mapping

from booth.wakeups import sleep_on_grid

log = logging.getLogger(__name__)


class Notifier:
    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        self.address = env.get("NOTIFY_SOCKET", "")
        self._sock: socket.socket | None = None
        self._warned = False
        self.sent = 0

    @property
    def enabled(self) -> bool:
        return bool(self.address)

    def send(self, **fields: str) -> bool:
        if not self.address:
            return False
        text = "\n".join(f"{k}={v.replace(chr(10), ' ')}" for k, v in fields.items())
        try:
            ok = self._send_datagram(text)
        except OSError as exc:
            ok = False
            if not self._warned:
                log.warning("systemd notify failed: %s", exc.strerror or exc)
                self._warned = True
        if ok:
            self.sent += 1
        return bool(ok)

    def _send_datagram(self, text: str) -> bool:
        address = self.address
        if address.startswith("@"):
            address = "\0" + address[1:]
        elif not address.startswith("/"):
            raise OSError(f"unsupported NOTIFY_SOCKET {self.address!r}")
        if self._sock is None:
            self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
            # Never block the loop on a full receiver queue: drop the message instead.
            self._sock.setblocking(False)
        self._sock.sendto(text.encode("utf-8"), address)
        return True

    def ready(self, status: str = "") -> bool:
        if status:
            return self.send(READY="1", STATUS=status)
        return self.send(READY="1")

    def status(self, text: str) -> bool:
        return self.send(STATUS=text)

    def watchdog(self) -> bool:
        return self.send(WATCHDOG="1")

    def stopping(self, status: str = "") -> bool:
        if status:
            return self.send(STOPPING="1", STATUS=status)
        return self.send(STOPPING="1")

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


def watchdog_interval(environ: Mapping[str, str] | None = None) -> float | None:
    """Half of WATCHDOG_USEC in seconds, when systemd asked this process for pings."""
    env = os.environ if environ is None else environ
    try:
        usec = int(env.get("WATCHDOG_USEC", ""))
    except ValueError:
        return None
    pid = env.get("WATCHDOG_PID")
    if usec <= 0 or (pid and pid != str(os.getpid())):
        return None
    return usec / 2 / 1_000_000


class WatchdogPinger:
    """Pings from a task on the daemon's loop, so a blocked loop stops the pings and systemd
    restarts the service. ``alive`` adds a progress check (say, the daemon's tick ran lately):
    while it says no, pings are withheld even though the loop itself still turns."""

    def __init__(
        self,
        notifier: Notifier,
        interval: float,
        alive: Callable[[], bool] | None = None,
    ) -> None:
        self.notifier = notifier
        self.interval = interval
        self.alive = alive
        self.pings = 0
        self.withheld = 0

    async def run(self) -> None:
        while True:
            await sleep_on_grid(self.interval)
            if self.alive is not None and not self.alive():
                if self.withheld == 0:
                    log.error("daemon is not making progress: withholding watchdog pings")
                self.withheld += 1
                continue
            if self.withheld:
                log.warning("daemon is making progress again: watchdog pings resume")
                self.withheld = 0
            if self.notifier.watchdog():
                self.pings += 1
