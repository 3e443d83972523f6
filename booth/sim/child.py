"""Run a module in a child interpreter and read back its JSON result (benches and probes).

The plan goes in on stdin, never argv: it carries the API key. The child prints its result as
its last JSON line on stdout; a child that outlives ``limit_s`` is killed and reaped here.

A child that serves while others run (:func:`serving_child`) reads its plan as the first line
of stdin, prints a JSON line saying where it serves, and stops when stdin closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import AsyncIterator
from typing import Any

from booth.interpreter import module_command


async def run_child(
    module: str, plan: dict[str, Any], limit_s: float, env: dict[str, str] | None = None
) -> dict[str, Any]:
    """``python -m module`` with ``plan`` on stdin (and ``env`` added to this process's
    environment); its last JSON line, parsed."""
    proc = await _spawn(module, env)
    try:
        out, err = await asyncio.wait_for(proc.communicate(json.dumps(plan).encode()), limit_s)
    finally:
        await _reap(proc)
    return _result(module, proc, out, err)


class ServingChild:
    """A child started by :func:`serving_child`: ``ready`` is its first JSON line, ``result``
    its last (once the ``async with`` has ended)."""

    def __init__(self, ready: dict[str, Any]) -> None:
        self.ready = ready
        self.result: dict[str, Any] = {}


@contextlib.asynccontextmanager
async def serving_child(
    module: str, plan: dict[str, Any], limit_s: float
) -> AsyncIterator[ServingChild]:
    """``python -m module`` with ``plan`` as stdin's first line, running for the ``async with``
    (at most ``limit_s``); closing stdin tells it to stop."""
    proc = await _spawn(module, None)
    stdin, stdout = proc.stdin, proc.stdout
    if stdin is None or stdout is None or proc.stderr is None:
        raise RuntimeError("the child's pipes did not open")
    stderr = asyncio.create_task(proc.stderr.read())  # drained, so the child never blocks
    try:
        async with asyncio.timeout(limit_s):
            stdin.write(json.dumps(plan).encode() + b"\n")
            await stdin.drain()
            line = await stdout.readline()
            if not line.startswith(b"{"):
                await proc.wait()
                raise RuntimeError(f"{module} did not start: {(await stderr).decode()[-3000:]}")
            child = ServingChild(json.loads(line))
            yield child
            stdin.close()
            out = await stdout.read()
            await proc.wait()
            child.result = _result(module, proc, out, await stderr)
    finally:
        await _reap(proc)
        stderr.cancel()


async def _spawn(module: str, env: dict[str, str] | None) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        *module_command(module),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, **env} if env else None,
    )


async def _reap(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        proc.kill()
        await proc.wait()


def _result(
    module: str, proc: asyncio.subprocess.Process, out: bytes, err: bytes
) -> dict[str, Any]:
    if proc.returncode != 0:
        raise RuntimeError(f"{module} exited with {proc.returncode}: {err.decode()[-3000:]}")
    lines = [line for line in out.decode().splitlines() if line.startswith("{")]
    if not lines:
        raise RuntimeError(f"{module} printed no result: {err.decode()[-3000:]}")
    result: dict[str, Any] = json.loads(lines[-1])
    return result
