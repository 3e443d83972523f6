"""TLS is always verified: a service with a certificate the booth does not trust is refused."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from booth.transport.link import Link, LinkError
from booth.transport.rest import RestClient, TlsError
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
