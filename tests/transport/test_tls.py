"""TLS is always verified: a service with a certificate the booth does not trust is refused."""

from __future__ import annotations

import shutil
import ssl
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from booth.transport.link import Link, LinkError
from booth.transport.rest import RestClient, TlsError
from booth.transport.tls import client_context
from tests.support.tls import untrusted_https_server

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")


@pytest.fixture
async def untrusted_https(tmp_path: Path) -> AsyncIterator[int]:
    """An https + wss server on loopback with a self-signed certificate for 127.0.0.1."""
    async with untrusted_https_server(tmp_path) as port:
        yield port


async def test_rest_refuses_an_untrusted_certificate(untrusted_https: int) -> None:
    async with RestClient(f"https://127.0.0.1:{untrusted_https}", "ath_live_k_00000001") as rest:
        with pytest.raises(TlsError, match="certificate") as caught:
            await rest.mint("b")
        assert caught.value.code == "TLS_VERIFY_FAILED"
        assert rest.attempts == 1  # not retried: a person must fix it


async def test_websocket_refuses_an_untrusted_certificate(untrusted_https: int) -> None:
    with pytest.raises(LinkError, match=r"CERTIFICATE_VERIFY_FAILED|SSL"):
        await Link.open(f"wss://127.0.0.1:{untrusted_https}/ws")


async def test_one_context_serves_every_client_and_still_verifies(
    untrusted_https: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    shared = client_context()
    assert shared.verify_mode == ssl.CERT_REQUIRED and shared.check_hostname

    def no_new_context(*args: object, **kw: object) -> ssl.SSLContext:
        raise AssertionError("a fresh TLS context was built: the CA bundle parsed again")

    monkeypatch.setattr(ssl, "create_default_context", no_new_context)
    url = f"https://127.0.0.1:{untrusted_https}"
    for _ in range(2):
        async with RestClient(url, "ath_live_k_00000001") as rest:
            with pytest.raises(TlsError, match="certificate"):
                await rest.mint("b")
        with pytest.raises(LinkError, match=r"CERTIFICATE_VERIFY_FAILED|SSL"):
            await Link.open(f"wss://127.0.0.1:{untrusted_https}/ws")
    assert client_context() is shared


async def test_a_ca_the_system_trusts_is_trusted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The one context takes the system's CAs (OpenSSL's default paths, which SSL_CERT_FILE
    overrides): a private CA added there, as ``update-ca-certificates`` does, is trusted."""
    async with untrusted_https_server(tmp_path) as port:
        monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "cert.pem"))
        client_context.cache_clear()
        try:
            async with RestClient(f"https://127.0.0.1:{port}", "ath_live_k_00000001") as rest:
                assert (await rest.mint("b")).token == "t"
        finally:
            client_context.cache_clear()


async def test_a_hashed_ca_directory_is_read_on_demand(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the system's CAs in a hashed directory (SSL_CERT_DIR stands in for
    /etc/ssl/certs), the context loads no CA up front, and still trusts the one in there."""
    (tmp_path / "server").mkdir()
    async with untrusted_https_server(tmp_path / "server") as port:
        cas = tmp_path / "certs"
        cas.mkdir()
        cert = tmp_path / "server" / "cert.pem"
        subject_hash = subprocess.run(
            ["openssl", "x509", "-hash", "-noout", "-in", str(cert)],
            check=True, capture_output=True, text=True,
        ).stdout.strip()  # fmt: skip
        (cas / f"{subject_hash}.0").write_bytes(cert.read_bytes())
        monkeypatch.delenv("SSL_CERT_FILE", raising=False)
        monkeypatch.setenv("SSL_CERT_DIR", str(cas))
        client_context.cache_clear()
        try:
            assert client_context().cert_store_stats()["x509"] == 0  # no bundle parsed
            async with RestClient(f"https://127.0.0.1:{port}", "ath_live_k_00000001") as rest:
                assert (await rest.mint("b")).token == "t"
        finally:
            client_context.cache_clear()
