"""TLS is always verified: a service with a certificate the booth does not trust is refused."""

from __future__ import annotations

import shutil
import ssl
import subprocess
from pathlib import Path

import pytest
from aiohttp import web

from booth.transport.link import Link, LinkError
from booth.transport.rest import RestClient, TlsError

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")


@pytest.fixture
async def untrusted_https(tmp_path: Path):
    """An https + wss server on loopback with a self-signed certificate for 127.0.0.1."""
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)

    async def mint(_request: web.Request) -> web.Response:
        return web.json_response({"token": "t"})

    app = web.Application()
    app.router.add_post("/api/external/v1/session", mint)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield port
    finally:
        await runner.cleanup()


async def test_rest_refuses_an_untrusted_certificate(untrusted_https: int) -> None:
    async with RestClient(f"https://127.0.0.1:{untrusted_https}", "ath_live_k_00000001") as rest:
        with pytest.raises(TlsError, match="certificate") as caught:
            await rest.mint("b")
        assert caught.value.code == "TLS_VERIFY_FAILED"
        assert rest.attempts == 1  # not retried: a person must fix it


async def test_websocket_refuses_an_untrusted_certificate(untrusted_https: int) -> None:
    with pytest.raises(LinkError, match=r"CERTIFICATE_VERIFY_FAILED|SSL"):
        await Link.open(f"wss://127.0.0.1:{untrusted_https}/ws")
