"""The pipeline bench's service child: serves while the ``async with`` runs, reports after."""

from __future__ import annotations

import asyncio

from booth.sim.child import serving_child


async def test_the_service_child_serves_through_its_proxy_until_stdin_closes() -> None:
    plan = {"api_key": "ath_live_test_service_child_0001", "jitter_ms": 0.0}
    async with serving_child("booth.bench.pipeline_service", plan, limit_s=60) as service:
        assert service.ready["api_url"].startswith("http://127.0.0.1:")
        # An HTTP request through the jitter proxy reaches the devserver and comes back.
        reader, writer = await asyncio.open_connection("127.0.0.1", service.ready["proxy_port"])
        writer.write(b"GET /nowhere HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        await writer.drain()
        status = await reader.readline()
        writer.close()
        assert status.startswith(b"HTTP/1.1 404")
    # Stopped by closing stdin; the proxy's release times come back for the diagnostics.
    assert len(service.result["released"]) >= 1
