"""The I/O floor for ``booth bench pipeline``: the least a Python client must do for the call.

Run as ``python -m booth.bench.pipeline_floor`` with the same JSON plan as the booth
(booth.bench.pipeline_booth) on stdin; prints one JSON object on stdout. Same devserver, same
jitter proxy, same paced ALSA devices at the same rate, same rhythm (the rep talks 2 s, the
persona answers), but nothing a booth adds: PyAudio callback capture, every third sample kept
(48 -> 16 kHz with no filter), ``websockets`` send; ``websockets`` receive, each sample
repeated three times, PyAudio callback playback from a bytearray. No framer, jitter buffer,
state machine, level meter, reconnect, logging, LEDs or button. The booth's CPU over this
process's, role by role (loop, capture, playback), is the overhead that is the booth's own.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np

from booth.bench.procstat import CpuMeter, ThreadRoles, rss_kb

DEVICE_RATE = 48000
BLOCK = DEVICE_RATE // 50  # 20 ms, like the booth's capture and playback blocks
DECIMATE = DEVICE_RATE // 16000
CONTINUE = 0  # pyaudio.paContinue


def speech_like(seconds: float, rate: int = DEVICE_RATE) -> np.ndarray:
    """A voice-ish tone in syllable bursts: the devserver hears speech, then pauses."""
    t = np.arange(int(seconds * rate)) / rate
    voice = np.sin(2 * np.pi * 220 * t) + 0.5 * np.sin(2 * np.pi * 660 * t)
    syllables = (np.sin(2 * np.pi * 3 * t) > -0.3).astype(float)
    pcm: np.ndarray = (voice * syllables * 6000).astype(np.int16)
    return pcm


def _post(url: str, bearer: str, body: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(  # noqa: S310 - the loopback devserver
        url,
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {bearer}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback
        data: dict[str, Any] = json.loads(response.read())
    return data


def _ticket(plan: dict[str, Any]) -> tuple[str, str]:
    """Mint and redeem (the booth's REST set-up, done plainly): (WebSocket URL, ticket)."""
    api = plan["api_url"].rstrip("/")
    token = _post(f"{api}/api/external/v1/session", plan["api_key"], {"externalUserId": "floor"})
    call = _post(
        f"{api}/api/external/v1/roleplay/session", token["token"], {"drillKey": plan["drill"]}
    )
    url = call["connectionUrl"]
    scheme, rest = url.split("://", 1)
    path = rest.split("/", 1)[1] if "/" in rest else ""
    return f"{scheme}://127.0.0.1:{plan['proxy_port']}/{path}", call["connectionTicket"]


class Floor:
    """PyAudio in and out, frames to and from the socket, nothing else."""

    def __init__(self, loop: asyncio.AbstractEventLoop, roles: ThreadRoles) -> None:
        self.loop = loop
        self.roles = roles
        self.frames: asyncio.Queue[bytes] = asyncio.Queue()
        self.speaking = False
        self.out = bytearray()
        self.lock = threading.Lock()
        self.silence = bytes(2 * BLOCK)

    def capture(self, data: bytes | None, frames: int, _t: Any, _s: int) -> Any:
        self.roles.mark("capture")
        if data is not None and self.speaking:
            pcm = np.frombuffer(data, dtype="<i2")[::DECIMATE].tobytes()
            self.loop.call_soon_threadsafe(self.frames.put_nowait, pcm)
        return (None, CONTINUE)

    def playback(self, _data: bytes | None, frames: int, _t: Any, _s: int) -> Any:
        self.roles.mark("playback")
        want = 2 * frames
        with self.lock:
            chunk = bytes(self.out[:want])
            del self.out[:want]
        if len(chunk) < want:
            chunk += bytes(want - len(chunk))
        return (chunk, CONTINUE)

    def heard(self, pcm: bytes) -> None:
        up = np.repeat(np.frombuffer(pcm, dtype="<i2"), DECIMATE).tobytes()
        with self.lock:
            self.out += up


async def one_call(plan: dict[str, Any], seconds: float) -> dict[str, Any]:
    import pyaudio
    from websockets.asyncio.client import connect

    from booth.audio import alsaconf

    loop = asyncio.get_running_loop()
    roles = ThreadRoles()
    floor = Floor(loop, roles)
    url, ticket = await loop.run_in_executor(None, _ticket, plan)
    # Through the ALSA configuration the booth uses for the same two devices.
    alsaconf.install(("boothmic", "boothspk"))
    pa = pyaudio.PyAudio()
    names = {pa.get_device_info_by_index(i)["name"]: i for i in range(pa.get_device_count())}
    streams = [
        pa.open(
            format=pyaudio.paInt16,
            channels=1,
            rate=DEVICE_RATE,
            frames_per_buffer=BLOCK,
            stream_callback=callback,
            **{direction: True, f"{direction}_device_index": names[device]},
        )
        for direction, device, callback in (
            ("input", "boothmic", floor.capture),
            ("output", "boothspk", floor.playback),
        )
    ]
    try:
        async with connect(url, max_size=2**20) as ws:
            await ws.send(json.dumps({"token": ticket}))

            async def receive() -> None:
                async for message in ws:
                    if isinstance(message, bytes):
                        floor.heard(message)

            async def send() -> None:
                while True:
                    await ws.send(await floor.frames.get())

            tasks = [asyncio.create_task(receive()), asyncio.create_task(send())]
            await asyncio.sleep(1.0)  # the greeting starts
            rss: list[int] = []
            meter = CpuMeter(roles, time.monotonic())
            start = time.monotonic()
            while time.monotonic() - start < seconds:  # the booth bench's rhythm
                rss.append(rss_kb())
                await asyncio.sleep(min(1.5, max(0.0, seconds - (time.monotonic() - start))))
                floor.speaking = True
                await asyncio.sleep(min(2.0, seconds / 4))
                floor.speaking = False
                await ws.send('{"type":"turn_end"}')
                await asyncio.sleep(min(2.5, seconds / 4))
            cpu = meter.stop(time.monotonic())
            for task in tasks:
                task.cancel()
            await ws.send('{"type":"end"}')
    finally:
        for stream in streams:
            stream.close()
        pa.terminate()
    return {**cpu, "seconds": round(time.monotonic() - start, 2), "rss_mb_max": max(rss) / 1024}


async def main(plan: dict[str, Any]) -> dict[str, Any]:
    from booth.sim.alsa_devices import alsa_file_devices

    with (
        tempfile.TemporaryDirectory(prefix="booth-floor-") as tmp,
        alsa_file_devices(
            Path(tmp), speech_like(2.0), rate=DEVICE_RATE, paced=True, loop_capture=True
        ) as alsa,
    ):
        result = await one_call(plan, plan["cpu_s"])
        alsa.finish()
    return result


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    print(json.dumps(asyncio.run(main(json.loads(sys.stdin.read())))))
