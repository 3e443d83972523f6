"""Secrets stay secret, plain text stays on loopback, and the booth opens no port."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import signal
import sys
from pathlib import Path

import pytest

from booth.logs import registered_secrets
from booth.sim.supervised import booth_process
from booth.transport.link import Link, LinkError
from booth.transport.rest import RestClient
from tests.daemon.harness import (
    API_KEY,
    quick_devserver,
    running_booth,
    write_run_config,
)
from tests.reliability.test_network import audio_arrives, start_call

pytestmark = pytest.mark.reliability


async def test_no_secret_in_any_log_record_of_a_whole_call(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Every record at DEBUG, from every library, as handlers would format it: no key, token,
    ticket or resume token, whole or in part."""
    caplog.set_level(logging.DEBUG)
    async with running_booth(tmp_path, through_proxy=True, panel={"talk_mode": "open"}) as b:
        assert b.proxy is not None
        call_id = await start_call(b)
        await audio_arrives(b, call_id)
        b.proxy.reset()  # a resume: the resume token crosses the wire too
        await b.until(lambda: "reconnecting" in b.states(), 10)
        await b.until(lambda: b.app.machine.state in ("listening", "talking"), 10)
        await b.double_press()
        await b.until(lambda: b.app.summaries, 15)
    secrets = registered_secrets()
    assert API_KEY in secrets
    assert len(secrets) >= 4  # key, session token, ticket, resume tokens
    texts = [caplog.text]
    for record in caplog.records:
        texts.append(record.getMessage())
        texts.extend(str(v) for v in (getattr(record, "fields", None) or {}).values())
    blob = "\n".join(texts)
    for secret in secrets:
        assert secret not in blob
        # Fragments too: a JWT's signature part, the last 16 characters of a ticket.
        assert secret[-16:] not in blob


@pytest.mark.parametrize(
    "url", ["http://10.1.2.3:8765", "http://booth.example.com", "ws://192.168.1.9/ws"]
)
async def test_plain_text_off_loopback_is_refused_before_connecting(url: str) -> None:
    if url.startswith("ws"):
        with pytest.raises(LinkError, match="only allowed on loopback"):
            await Link.open(url)
    else:
        with pytest.raises(ValueError, match="only allowed on loopback"):
            RestClient(url, API_KEY)


def _listening_inodes() -> set[str]:
    inodes: set[str] = set()
    for table, listen_state in (("tcp", "0A"), ("tcp6", "0A"), ("udp", "07"), ("udp6", "07")):
        path = Path("/proc/net") / table
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == listen_state:
                inodes.add(fields[9])
    return inodes


def _socket_inodes(pid: int) -> set[str]:
    found: set[str] = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            match = re.fullmatch(r"socket:\[(\d+)\]", os.readlink(fd))
        except OSError:
            continue
        if match:
            found.add(match[1])
    return found


async def test_booth_run_listens_on_no_port(tmp_path: Path) -> None:
    async with quick_devserver() as server:
        config = write_run_config(tmp_path, server.url)
        async with booth_process(config, tmp_path / "notify") as booth:
            await booth.wait_for("READY=1")
            mine = _socket_inodes(booth.pid)
            assert mine  # it does hold sockets (journal/notify, the pins' none)…
            assert not mine & _listening_inodes()  # …but none of them listens
        assert API_KEY not in booth.stderr


async def test_devserver_binds_loopback_by_default_and_warns_otherwise(tmp_path: Path) -> None:
    from booth.cli import build_parser

    args = build_parser().parse_args(["devserver"])
    assert args.host == "127.0.0.1"
    key = tmp_path / "key"
    key.write_text("ath_live_devserver_bind_test\n")
    key.chmod(0o600)
    proc = await asyncio.create_subprocess_exec(
        # 192.0.2.1 (TEST-NET-1) is on no interface here: the warning comes first, then the bind
        # fails, so nothing ever listens off loopback.
        sys.executable,
        "-m",
        "booth",
        "devserver",
        "--host",
        "192.0.2.1",
        "--port",
        "0",
        "--api-key-file",
        str(key),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stderr is not None
        async with asyncio.timeout(20):
            line = await proc.stderr.readline()
            while b"WARNING" not in line and line:
                line = await proc.stderr.readline()
        assert b"not loopback" in line
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.communicate(), 20)
