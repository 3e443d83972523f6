"""The booth's local control socket: status, the button's inputs, a test call, ending a call.

A Unix stream socket in the runtime directory (``$RUNTIME_DIRECTORY/control.sock``, i.e.
``/run/booth/control.sock`` under systemd), never a network port. Who may use it is checked
twice: the file is 0660 in the booth group (in a 0750 directory), and every connection's peer
credentials (``SO_PEERCRED``, plus ``SO_PEERGROUPS`` for supplementary groups) must be root,
the daemon's own user, or a member of its group.

One request per connection: one line of JSON in, one line of JSON out, then the socket is
closed. A request longer than :data:`MAX_REQUEST` bytes or slower than
:data:`REQUEST_TIMEOUT` seconds is answered with an error; at most :data:`MAX_CLIENTS`
requests are carried out at once. The server knows the booth only through
:class:`ControlTarget`, so wiring it into the daemon is a few lines.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import os
import socket
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol, get_args

from booth.logs import log_event
from booth.ops.checks import Check

log = logging.getLogger("booth.control")

Command = Literal["status", "check", "press", "release", "double_press", "test_call", "end_call"]
COMMANDS: tuple[str, ...] = get_args(Command)
#: One device as the daemon sees it: a `booth doctor` row (name, status, detail, fix).
DeviceRow = Check

SOCKET_NAME = "control.sock"
DEFAULT_SOCKET = Path("/run/booth") / SOCKET_NAME
MAX_REQUEST = 1024
#: Responses carry a status with a call summary: generous, but still bounded for the client.
MAX_RESPONSE = 256 * 1024
REQUEST_TIMEOUT = 5.0
#: A device check opens the mic and speaker for a moment: it gets longer than a plain request.
CHECK_TIMEOUT = 20.0
MAX_CLIENTS = 4
_SO_PEERGROUPS = getattr(socket, "SO_PEERGROUPS", 59)  # Linux >= 4.13


class ControlError(Exception):
    """A request or response that cannot be used; the message says why (never a secret)."""


# ── the protocol: typed requests and responses, one JSON line each ────────────────────────


@dataclass(frozen=True)
class Request:
    command: Command

    def encode(self) -> bytes:
        return json.dumps({"command": self.command}).encode() + b"\n"

    @classmethod
    def decode(cls, line: bytes) -> Request:
        try:
            data = json.loads(line)
        except (UnicodeDecodeError, ValueError) as exc:
            raise ControlError("a request is one line of JSON") from exc
        command = data.get("command") if isinstance(data, dict) else None
        if command not in COMMANDS:
            raise ControlError(f"unknown command; expected one of: {', '.join(COMMANDS)}")
        return cls(command)


@dataclass(frozen=True)
class Status:
    booth_id: str
    state: str
    #: What systemd's STATUS= says, in words.
    status: str
    call_id: str | None = None
    persona: str | None = None
    #: The last call's summary (the fields of its EVENT=call_summary journal record).
    last_summary: dict[str, Any] | None = None
    devices: list[DeviceRow] = field(default_factory=list)
    pid: int = 0

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Status:
        try:
            rows = [DeviceRow(**row) for row in data.get("devices") or []]
            summary = data.get("last_summary")
            return cls(
                booth_id=str(data["booth_id"]),
                state=str(data["state"]),
                status=str(data.get("status") or ""),
                call_id=_opt_str(data.get("call_id")),
                persona=_opt_str(data.get("persona")),
                last_summary=dict(summary) if isinstance(summary, dict) else None,
                devices=rows,
                pid=int(data.get("pid") or 0),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ControlError(f"malformed status from the daemon ({exc})") from exc


@dataclass(frozen=True)
class Response:
    ok: bool
    command: str
    error: str = ""
    #: The booth after the command (every successful command answers with it).
    status: Status | None = None
    #: ``check`` only: the daemon's own device checks.
    checks: list[DeviceRow] | None = None

    def encode(self) -> bytes:
        return json.dumps(dataclasses.asdict(self), default=str).encode() + b"\n"

    @classmethod
    def decode(cls, line: bytes) -> Response:
        try:
            data = json.loads(line)
            if not isinstance(data, dict):
                raise ValueError("not an object")
            status = data.get("status")
            checks = data.get("checks")
            return cls(
                ok=bool(data["ok"]),
                command=str(data.get("command") or ""),
                error=str(data.get("error") or ""),
                status=Status.from_dict(status) if isinstance(status, dict) else None,
                checks=[DeviceRow(**row) for row in checks] if isinstance(checks, list) else None,
            )
        except (UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
            raise ControlError(f"malformed response from the daemon ({exc})") from exc


def _opt_str(value: object) -> str | None:
    return None if value in (None, "") else str(value)


class ControlTarget(Protocol):
    """What the control socket needs from the booth."""

    def status(self) -> Status: ...

    def press(self) -> None: ...

    def release(self) -> None: ...

    def double_press(self) -> None: ...

    def start_test_call(self) -> None: ...

    def end_call(self) -> None: ...

    async def check_devices(self) -> list[DeviceRow]: ...


# ── who may connect ───────────────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class Peer:
    pid: int
    uid: int
    gid: int
    groups: tuple[int, ...] = ()


def peer_of(sock: socket.socket) -> Peer:
    """The connected process's credentials, as the kernel recorded them at connect()."""
    raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    pid, uid, gid = struct.unpack("3i", raw)
    groups: tuple[int, ...] = ()
    with contextlib.suppress(OSError):  # older kernels: the primary group only
        data = sock.getsockopt(socket.SOL_SOCKET, _SO_PEERGROUPS, 4 * 256)
        groups = struct.unpack(f"{len(data) // 4}I", data[: len(data) - len(data) % 4])
    return Peer(pid, uid, gid, groups)


def allowed(peer: Peer, *, own_uid: int, group: int) -> bool:
    """Root, the daemon's own user, or a member of its group (primary or supplementary)."""
    return peer.uid in (0, own_uid) or group == peer.gid or group in peer.groups


# ── the server ────────────────────────────────────────────────────────────────────────────


def socket_path(environ: Mapping[str, str] | None = None) -> Path | None:
    """Where the daemon listens: ``$BOOTH_CONTROL_SOCKET``, else in ``$RUNTIME_DIRECTORY``
    (systemd's RuntimeDirectory=), else nowhere (a `booth run` by hand has no socket)."""
    env = os.environ if environ is None else environ
    if env.get("BOOTH_CONTROL_SOCKET"):
        return Path(env["BOOTH_CONTROL_SOCKET"])
    runtime = env.get("RUNTIME_DIRECTORY", "").split(":")[0]
    return Path(runtime) / SOCKET_NAME if runtime else None


class ControlServer:
    def __init__(
        self,
        path: Path,
        target: ControlTarget,
        *,
        mode: int = 0o660,
        request_timeout: float = REQUEST_TIMEOUT,
    ) -> None:
        self.path = path
        self.target = target
        self.mode = mode
        self.request_timeout = request_timeout
        self._server: asyncio.Server | None = None
        self._slots = asyncio.Semaphore(MAX_CLIENTS)
        self._uid = os.getuid()
        self._gid = os.getgid()

    async def __aenter__(self) -> ControlServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def start(self) -> None:
        # A socket file left by a killed run (RuntimeDirectoryPreserve=restart keeps the
        # directory) would make bind() fail: it is ours, in our own directory.
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        self._server = await asyncio.start_unix_server(
            self._serve, path=str(self.path), limit=MAX_REQUEST
        )
        os.chmod(self.path, self.mode)  # UMask=0077 made it 0600: open it to the group
        log_event(log, logging.INFO, f"control socket at {self.path}", EVENT="control_socket")

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await self._serve_one(reader, writer)
        except (ConnectionError, TimeoutError):
            pass
        except Exception:
            log.exception("control request failed")
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _serve_one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # The request is read (bounded) before anything is answered, refusals included: a
        # client still sending when we close would get EPIPE instead of our answer.
        try:
            async with asyncio.timeout(self.request_timeout):
                line = await reader.readuntil(b"\n")
        except (asyncio.LimitOverrunError, ValueError):  # StreamReader raises ValueError too
            await self._reply(writer, Response(False, "", f"request over {MAX_REQUEST} bytes"))
            return
        except asyncio.IncompleteReadError:
            return  # the client went away
        except TimeoutError:
            await self._reply(writer, Response(False, "", "no request within the time limit"))
            return
        peer = peer_of(writer.get_extra_info("socket"))
        if not allowed(peer, own_uid=self._uid, group=self._gid):
            log_event(
                log,
                logging.WARNING,
                f"control connection refused for uid {peer.uid}",
                EVENT="control_refused",
                PEER_UID=peer.uid,
                PEER_PID=peer.pid,
            )
            await self._reply(writer, Response(False, "", "permission denied"))
            return
        try:
            request = Request.decode(line)
        except ControlError as exc:
            await self._reply(writer, Response(False, "", str(exc)))
            return
        if self._slots.locked():
            await self._reply(writer, Response(False, "", "busy: too many control clients"))
            return
        async with self._slots:
            response = await self.execute(request, peer)
        await self._reply(writer, response)

    async def execute(self, request: Request, peer: Peer) -> Response:
        target = self.target
        command = request.command
        if command not in {"status", "check"}:
            log_event(
                log,
                logging.INFO,
                f"control: {command} (uid {peer.uid})",
                EVENT="control",
                COMMAND=command,
                PEER_UID=peer.uid,
            )
        checks: list[DeviceRow] | None = None
        if command == "press":
            target.press()
        elif command == "release":
            target.release()
        elif command == "double_press":
            target.double_press()
        elif command == "test_call":
            target.start_test_call()
        elif command == "end_call":
            target.end_call()
        elif command == "check":
            async with asyncio.timeout(CHECK_TIMEOUT):
                checks = await target.check_devices()
        return Response(True, command, status=target.status(), checks=checks)

    async def _reply(self, writer: asyncio.StreamWriter, response: Response) -> None:
        writer.write(response.encode())
        async with asyncio.timeout(self.request_timeout):
            await writer.drain()


# ── the client (the CLI's side; blocking, bounded) ────────────────────────────────────────


def request(
    command: Command, path: Path = DEFAULT_SOCKET, *, timeout: float | None = None
) -> Response:
    """Send one request to the daemon and return its answer.

    Raises ``FileNotFoundError``/``ConnectionRefusedError`` when no daemon listens,
    ``PermissionError`` when the socket is not ours to use, ``ControlError`` otherwise."""
    if timeout is None:
        timeout = CHECK_TIMEOUT + 5.0 if command == "check" else REQUEST_TIMEOUT + 1.0
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(str(path))
        sock.sendall(Request(command).encode())
        data = b""
        try:
            while not data.endswith(b"\n"):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
                if len(data) > MAX_RESPONSE:
                    raise ControlError(f"response over {MAX_RESPONSE} bytes")
        except TimeoutError as exc:
            raise ControlError(f"no answer from the daemon within {timeout:g} s") from exc
    if not data:
        raise ControlError("the daemon closed the connection without an answer")
    response = Response.decode(data)
    if not response.ok and response.error == "permission denied":
        raise PermissionError(response.error)
    return response
