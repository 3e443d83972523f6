"""The booth behind a corporate proxy, for real: the booth's sockets live in a network namespace
whose only way out is a veth to the proxy's address; tinyproxy listens there (root side) and
carries the call on to the devserver on the root side's loopback.

    booth (netns: 10.231.x.2, no route but the /30) ═ veth ═▶ tinyproxy 10.231.x.1 ─▶ devserver

The namespace's own 127.0.0.1 has nothing on the devserver's port, so anything the booth tried
to reach directly would fail: a call that works went through the proxy.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from booth import call_events as ev
from booth.daemon.sessions import rest_factory_for, session_factory_for
from booth.devserver.calls import CallStatus
from booth.secret import Secret
from booth.sim import tinyproxy
from booth.sim.tinyproxy import TinyProxy
from booth.transport.proxy import HttpProxy
from booth.transport.rest import NetworkError, RestClient, RetryPolicy
from tests.daemon.harness import API_KEY, Booth, running_booth
from tests.reliability import test_netns
from tests.reliability.conftest import Record
from tests.reliability.test_network import IN_CALL, OPEN_MIC, audio_arrives, start_call
from tests.support.httpproxy import PASSWORD, USER

pytestmark = [
    pytest.mark.reliability,
    pytest.mark.root,
    pytest.mark.slow,
    pytest.mark.skipif(
        os.geteuid() != 0 or shutil.which("ip") is None or not tinyproxy.available(),
        reason="needs root, iproute2 and tinyproxy",
    ),
]

# The namespace and veth of the dead-link test: (namespace, root-side veth, root-side address).
veth_namespace = test_netns.veth_namespace


def booth_address(here: str) -> str:
    return here.rsplit(".", 1)[0] + ".2"


@contextlib.contextmanager
def sockets_in(ns: str) -> Iterator[Callable[..., None]]:
    """Until exit, every socket this thread (the event loop's) creates belongs to ``ns``;
    those made before (the devserver's listener) stay where they are. Yields ``ip(...)``,
    run in the namespace the test started in (where the root-side veth is)."""
    libc = ctypes.CDLL(None, use_errno=True)

    def enter(handle: int) -> None:
        if libc.setns(handle, test_netns.CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "setns")

    with open("/proc/thread-self/ns/net") as home, open(f"/run/netns/{ns}") as there:

        def ip_at_home(*args: str) -> None:
            enter(home.fileno())
            try:
                test_netns.ip(*args)
            finally:
                enter(there.fileno())

        enter(there.fileno())
        try:
            yield ip_at_home
        finally:
            enter(home.fileno())


def through(b: Booth, proxy: HttpProxy) -> None:
    """The booth's calls and score polling use ``proxy``: the factories BoothApp builds from
    the ``proxy`` that `booth run` loads from the config."""
    b.app.proxy = proxy
    b.app.session_factory = session_factory_for(b.app.config, Secret(API_KEY), proxy=proxy)
    b.app.rest_factory = rest_factory_for(b.app.config, Secret(API_KEY), proxy)


@contextlib.contextmanager
def proxy_for(
    tmp_path: Path, here: str, service_port: int, *, connect_port: int | None = None
) -> Iterator[TinyProxy]:
    with tinyproxy.running(
        tmp_path,
        listen=here,
        allow=[booth_address(here)],
        connect_ports=[connect_port or service_port],
        basic_auth=(USER, PASSWORD),
    ) as proxy:
        yield proxy


def assert_no_secrets(text: str, proxy: HttpProxy) -> None:
    header = proxy.authorization() or ""
    for secret in (PASSWORD, API_KEY, header.removeprefix("Basic ")):
        assert secret not in text


async def test_a_whole_call_and_a_black_holed_link_through_the_proxy(
    tmp_path: Path,
    figure: Record,
    veth_namespace: tuple[str, str, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    ns, outer, here = veth_namespace
    server_kw = {"resume_window": 40.0}
    async with running_booth(tmp_path, panel=OPEN_MIC, server_kw=server_kw) as b:
        with proxy_for(tmp_path, here, b.server.port) as tp, sockets_in(ns) as ip:
            proxy = HttpProxy(here, tp.port, USER, Secret(PASSWORD))
            # Nothing but the proxy is reachable from here.
            direct = RestClient(b.server.url, API_KEY, retry=RetryPolicy(attempts=1))
            async with direct:
                with pytest.raises(NetworkError, match="ConnectError"):
                    await direct.mint("booth-direct")
            through(b, proxy)
            call_id = await start_call(b)
            await audio_arrives(b, call_id)
            reconnects = b.states().count("reconnecting")
            session = b.app.call.session if b.app.call else None
            assert session is not None
            ip("link", "set", outer, "down")  # the booth's only path: gone
            dropped = time.monotonic()
            await b.until(lambda: "reconnecting" in b.states()[reconnects:], 15, "noticed")
            noticed = session.first(ev.Reconnecting, dropped)
            assert noticed is not None
            figure("detect_s", noticed.at - dropped)  # measured, not asserted: booth bench
            ip("link", "set", outer, "up")
            await b.until(lambda: b.app.machine.state in IN_CALL, 30, "back in the call")
            await audio_arrives(b, call_id, within=30)
            assert b.app.call is not None and b.app.call.call_id == call_id
            await b.double_press()
            await b.wait_state("scoring")
            await b.server.wait_call(call_id, CallStatus.SCORED)
            await b.until(lambda: b.count("score") > 0, 20, "the score, fetched through the proxy")
        log = tp.log_text()
    assert b.app.summaries[-1].call_id == call_id
    assert b.app.summaries[-1].score is not None
    assert log.count(f"CONNECT 127.0.0.1:{b.server.port} ") >= 2  # the call and its resume
    assert f"GET http://127.0.0.1:{b.server.port}/api/" in log  # score polling, forwarded
    assert_no_secrets(caplog.text, proxy)
    figure("resumes", float(b.states().count("reconnecting") - reconnects))


@pytest.mark.parametrize("case", ["connect refused", "wrong password"])
async def test_a_proxy_that_refuses_the_call_says_so(
    tmp_path: Path,
    veth_namespace: tuple[str, str, str],
    caplog: pytest.LogCaptureFixture,
    case: str,
) -> None:
    caplog.set_level(logging.DEBUG)
    ns, _outer, here = veth_namespace
    async with running_booth(tmp_path, panel=OPEN_MIC) as b:
        refused_port = 9 if case == "connect refused" else None
        with (
            proxy_for(tmp_path, here, b.server.port, connect_port=refused_port) as tp,
            sockets_in(ns),
        ):
            password = PASSWORD if case == "connect refused" else "not-the-password"
            proxy = HttpProxy(here, tp.port, USER, Secret(password))
            through(b, proxy)
            b.mic.speaking = True
            await b.tap()
            await b.until(lambda: b.app.machine.state == "error", 30, "the call failed")
    assert not b.server.calls or all(
        c.status is not CallStatus.LIVE for c in b.server.calls.values()
    )
    errors = [r.getMessage() for r in caplog.records if r.getMessage().startswith("call error")]
    assert errors, caplog.text
    assert f"proxy {here}:{tp.port}" in errors[0]
    if case == "connect refused":
        # REST (plain http on loopback) is forwarded; the WebSocket's CONNECT is refused.
        assert f"refused CONNECT to 127.0.0.1:{b.server.port} (HTTP 403 Forbidden)" in errors[0]
    else:
        # Forwarded POST: tinyproxy answers 401 and closes without reading the body, so the
        # answer can be lost to the reset that follows; the error still names the proxy.
        assert (
            "rejected the proxy credential (HTTP 401)" in errors[0] or "(through proxy" in errors[0]
        )
    assert_no_secrets(caplog.text, HttpProxy(here, tp.port, USER, Secret(PASSWORD)))
    assert "not-the-password" not in caplog.text
