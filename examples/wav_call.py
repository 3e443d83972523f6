#!/usr/bin/env python3
"""Hold a roleplay call from a WAV file, no booth hardware needed; save the persona's voice.

    booth devserver &                        # or any Athos-compatible service
    BOOTH_API_KEY=ath_live_… python examples/wav_call.py rep.wav persona.wav

The API key comes from $BOOTH_API_KEY or --api-key-file (never the command line). rep.wav must
be 16 kHz mono 16-bit PCM. The rep's audio is sent in real time as one turn; then the script
listens for --listen seconds, ends the call and writes what the persona said to persona.wav.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import wave
from pathlib import Path

from booth import call_events as ev
from booth.session import RoleplaySession

FRAME = 640  # 20 ms at 16 kHz, s16le mono


def read_rep_audio(path: Path) -> bytes:
    with wave.open(str(path), "rb") as wav:
        shape = (wav.getframerate(), wav.getnchannels(), wav.getsampwidth())
        if shape != (16000, 1, 2):
            raise SystemExit(
                f"{path}: need 16000 Hz mono 16-bit, got {shape[0]} Hz, {shape[1]} channel(s), "
                f"{8 * shape[2]}-bit (try: sox in.wav -r 16000 -c 1 -b 16 out.wav)"
            )
        return wav.readframes(wav.getnframes())


async def hold_call(
    api_url: str,
    api_key: str,
    rep_wav: Path,
    persona_wav: Path,
    *,
    drill: str = "cold-call-skeptic",
    listen: float = 8.0,
) -> dict[str, object]:
    pcm = read_rep_audio(rep_wav)
    pcm += b"\x00" * (-len(pcm) % FRAME)
    session = RoleplaySession(api_url, api_key, drill, booth_id="wav-example")
    session.on("ready", lambda p: print(f"connected: talking to {p['persona']['name']}"))
    session.on("reconnecting", lambda _p: print("link lost, reconnecting…"))
    session.on("error", lambda p: print(f"error {p['code']}: {p['message']}", file=sys.stderr))
    heard = bytearray()

    async def collect() -> None:
        async for chunk in session.persona_audio():
            heard.extend(chunk)

    await session.connect()
    collector = asyncio.create_task(collect())
    loop = asyncio.get_running_loop()
    start = loop.time()
    for n, offset in enumerate(range(0, len(pcm), FRAME)):
        session.send_audio(pcm[offset : offset + FRAME])
        # Real time: the service hears a person talking, not a burst.
        await asyncio.sleep(max(0.0, start + (n + 1) * 0.02 - loop.time()))
    session.turn_end()
    await asyncio.sleep(listen)
    await session.end()
    await collector
    with wave.open(str(persona_wav), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16000)
        out.writeframes(bytes(heard))
    ended = session.first(ev.Ended)
    summary = {
        "callId": session.call_id,
        "reason": session.end_reason,
        "durationSec": ended.duration if ended else None,
        "personaSeconds": round(len(heard) / 32000, 2),
        "framesSent": session.stats.frames_sent,
        "reconnects": session.stats.reconnects,
    }
    print(summary)
    return summary


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("rep_wav", type=Path)
    parser.add_argument("persona_wav", type=Path)
    parser.add_argument("--api-url", default="http://127.0.0.1:8765")
    parser.add_argument("--api-key-file", type=Path)
    parser.add_argument("--drill", default="cold-call-skeptic")
    parser.add_argument("--listen", type=float, default=8.0)
    args = parser.parse_args()
    if args.api_key_file:
        key = args.api_key_file.read_text().strip()
    else:
        key = os.environ.get("BOOTH_API_KEY", "")
    if not key:
        parser.error("set BOOTH_API_KEY or pass --api-key-file")
    asyncio.run(
        hold_call(
            args.api_url, key, args.rep_wav, args.persona_wav, drill=args.drill, listen=args.listen
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
