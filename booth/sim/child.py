"""Run a module in a child interpreter and read back its JSON result (benches and probes).

The plan goes in on stdin, never argv: it carries the API key. The child prints its result as
its last JSON line on stdout; a child that outlives ``limit_s`` is killed and reaped here.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from typing import Any


async def run_child(
    module: str, plan: dict[str, Any], limit_s: float, env: dict[str, str] | None = None
) -> dict[str, Any]:
    """``python -m module`` with ``plan`` on stdin (and ``env`` added to this process's
    environment); its last JSON line, parsed."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        module,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, **env} if env else None,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(json.dumps(plan).encode()), limit_s)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    if proc.returncode != 0:
        raise RuntimeError(f"{module} exited with {proc.returncode}: {err.decode()[-3000:]}")
    lines = [line for line in out.decode().splitlines() if line.startswith("{")]
    if not lines:
        raise RuntimeError(f"{module} printed no result: {err.decode()[-3000:]}")
    result: dict[str, Any] = json.loads(lines[-1])
    return result
