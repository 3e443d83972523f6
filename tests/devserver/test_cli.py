"""`booth devserver` as a process: key file handling, loopback binding, clean stop."""

from __future__ import annotations

import os
import re
import signal
import stat
import subprocess
import sys
from pathlib import Path

import httpx
import pytest


def _start(tmp_path: Path, *extra: str) -> tuple[subprocess.Popen[str], str]:
    env = dict(os.environ, XDG_STATE_HOME=str(tmp_path / "state"))
    proc = subprocess.Popen(
        [sys.executable, "-m", "booth", "devserver", "--port", "0", "--no-espeak", *extra],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    assert proc.stderr is not None
    lines = []
    for line in proc.stderr:
        lines.append(line)
        match = re.search(r"booth devserver: (http://\S+) ", line)
        if match:
            return proc, "".join(lines) + "\n" + match.group(1)
    proc.wait(10)
    raise AssertionError("devserver did not start:\n" + "".join(lines))


def _stop(proc: subprocess.Popen[str]) -> int:
    proc.send_signal(signal.SIGTERM)
    return proc.wait(10)


def test_generates_a_key_file_and_never_prints_the_key(tmp_path: Path) -> None:
    proc, out = _start(tmp_path)
    url = out.rsplit("\n", 1)[1]
    try:
        key_file = tmp_path / "state" / "booth" / "devserver-api-key"
        assert str(key_file) in out
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        key = key_file.read_text().strip()
        assert key.startswith("ath_live_")
        assert key not in out
        assert url.startswith("http://127.0.0.1:")
        response = httpx.post(
            url + "/api/external/v1/session",
            json={"externalUserId": "b"},
            headers={"Authorization": f"Bearer {key}"},
        )
        assert response.status_code == 200
    finally:
        assert _stop(proc) == 0
    # A second run reuses the key, so a booth configured with it keeps working.
    proc, _ = _start(tmp_path)
    try:
        assert key_file.read_text().strip() == key
    finally:
        _stop(proc)


def test_api_key_file_and_bad_drills(tmp_path: Path) -> None:
    key_file = tmp_path / "key"
    key_file.write_text("ath_live_from_file_123\n")
    proc, out = _start(tmp_path, "--api-key-file", str(key_file))
    try:
        url = out.rsplit("\n", 1)[1]
        response = httpx.get(
            url + "/api/external/v1/calls",
            headers={"Authorization": "Bearer ath_live_from_file_123"},
        )
        assert response.status_code == 200
    finally:
        _stop(proc)
    result = subprocess.run(
        [sys.executable, "-m", "booth", "devserver", "--drills", str(tmp_path / "none")],
        capture_output=True,
        text=True,
        env=dict(os.environ, XDG_STATE_HOME=str(tmp_path / "state")),
        timeout=30,
        check=False,
    )
    assert result.returncode == 78
    assert "not a directory of drill files" in result.stderr


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("::1", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("192.168.1.5", False),
        ("booth.example", False),
    ],
)
def test_loopback_detection(host: str, loopback: bool) -> None:
    # Only the decision is tested: the suite never binds a non-loopback address.
    from booth.transport.urlpolicy import is_loopback_host

    assert is_loopback_host(host) is loopback
