"""`booth bench memory`: what `booth run` imports, and what each import costs in RSS and time.

Each figure comes from a fresh interpreter (``sys.executable``), so nothing the bench itself
imported is counted:

- ``steps``: the daemon's imports in the order they load, RSS after each (``VmRSS``), the
  step's growth and time; then the first call's lazy imports (the session: httpx) and the
  framer designs a call makes, and PortAudio's start-up (a device scan).
- ``importtime``: ``python -X importtime -c "import booth.daemon.service"``, the slowest
  top-level imports (cumulative µs).
- ``forbidden``: modules `booth run` must never load (the devserver, JWT, aiohttp,
  plotting, the benches, scipy, test tools) that are loaded after the daemon's imports and a
  call's: empty when the daemon is lean.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

FORBIDDEN = (
    "booth.devserver",
    "booth.bench",
    "booth.sim",
    "jwt",
    "aiohttp",
    "matplotlib",
    "scipy",
    "soxr",
    "hypothesis",
    "pytest",
)

# (label, statement) run one after another in one fresh interpreter.
STEPS: tuple[tuple[str, str], ...] = (
    ("asyncio + ssl", "import asyncio, ssl"),
    ("numpy", "import numpy"),
    ("websockets", "import websockets.asyncio.client"),
    ("gpiozero", "import gpiozero, gpiozero.pins.mock"),
    ("pyaudio", "import pyaudio"),
    ("systemd", "import systemd.daemon"),
    ("booth daemon (the rest)", "import booth.daemon.service"),
    ("first call: session (httpx)", "import booth.session"),
    (
        "first call: framer designs",
        "from booth.audio.framer import Framer; Framer(48000); Framer(16000, 48000, 1, 48)",
    ),
    ("PortAudio start-up", "import pyaudio; pyaudio.PyAudio().terminate()"),
)

_PROBE = """
import json, sys, time
def rss():
    for line in open('/proc/self/status'):
        if line.startswith('VmRSS:'):
            return int(line.split()[1]) / 1024
out = [{"step": "python", "rss_mb": rss(), "grew_mb": 0.0, "ms": 0.0}]
for label, code in json.loads(sys.argv[1]):
    before, start = rss(), time.perf_counter()
    exec(code)
    out.append({"step": label, "rss_mb": rss(), "grew_mb": rss() - before,
                "ms": 1000 * (time.perf_counter() - start)})
loaded = sorted(sys.modules)
print(json.dumps({"steps": out, "modules": loaded}))
"""


def _steps() -> dict[str, Any]:
    done = subprocess.run(  # noqa: S603 - this interpreter, our own probe
        [sys.executable, "-c", _PROBE, json.dumps(STEPS)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _importtime(top: int = 15) -> list[dict[str, Any]]:
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import booth.daemon.service"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    rows: list[dict[str, Any]] = []
    for line in done.stderr.splitlines():
        parts = line.split("|")
        if len(parts) != 3 or not parts[0].startswith("import time:"):
            continue
        name = parts[2]
        depth = (len(name) - len(name.lstrip())) // 2
        if depth <= 1 and parts[1].strip().isdigit():
            rows.append({"module": name.strip(), "cumulative_us": int(parts[1])})
    return sorted(rows, key=lambda r: int(r["cumulative_us"]), reverse=True)[:top]


def measure() -> dict[str, Any]:
    probe = _steps()
    loaded = probe["modules"]
    return {
        "steps": probe["steps"],
        "importtime": _importtime(),
        "modules_loaded": len(loaded),
        "forbidden": [m for m in loaded if any(m == f or m.startswith(f + ".") for f in FORBIDDEN)],
    }


def render_table(result: dict[str, Any]) -> str:
    lines = ["booth bench memory: RSS as `booth run` loads (fresh interpreter)", ""]
    lines.append(f"{'step':<32}{'RSS MB':>8}{'+MB':>7}{'ms':>8}")
    for step in result["steps"]:
        lines.append(
            f"{step['step']:<32}{step['rss_mb']:>8.1f}{step['grew_mb']:>7.1f}{step['ms']:>8.1f}"
        )
    lines += ["", "slowest imports of booth.daemon.service (-X importtime, cumulative ms):"]
    for row in result["importtime"]:
        lines.append(f"  {row['cumulative_us'] / 1000:7.1f}  {row['module']}")
    forbidden = result["forbidden"]
    lines += ["", f"modules `booth run` must not load, loaded: {', '.join(forbidden) or 'none'}"]
    return "\n".join(lines)


def run(*, as_json: bool) -> int:
    result = measure()
    print(json.dumps(result) if as_json else render_table(result))
    return 0
