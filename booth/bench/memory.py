"""`booth bench memory`: what `booth run` imports, and what each import costs in RSS and time.

Each figure comes from a fresh interpreter (``sys.executable``), so nothing the bench itself
imported is counted:

- ``steps``: what the daemon loads until it is ready (its imports in the order they load, its
  command line, then the device probe: the booth's ALSA configuration, and a child process
  that scans, booth.audio.presence), RSS after each (``VmRSS``), the step's growth and time;
  then what the first call loads (PortAudio's start-up as the streams open, the WebSocket
  stack, the session: httpx, its first request: httpcore, anyio; the framer designs). Each
  step lists which of ``LAZY`` are loaded after it.
- ``portaudio_scan_mb``: what PortAudio's device scan adds to a fresh interpreter with the
  system's ALSA configuration and with the booth's (booth.audio.alsaconf), on this machine.
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
    # The daemon's audio work is the framer's and the PCM helpers' C (booth/audio/_fir.c,
    # _pcm.c): numpy (with OpenBLAS, ~12.7 MB) is for the framer's design, benches and tests.
    "numpy",
    "jwt",
    "aiohttp",
    "matplotlib",
    "scipy",
    "soxr",
    "hypothesis",
    "pytest",
)

#: Loaded by the first call, not while the booth waits for one.
LAZY = ("websockets", "booth.transport.link", "httpx", "booth.session", "httpcore", "anyio")
#: The step after which the daemon is ready (idle): none of LAZY is loaded yet.
READY_STEP = "device probe (a child process)"

# (label, statement) run one after another in one fresh interpreter.
STEPS: tuple[tuple[str, str], ...] = (
    ("asyncio + ssl", "import asyncio, ssl"),
    ("gpiozero", "import gpiozero, gpiozero.pins.mock"),
    ("pyaudio", "import pyaudio"),
    ("systemd (the journal handler)", "import systemd.journal"),
    (
        "booth daemon (the rest)",
        "from booth import cli\ncli.build_parser('run')\nimport booth.daemon.service",
    ),
    (
        READY_STEP,
        "import subprocess\n"
        "from booth.audio import alsaconf, devices, presence\n"
        "alsaconf.install(('', ''))\n"
        "devices.load_portaudio()\n"
        "for wanted in (('', False), ('', True)):  # the speaker, then the mic\n"
        "    subprocess.run(presence.command([wanted]), capture_output=True)",
    ),
    # Each call's streams start PortAudio (a device scan) in the daemon's own process.
    (
        "first call: PortAudio start-up",
        "from booth.audio import devices\ndevices.open_portaudio().terminate()",
    ),
    ("first call: websockets", "import booth.transport.link"),
    ("first call: session (httpx)", "import booth.session"),
    (
        # The REST client verifies certificates (the booth's one TLS context, with the system's
        # CAs) and its first request loads httpx's transport (httpcore, h11, anyio). Refused on
        # loopback.
        "first call: first REST request",
        "import asyncio, httpx\n"
        "from booth.transport.tls import client_context\n"
        "async def first_request():\n"
        "    async with httpx.AsyncClient(verify=client_context(), trust_env=False) as client:\n"
        "        try:\n"
        "            await client.get('http://127.0.0.1:9/')\n"
        "        except httpx.HTTPError:\n"
        "            pass\n"
        "asyncio.run(first_request())",
    ),
    (
        "first call: the audio path (framers, shipped taps; jitter buffer, level meter, cues)",
        "from booth.audio.framer import Framer\n"
        "Framer(48000).push(bytes(1920)); Framer(16000, 48000, 1, 48).push(bytes(640))\n"
        "from booth.audio.jitter import JitterBuffer\n"
        "from booth.audio.levels import VoiceActivity\n"
        "from booth.daemon.commands import Cue\n"
        "from booth.daemon.cues import cue_pcm\n"
        "jitter = JitterBuffer(48000, 60.0, 1000.0)\n"
        "jitter.write_cue(cue_pcm(Cue.START, 0.3, 48000)); jitter.read(960)\n"
        "VoiceActivity().update(bytes(640))",
    ),
)

# PortAudio's scan alone, with the system's ALSA configuration or the booth's.
_SCAN = """
import sys
from booth.audio import alsaconf, devices
import pyaudio
def rss():
    for line in open('/proc/self/status'):
        if line.startswith('VmRSS:'):
            return int(line.split()[1]) / 1024
if sys.argv[1] == "booth":
    alsaconf.install(('', ''))
before = rss()
devices.open_portaudio().terminate()
print(rss() - before)
"""

_PROBE = """
import json, sys, time
def rss():
    for line in open('/proc/self/status'):
        if line.startswith('VmRSS:'):
            return int(line.split()[1]) / 1024
out = [{"step": "python", "rss_mb": rss(), "grew_mb": 0.0, "ms": 0.0, "lazy_loaded": []}]
LAZY = json.loads(sys.argv[2])
for label, code in json.loads(sys.argv[1]):
    before, start = rss(), time.perf_counter()
    exec(code)
    out.append({"step": label, "rss_mb": rss(), "grew_mb": rss() - before,
                "ms": 1000 * (time.perf_counter() - start),
                "lazy_loaded": [m for m in LAZY if m in sys.modules]})
loaded = sorted(sys.modules)
print(json.dumps({"steps": out, "modules": loaded}))
"""


def _steps() -> dict[str, Any]:
    done = subprocess.run(  # noqa: S603 - this interpreter, our own probe
        [sys.executable, "-P", "-c", _PROBE, json.dumps(STEPS), json.dumps(LAZY)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _scan_mb() -> dict[str, float]:
    out = {}
    for alsa in ("system", "booth"):
        done = subprocess.run(  # noqa: S603 - this interpreter, our own probe
            [sys.executable, "-P", "-c", _SCAN, alsa],
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        )
        out[alsa] = float(done.stdout.strip().splitlines()[-1])
    return out


def _importtime(top: int = 15) -> list[dict[str, Any]]:
    done = subprocess.run(
        [sys.executable, "-P", "-X", "importtime", "-c", "import booth.daemon.service"],
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
        "portaudio_scan_mb": _scan_mb(),
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
    scan = result["portaudio_scan_mb"]
    lines += [
        "",
        f"PortAudio's device scan alone: +{scan['system']:.1f} MB with the system's ALSA "
        f"configuration, +{scan['booth']:.1f} MB with the booth's",
    ]
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
