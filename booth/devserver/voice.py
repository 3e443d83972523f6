"""The persona's voice: espeak-ng rendered to 16 kHz s16le PCM, or a synthetic voice-like signal.

Rendering runs espeak-ng as a subprocess (text on stdin, never argv) and caches by
(voice, text), so each line costs one render per server.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import shutil
import struct

import numpy as np

from booth.logs import log_event

SAMPLE_RATE = 16000
_log = logging.getLogger("booth.devserver.voice")


def parse_wav(data: bytes) -> tuple[int, bytes]:
    """(sample rate, s16le mono PCM) of a RIFF/WAVE stream.

    espeak-ng writing to a pipe cannot seek back, so its size fields are placeholders: the
    data chunk is taken to run to the end of the stream.
    """
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise ValueError("not a RIFF/WAVE stream")
    pos, rate, channels, bits = 12, 0, 0, 0
    while pos + 8 <= len(data):
        chunk, size = data[pos : pos + 4], struct.unpack("<I", data[pos + 4 : pos + 8])[0]
        body = pos + 8
        if chunk == b"fmt ":
            fmt, channels, rate, _, _, bits = struct.unpack("<HHIIHH", data[body : body + 16])
            if fmt != 1 or bits != 16 or channels != 1:
                raise ValueError(f"unsupported WAV format {fmt}/{bits} bit/{channels} ch")
        elif chunk == b"data":
            if not rate:
                raise ValueError("data chunk before fmt chunk")
            end = min(len(data), body + size)
            pcm = data[body:end]
            return rate, pcm[: len(pcm) - len(pcm) % 2]
        pos = body + size + (size & 1)
    raise ValueError("no data chunk")


def resample(pcm: bytes, rate: int, target: int = SAMPLE_RATE) -> bytes:
    """Linear-interpolation resampling: good enough for a test persona's synthetic speech."""
    if rate == target or not pcm:
        return pcm
    src = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    count = int(len(src) * target / rate)
    positions = np.arange(count) * (rate / target)
    out = np.interp(positions, np.arange(len(src)), src)
    return bytes(np.clip(np.round(out), -32768, 32767).astype("<i2").tobytes())


def synthetic_speech(text: str, rate: int = SAMPLE_RATE) -> bytes:
    """A voice-like signal: a gliding harmonic buzz shaped into syllables, one per ~vowel.

    Deterministic for a given text, so tests can compare what was sent with what arrived.
    """
    syllables = max(1, sum(1 for c in text.lower() if c in "aeiouy"))
    seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "little")
    rng = np.random.default_rng(seed)
    syllable_s = 0.16
    n = int(rate * syllables * syllable_s)
    t = np.arange(n) / rate
    pitch = 140 + 25 * np.sin(2 * np.pi * 0.7 * t) + rng.uniform(-10, 10)
    phase = 2 * np.pi * np.cumsum(pitch) / rate
    buzz = sum(np.sin(k * phase) / k for k in range(1, 8))
    envelope = np.sin(np.pi * ((t / syllable_s) % 1.0)) ** 2
    signal = 0.35 * buzz * envelope
    return (np.clip(signal, -1, 1) * 32767).astype("<i2").tobytes()


class Voice:
    """Renders lines to PCM; espeak-ng when present, else :func:`synthetic_speech`."""

    def __init__(self, *, use_espeak: bool = True, espeak: str | None = None) -> None:
        self.espeak = (espeak or shutil.which("espeak-ng")) if use_espeak else None
        self._cache: dict[tuple[str, str], bytes] = {}
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}

    @property
    def engine(self) -> str:
        return "espeak-ng" if self.espeak else "synthetic"

    async def render(self, text: str, voice: str = "en-us") -> bytes:
        key = (voice, text)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            cached = self._cache.get(key)
            if cached is None:
                cached = await self._render(text, voice)
                self._cache[key] = cached
        return cached

    async def _render(self, text: str, voice: str) -> bytes:
        if self.espeak:
            try:
                return await self._espeak(text, voice)
            except (OSError, ValueError, TimeoutError) as exc:
                log_event(
                    _log,
                    logging.WARNING,
                    f"espeak-ng failed ({exc}); using the synthetic voice",
                    EVENT="tts_fallback",
                )
        return synthetic_speech(text)

    async def _espeak(self, text: str, voice: str) -> bytes:
        assert self.espeak is not None
        proc = await asyncio.create_subprocess_exec(
            self.espeak,
            "-v",
            voice,
            "-s",
            "165",
            "--stdout",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            out, err = await asyncio.wait_for(proc.communicate(text.encode("utf-8")), 20)
        finally:
            # Also on cancellation (the server stopping mid-line): a child left unreaped is
            # collected later on a closed loop, which breaks whatever test runs then.
            if proc.returncode is None:
                proc.kill()
                with contextlib.suppress(ProcessLookupError):
                    await asyncio.shield(proc.wait())
        if proc.returncode != 0:
            raise ValueError(f"exit {proc.returncode}: {err.decode(errors='replace')[:200]}")
        rate, pcm = parse_wav(out)
        pcm = resample(pcm, rate)
        if not pcm:
            raise ValueError("no audio")
        return pcm
