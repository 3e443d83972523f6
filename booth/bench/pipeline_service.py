"""The voice service for ``booth bench pipeline``, in a process of its own: the devserver and
the jitter proxy in front of it.

Run by booth.sim.child.serving_child: the plan (API key, jitter) is stdin's first line; prints
``{"api_url", "proxy_port"}`` once serving, and when stdin closes, ``{"released": [...]}``:
when the proxy handed each chunk to the booth (``time.monotonic``, the same clock in every
process here), for the bench's per-underrun diagnostics. Apart from the booth and the floor,
a stall of this process's event loop on a busy machine is the service's, not the booth's.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from typing import Any


async def main(plan: dict[str, Any]) -> dict[str, Any]:
    from booth.devserver import DevServer, Settings
    from booth.sim.jitterproxy import JitterProxy

    jitter = plan["jitter_ms"]
    async with (
        DevServer(
            api_keys={plan["api_key"]}, settings=Settings(scoring_delay=0.2), use_espeak=False
        ) as server,
        JitterProxy(server.port, base_ms=jitter, jitter_ms=jitter) as proxy,
    ):
        print(json.dumps({"api_url": server.url, "proxy_port": proxy.port}), flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)  # until closed
        released = list(proxy.released)
    return {"released": released}


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    logging.getLogger("booth").setLevel(logging.WARNING)
    plan = json.loads(sys.stdin.readline())
    print(json.dumps(asyncio.run(main(plan))))
