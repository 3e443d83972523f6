"""An https + wss server on loopback whose self-signed certificate nobody trusts."""

from __future__ import annotations

import contextlib
import ssl
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

from aiohttp import web


@contextlib.asynccontextmanager
async def untrusted_https_server(directory: Path) -> AsyncIterator[int]:
    """Serves the session-mint route over TLS on 127.0.0.1; yields the port."""
    key, cert = directory / "key.pem", directory / "cert.pem"
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
    try:
        yield runner.addresses[0][1]
    finally:
        await runner.cleanup()
