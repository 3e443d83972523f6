"""`booth doctor`'s proxy row against a real proxy (tinyproxy on loopback): reachable, CONNECT
allowed to the service's host and port, credential accepted; each failure with its fix. The
reach and mint checks then go through the proxy, as the booth does."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from booth.sim import tinyproxy
from tests.ops.conftest import KEY, TOKEN
from tests.support.httpproxy import PASSWORD, USER, needs_tinyproxy

pytestmark = needs_tinyproxy


def booth_config(tmp_path: Path, api_url: str, proxy: str, auth: str | None) -> Path:
    key = tmp_path / "api_key"
    key.write_text(KEY + "\n")
    key.chmod(0o600)
    lines = [f'api_url = "{api_url}"', f'api_key_file = "{key}"', f'proxy = "{proxy}"']
    if auth is not None:
        auth_file = tmp_path / "proxy_auth"
        auth_file.write_text(auth + "\n")
        auth_file.chmod(0o600)
        lines.append(f'proxy_auth_file = "{auth_file}"')
    config = tmp_path / "booth.toml"
    config.write_text("[service]\n" + "\n".join(lines) + "\n")
    return config


DOCTOR = ["doctor", "--json", "--no-audio", "--no-gpio", "--mint"]


def doctor(config: Path) -> tuple[int, dict[str, dict[str, str]]]:
    env = {k: v for k, v in os.environ.items() if k != "CREDENTIALS_DIRECTORY"}
    proc = subprocess.run(
        [sys.executable, "-m", "booth", *DOCTOR, "--config", str(config)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    for secret in (KEY, TOKEN, PASSWORD):
        assert secret not in proc.stdout + proc.stderr
    return proc.returncode, {r["name"]: r for r in json.loads(proc.stdout)}


def test_a_working_proxy_passes_and_the_service_is_reached_through_it(
    tmp_path: Path, service: str
) -> None:
    port = urlsplit(service).port
    with tinyproxy.running(tmp_path, basic_auth=(USER, PASSWORD), connect_ports=[port]) as proxy:
        code, rows = doctor(booth_config(tmp_path, service, proxy.url, f"{USER}:{PASSWORD}"))
        log = proxy.log_text()
    assert code == 0, rows
    assert rows["proxy"]["status"] == "pass"
    assert rows["proxy"]["detail"] == (
        f"127.0.0.1:{proxy.port}: reachable, user {USER} accepted, "
        f"CONNECT to 127.0.0.1:{port} allowed"
    )
    assert rows["reach"]["status"] == "pass"
    assert rows["mint"]["status"] == "pass"
    # The reach and mint requests went through the proxy (plain http on loopback: forwarded).
    assert re.search(rf"GET http://127\.0\.0\.1:{port}/ ", log)
    assert re.search(rf"POST http://127\.0\.0\.1:{port}/api/external/v1/session ", log)


@pytest.mark.parametrize(
    ("case", "detail", "fix"),
    [
        ("connect refused", "refused CONNECT to 127.0.0.1:{port} (HTTP 403 Forbidden)",
         "allow CONNECT to 127.0.0.1:{port}"),
        ("wrong password", "rejected the proxy credential", f"user {USER!r}"),
        ("no credential", "requires a user and password", "--proxy-auth-file"),
        ("unreachable", "cannot connect", "check service.proxy"),
    ],
)  # fmt: skip
def test_each_proxy_failure_has_its_fix(
    tmp_path: Path, service: str, case: str, detail: str, fix: str
) -> None:
    port = urlsplit(service).port
    allowed = [9] if case == "connect refused" else [port]
    auth = {"wrong password": f"{USER}:not-the-password", "no credential": None}.get(
        case, f"{USER}:{PASSWORD}"
    )
    with tinyproxy.running(tmp_path, basic_auth=(USER, PASSWORD), connect_ports=allowed) as proxy:
        url = proxy.url
        if case == "unreachable":
            with socket.socket() as unused:
                unused.bind(("127.0.0.1", 0))
                url = f"http://127.0.0.1:{unused.getsockname()[1]}"
        code, rows = doctor(booth_config(tmp_path, service, url, auth))
    assert code == 1
    row = rows["proxy"]
    assert row["status"] == "fail"
    assert row["detail"].startswith(f"proxy {urlsplit(url).netloc}: ")
    assert detail.format(port=port) in row["detail"]
    assert fix.format(port=port) in row["fix"]
    assert rows["reach"]["status"] == "skip"
    assert rows["mint"]["status"] == "skip"


def test_an_unreadable_proxy_credential_names_file_and_key(tmp_path: Path, service: str) -> None:
    config = booth_config(tmp_path, service, "http://127.0.0.1:9", None)
    config.write_text(config.read_text() + f'proxy_auth_file = "{tmp_path}/missing"\n')
    code, rows = doctor(config)
    assert code == 1
    assert rows["proxy"]["status"] == "fail"
    assert f"service.proxy_auth_file: {tmp_path}/missing: no such file" in rows["proxy"]["detail"]
