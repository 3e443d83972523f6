"""The control socket: the protocol, its limits, who may connect, and the real daemon behind it."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from booth.daemon import control
from booth.daemon.control import (
    ControlError,
    ControlServer,
    DeviceRow,
    Peer,
    Request,
    Response,
    Status,
    allowed,
)
from booth.daemon.control_target import AppControl
from booth.devserver.calls import CallStatus
from tests.daemon.harness import FakeMic, running_booth


class FakeTarget:
    def __init__(self) -> None:
        self.calls: list[str] = []
        self.state = "idle"

    def status(self) -> Status:
        text = "Ready" if self.state == "idle" else "In a call"
        return Status("booth-x", self.state, text, devices=[DeviceRow("mic", "pass", "ok")])

    def press(self) -> None:
        self.calls.append("press")

    def release(self) -> None:
        self.calls.append("release")

    def double_press(self) -> None:
        self.calls.append("double_press")

    def start_test_call(self) -> None:
        self.calls.append("test_call")

    def end_call(self) -> None:
        self.calls.append("end_call")

    async def check_devices(self) -> list[DeviceRow]:
        return [DeviceRow("speaker", "warn", "quiet", "turn it up")]


@asynccontextmanager
async def serving(path: Path, **kw: float) -> AsyncIterator[tuple[ControlServer, FakeTarget]]:
    target = FakeTarget()
    async with ControlServer(path, target, **kw) as server:  # type: ignore[arg-type]
        yield server, target


async def ask(path: Path, command: control.Command) -> Response:
    return await asyncio.to_thread(control.request, command, path)


async def raw(path: Path, payload: bytes) -> Response:
    reader, writer = await asyncio.open_unix_connection(str(path))
    writer.write(payload)
    await writer.drain()
    line = await reader.readline()
    writer.close()
    return Response.decode(line)


def test_requests_and_responses_round_trip_as_typed_dataclasses() -> None:
    assert Request.decode(Request("double_press").encode()) == Request("double_press")
    status = Status(
        "b1",
        "listening",
        "In a call",
        call_id="c1",
        persona="Alex",
        last_summary={"CALL_ID": "c0", "SCORE": 71},
        devices=[DeviceRow("gpio", "pass", "button 17")],
        pid=42,
    )
    response = Response(True, "status", status=status)
    assert Response.decode(response.encode()) == response
    for bad in (b"not json\n", b"[1]\n", b'{"command": "reboot"}\n', b"\xff\n"):
        with pytest.raises(ControlError):
            Request.decode(bad)
    with pytest.raises(ControlError):
        Response.decode(b'{"ok": true, "status": {"state": "idle"}}\n')  # no booth_id


def test_peer_rule_root_own_user_or_group_member() -> None:
    assert allowed(Peer(1, 0, 0), own_uid=999, group=998)
    assert allowed(Peer(1, 999, 999), own_uid=999, group=998)
    assert allowed(Peer(1, 1000, 1000, (27, 998)), own_uid=999, group=998)
    assert allowed(Peer(1, 1000, 998), own_uid=999, group=998)
    assert not allowed(Peer(1, 1000, 1000, (27,)), own_uid=999, group=998)


async def test_commands_reach_the_target_and_answer_with_status(tmp_path: Path) -> None:
    path = tmp_path / "control.sock"
    async with serving(path) as (_, target):
        assert stat.S_IMODE(path.stat().st_mode) == 0o660 and stat.S_ISSOCK(path.stat().st_mode)
        for command in ("press", "release", "double_press", "test_call", "end_call"):
            response = await ask(path, command)  # type: ignore[arg-type]
            assert response.ok and response.status is not None
            assert response.status.state == "idle"
        assert target.calls == ["press", "release", "double_press", "test_call", "end_call"]
        status = await ask(path, "status")
        assert status.status == Status(
            "booth-x", "idle", "Ready", devices=[DeviceRow("mic", "pass", "ok")]
        )
        checked = await ask(path, "check")
        assert checked.checks == [DeviceRow("speaker", "warn", "quiet", "turn it up")]
        assert target.calls == ["press", "release", "double_press", "test_call", "end_call"]
    assert not path.exists()


async def test_bad_oversized_and_silent_requests_get_an_error(tmp_path: Path) -> None:
    path = tmp_path / "control.sock"
    async with serving(path, request_timeout=0.2) as (_, target):
        unknown = await raw(path, b'{"command": "shutdown"}\n')
        assert not unknown.ok and "unknown command" in unknown.error
        huge = await raw(path, b'{"command": "' + b"x" * (control.MAX_REQUEST * 4) + b'"}\n')
        assert not huge.ok and "bytes" in huge.error
        silent = await raw(path, b'{"command": ')  # never finishes its line
        assert not silent.ok and "time limit" in silent.error
        assert target.calls == []


async def test_a_stale_socket_file_from_a_killed_run_is_replaced(tmp_path: Path) -> None:
    path = tmp_path / "control.sock"
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(path))
    stale.close()
    async with serving(path):
        assert (await ask(path, "status")).ok


def test_no_daemon_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        control.request("status", tmp_path / "control.sock")


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to connect as another user")
async def test_a_user_outside_the_group_is_refused_by_peer_credentials() -> None:
    # A world-writable socket so that only the peer-credential check stands in the way.
    directory = Path(tempfile.mkdtemp(prefix="booth-control-"))
    try:
        directory.chmod(0o755)
        path = directory / "control.sock"
        async with serving(path) as (server, target):
            server.path.chmod(0o666)
            server._uid, server._gid = 4321, 4321  # the daemon's user and group, not nobody's
            code = (
                "import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]);"
                's.sendall(b\'{"command": "press"}\\n\'); print(s.recv(4096).decode())'
            )
            python = shutil.which("python3", path="/usr/bin") or "/usr/bin/python3"
            done = await asyncio.to_thread(
                subprocess.run,
                [python, "-c", code, str(path)],
                user=65534,
                group=65534,
                extra_groups=[],
                capture_output=True,
                text=True,
                timeout=10,
                cwd="/",
            )
            assert Response.decode(done.stdout.encode()).error == "permission denied", done
            assert target.calls == []
            # Root (this test) still gets through.
            assert (await ask(path, "press")).ok and target.calls == ["press"]
    finally:
        shutil.rmtree(directory)


async def test_the_running_daemon_through_its_socket(tmp_path: Path) -> None:
    path = tmp_path / "control.sock"
    async with (
        running_booth(tmp_path, call={"score_display": 5.0}) as b,
        ControlServer(path, AppControl(b.app)),
    ):
        idle = await ask(path, "status")
        assert idle.status is not None and idle.status.state == "idle"
        assert [row.name for row in idle.status.devices] == ["mic", "speaker", "gpio"]
        assert "MockFactory" in idle.status.devices[2].detail
        await ask(path, "test_call")
        await b.wait_state("listening")
        live = await ask(path, "status")
        assert live.status is not None and live.status.call_id == b.call().call_id
        assert live.status.persona == "Alex"
        call = b.call()
        await ask(path, "press")
        await b.wait_state("talking")
        b.mic.speaking = True
        await b.server.wait_frames(call.call_id, 10)
        b.mic.speaking = False
        await ask(path, "release")
        await b.wait_state("listening")
        await ask(path, "end_call")
        await b.wait_state("scoring")
        await b.server.wait_call(call.call_id, CallStatus.SCORED)
        await b.until(lambda: b.app.summaries, what="call summary")
        after = await ask(path, "status")
        assert after.status is not None and after.status.last_summary is not None
        assert after.status.last_summary["CALL_ID"] == call.call_id
        assert call.end_reason == "client_requested"
        assert b.buttons() == ["press", "release", "press", "release", "double_press"]


async def booth_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "booth", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def test_cli_verbs_on_the_socket(tmp_path: Path) -> None:
    path = tmp_path / "control.sock"
    async with serving(path) as (_, target):
        status = await booth_cli("status", "--socket", str(path))
        assert status.returncode == 0, status.stderr
        assert status.stdout.splitlines()[0] == "booth booth-x: idle (Ready)"
        assert "ok    mic      ok" in status.stdout
        as_json = await booth_cli("status", "--json", "--socket", str(path))
        assert json.loads(as_json.stdout)["state"] == "idle"
        held = await booth_cli("press", "--hold", "0.1", "--socket", str(path))
        assert held.returncode == 0 and held.stdout.strip() == "idle (Ready)"
        for args, call in (
            (("press", "--double"), "double_press"),
            (("press", "--release"), "release"),
            (("call", "test"), "test_call"),
            (("call", "end"), "end_call"),
        ):
            assert (await booth_cli(*args, "--socket", str(path))).returncode == 0
            assert target.calls[-1] == call
        assert target.calls == [
            "press", "release", "double_press", "release", "test_call", "end_call"
        ]  # fmt: skip
    gone = await booth_cli("status", "--socket", str(path))
    assert gone.returncode == 69 and "no booth daemon answers" in gone.stderr


async def test_status_watch_prints_each_change(tmp_path: Path) -> None:
    path = tmp_path / "control.sock"
    async with serving(path) as (_, target):
        watch = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "booth", "status", "--json", "--watch", "0.2",
            "--socket", str(path),
            stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        assert watch.stdout is not None
        try:
            first = json.loads(await asyncio.wait_for(watch.stdout.readline(), 30))
            target.state = "listening"
            second = json.loads(await asyncio.wait_for(watch.stdout.readline(), 30))
        finally:
            watch.kill()
            await watch.wait()
        assert (first["state"], second["state"]) == ("idle", "listening")
        assert second["status"] == "In a call"


def test_status_text_from_the_service_is_shown_not_interpreted() -> None:
    from booth.commands.status import render

    status = Status("b1", "listening", "In call", call_id="c1", persona="Eve\x1b[2J\x07")
    text = render(status)
    assert "\x1b" not in text and "\x07" not in text and "with Eve\\x1b[2J\\x07" in text


async def test_a_missing_mic_is_a_failed_row_with_its_fix(tmp_path: Path) -> None:
    mic = FakeMic()
    mic.unplug()
    async with running_booth(tmp_path, mic=mic) as b:
        await b.wait_state("error")
        rows = {row.name: row for row in AppControl(b.app).status().devices}
        assert rows["mic"].status == "fail" and "NO_MIC_AVAILABLE" in rows["mic"].detail
        assert rows["mic"].fix and rows["speaker"].status == "pass"
