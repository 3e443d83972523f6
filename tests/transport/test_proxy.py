"""REST and the WebSocket through a real HTTP proxy (tinyproxy) on loopback: a whole call, a
black-holed path to the proxy resumed, a refused CONNECT, a wrong or missing credential, an
unreachable proxy, and the environment's proxy variables left alone."""

from __future__ import annotations

import logging
import re
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from booth import call_events as ev
from booth.daemon import orphans
from booth.secret import Secret
from booth.session import RoleplaySession
from booth.sim import tinyproxy
from booth.sim.faultproxy import TcpProxy
from booth.transport.link import Link, LinkError
from booth.transport.proxy import HttpProxy
from booth.transport.rest import NetworkError, ProxyRefusedError, RestClient, RetryPolicy, TlsError
from tests.support.httpproxy import PASSWORD, USER, TinyProxy, needs_tinyproxy
from tests.support.tls import untrusted_https_server
from tests.transport.helpers import (
    DRILL,
    KEY,
    persona_audio_after,
    service,
    speak_turn,
    wait_event,
)

pytestmark = needs_tinyproxy


def through(
    proxy: TinyProxy, password: str | None = PASSWORD, port: int | None = None
) -> HttpProxy:
    if password is None:
        return HttpProxy(proxy.host, port or proxy.port)
    return HttpProxy(proxy.host, port or proxy.port, USER, Secret(password))


@pytest.fixture
def authed_proxy(tmp_path: Path) -> Iterator[TinyProxy]:
    """tinyproxy with a Basic credential; CONNECT to any port."""
    with tinyproxy.running(tmp_path, basic_auth=(USER, PASSWORD)) as proxy:
        yield proxy


def assert_no_secrets(text: str) -> None:
    for secret in (PASSWORD, KEY):
        assert secret not in text


async def test_a_whole_call_through_the_proxy(
    authed_proxy: TinyProxy, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with service() as (server, _fault):
        sess = RoleplaySession(
            server.url, KEY, DRILL, booth_id="booth-proxy", proxy=through(authed_proxy)
        )
        await sess.connect()
        await wait_event(sess, ev.Ready)
        await speak_turn(sess)
        assert await persona_audio_after(sess, 5) > 0
        await sess.end()
    log = authed_proxy.log_text()
    # The WebSocket was tunnelled; REST (plain http on loopback) was forwarded by the proxy.
    assert re.search(rf"CONNECT 127\.0\.0\.1:{server.port} ", log)
    assert re.search(rf"POST http://127\.0\.0\.1:{server.port}/api/", log)
    assert_no_secrets(caplog.text)


async def test_a_black_holed_path_to_the_proxy_is_noticed_and_the_call_resumes(
    authed_proxy: TinyProxy,
) -> None:
    """booth ─▶ fault proxy (the site's Wi-Fi) ─▶ tinyproxy ─▶ devserver."""
    async with (
        service(resume_window=40.0) as (server, _fault),
        TcpProxy(authed_proxy.host, authed_proxy.port) as wifi,
    ):
        sess = RoleplaySession(
            server.url,
            KEY,
            DRILL,
            booth_id="booth-proxy",
            proxy=through(authed_proxy, port=wifi.port),
        )
        await sess.connect()
        await wait_event(sess, ev.Ready)
        call_id = sess.call_id
        dropped = wifi.blackhole()
        await wait_event(sess, ev.Reconnecting, after=dropped, within=15)
        restored = wifi.restore()
        await wait_event(sess, ev.Reconnected, after=restored, within=30)
        assert sess.call_id == call_id
        await speak_turn(sess)
        assert await persona_audio_after(sess, 5) > 0
        await sess.end()


async def test_a_black_hole_beyond_the_proxy_is_noticed_too(authed_proxy: TinyProxy) -> None:
    """booth ─▶ tinyproxy ─▶ fault proxy (black-holed) ─▶ devserver. The booth's own TCP
    connection (to the proxy) stays healthy and acknowledged, so only the watchdog on inbound
    bytes can tell the call is gone."""
    async with service(resume_window=40.0) as (server, fault):
        sess = RoleplaySession(
            server.url,
            KEY,
            DRILL,
            booth_id="booth-proxy",
            route=fault.rewrite,  # the WebSocket's CONNECT goes to the fault proxy's port
            proxy=through(authed_proxy),
        )
        await sess.connect()
        await wait_event(sess, ev.Ready)
        dropped = fault.blackhole()
        noticed = await wait_event(sess, ev.Reconnecting, after=dropped, within=15)
        assert "no traffic" in noticed.reason
        restored = fault.restore()
        await wait_event(sess, ev.Reconnected, after=restored, within=30)
        await speak_turn(sess)
        assert await persona_audio_after(sess, 5) > 0
        await sess.end()
    assert f"CONNECT 127.0.0.1:{fault.port} " in authed_proxy.log_text()


async def test_a_refused_connect_names_the_proxy(tmp_path: Path) -> None:
    with tinyproxy.running(tmp_path, connect_ports=[9]) as proxy:  # CONNECT only to port 9
        async with service() as (server, _fault):
            with pytest.raises(LinkError) as caught:
                await Link.open(f"ws://127.0.0.1:{server.port}/ws", proxy=through(proxy, None))
    text = str(caught.value)
    assert f"proxy 127.0.0.1:{proxy.port}" in text
    assert f"refused CONNECT to 127.0.0.1:{server.port} (HTTP 403 Forbidden)" in text


async def test_rest_to_https_through_a_proxy_that_refuses_connect(tmp_path: Path) -> None:
    with tinyproxy.running(tmp_path, connect_ports=[9]) as proxy:
        async with untrusted_https_server(tmp_path) as port:
            rest = RestClient(f"https://127.0.0.1:{port}", KEY, proxy=through(proxy, None))
            async with rest:
                with pytest.raises(ProxyRefusedError) as caught:
                    await rest.mint("booth-proxy")
    assert f"proxy 127.0.0.1:{proxy.port}: refused CONNECT to 127.0.0.1:{port}" in str(caught.value)
    assert caught.value.code == "NETWORK_LOST"
    assert rest.attempts == 1  # a person must change the proxy's rules: not retried


@pytest.mark.parametrize("password", ["not-the-password", None])
async def test_a_wrong_or_missing_credential_is_a_clear_error(
    authed_proxy: TinyProxy, tmp_path: Path, password: str | None
) -> None:
    wanted = "rejected the proxy credential" if password else "requires a user and password"
    proxy = through(authed_proxy, password)
    async with service() as (server, _fault):
        with pytest.raises(LinkError, match=wanted) as link_error:
            await Link.open(f"ws://127.0.0.1:{server.port}/ws", proxy=proxy)
        # Plain http (loopback only) is forwarded, not tunnelled: the refusal is a response.
        # (A POST's body meets a proxy that already closed: only a GET reads it reliably.)
        async with RestClient(server.url, KEY, proxy=proxy) as rest:
            with pytest.raises(ProxyRefusedError, match=wanted) as forwarded:
                await rest.get_call("athos_call_0001")
    async with untrusted_https_server(tmp_path) as port:
        rest = RestClient(f"https://127.0.0.1:{port}", KEY, proxy=proxy)
        async with rest:
            with pytest.raises(ProxyRefusedError, match=wanted) as tunnelled:
                await rest.mint("booth-proxy")
        assert rest.attempts == 1  # a person must fix the credential: not retried
    for error in (link_error.value, forwarded.value, tunnelled.value):
        assert f"proxy 127.0.0.1:{authed_proxy.port}" in str(error)
        assert_no_secrets(str(error))
        assert "not-the-password" not in str(error)


async def test_tls_to_the_service_runs_inside_the_tunnel(
    authed_proxy: TinyProxy, tmp_path: Path
) -> None:
    """The tunnel opens; the certificate check is then the service's (here: untrusted)."""
    async with untrusted_https_server(tmp_path) as port:
        with pytest.raises(LinkError, match="CERTIFICATE_VERIFY_FAILED") as caught:
            await Link.open(f"wss://127.0.0.1:{port}/ws", proxy=through(authed_proxy))
        async with RestClient(
            f"https://127.0.0.1:{port}", KEY, proxy=through(authed_proxy)
        ) as rest:
            with pytest.raises(TlsError, match="certificate"):
                await rest.mint("booth-proxy")
    assert "refused" not in str(caught.value)
    assert len(re.findall(rf"CONNECT 127\.0\.0\.1:{port} ", authed_proxy.log_text())) == 2


async def test_an_unreachable_proxy_names_it() -> None:
    with socket.socket() as unused:  # a port nothing listens on once this closes
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    async with service() as (server, _fault):
        with pytest.raises(LinkError, match=rf"proxy 127\.0\.0\.1:{port}: cannot connect"):
            await Link.open(f"ws://127.0.0.1:{server.port}/ws", proxy=HttpProxy("127.0.0.1", port))
        once = RetryPolicy(attempts=1)
        async with RestClient(
            server.url, KEY, proxy=HttpProxy("127.0.0.1", port), retry=once
        ) as rest:
            with pytest.raises(NetworkError, match=rf"through proxy 127\.0\.0\.1:{port}"):
                await rest.mint("booth-proxy")


async def test_the_environments_proxy_variables_are_ignored(
    authed_proxy: TinyProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A system service dials its service directly unless service.proxy says otherwise."""
    for name in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")  # nothing listens: using it would fail
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    async with service() as (server, _fault):
        async with RestClient(server.url, KEY) as rest:
            assert (await rest.mint("booth-direct")).token
        link = await Link.open(f"ws://127.0.0.1:{server.port}/ws")
        await link.close()


async def test_a_call_left_open_is_ended_through_the_proxy(
    authed_proxy: TinyProxy, tmp_path: Path
) -> None:
    """The next run's orphan check (booth/daemon/orphans.py) dials through the proxy too."""
    async with (
        service(resume_window=40.0) as (server, _fault),
        TcpProxy(authed_proxy.host, authed_proxy.port) as wifi,
    ):
        via_wifi = through(authed_proxy, port=wifi.port)
        sess = RoleplaySession(server.url, KEY, DRILL, booth_id="booth-proxy", proxy=via_wifi)
        await sess.connect()
        await wait_event(sess, ev.Ready)
        point = sess.resume_point()
        assert point is not None and sess.call_id is not None
        orphans.save(tmp_path, orphans.LiveCall(sess.call_id, point[0], point[1], 0.0))
        wifi.blackhole()
        wifi.reset()  # this "process" is gone: its link dies without an `end`
        tunnel = f"CONNECT 127.0.0.1:{server.port} "
        tunnels = authed_proxy.log_text().count(tunnel)
        outcome = await orphans.end_orphan(tmp_path, proxy=through(authed_proxy))
        assert outcome == "ended"
        assert authed_proxy.log_text().count(tunnel) == tunnels + 1
        assert server.calls[sess.call_id].end_reason == "client_requested"
        await sess.disconnect()
