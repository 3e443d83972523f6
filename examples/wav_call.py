#!/usr/bin/env python3
"""Hold a roleplay call from a WAV file, no booth hardware needed; save the persona's voice.

    booth devserver &                        # or any service speaking one of the dialects
    BOOTH_API_KEY=ath_live_… python examples/wav_call.py rep.wav persona.wav
    BOOTH_API_KEY=… python examples/wav_call.py --protocol atoms --agent-id quick rep.wav out.wav

The API key comes from $BOOTH_API_KEY or --api-key-file (never the command line). rep.wav may be
any rate the booth's framer takes (8 to 96 kHz), mono or stereo, 16-bit: it is resampled to the
protocol's rate (16 kHz; 24 kHz for atoms) by the same fixed-point framer the booth's mic uses.
The rep's audio is sent in real time as one turn; then the script keeps the line open with
silence (a quiet room: what lets a service with its own voice detection hear the turn end) for
--listen seconds, ends the call and writes what the persona said to persona.wav.

One example per dialect calls this one: booth_call.py, seed003_call.py, atoms_call.py.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import wave
from pathlib import Path

from booth import call_events as ev
from booth.audio.framer import Framer
from booth.protocol.dialects import NAMES, traits
from booth.session import RoleplaySession


def read_rep_audio(path: Path, rate: int) -> bytes:
    """The WAV's audio as 20 ms frames of s16le mono at ``rate``, joined."""
    with wave.open(str(path), "rb") as wav:
        in_rate, channels, width = wav.getframerate(), wav.getnchannels(), wav.getsampwidth()
        if width != 2 or channels > 2:
            raise SystemExit(
                f"{path}: need 16-bit mono or stereo, got {8 * width}-bit, {channels} channel(s) "
                "(try: sox in.wav -b 16 out.wav)"
            )
        try:
            framer = Framer(in_rate, rate, channels=channels, frame_samples=rate // 50)
        except ValueError as exc:
            raise SystemExit(f"{path}: {exc}") from None
        frames = framer.push(wav.readframes(wav.getnframes()))
    # The framer's filter holds a few ms back: flush it with silence, whole frames out.
    frames += framer.push(bytes(2 * channels * (in_rate // 25)))
    return b"".join(frames)


async def hold_call(
    api_url: str,
    api_key: str,
    rep_wav: Path,
    persona_wav: Path,
    *,
    protocol: str = "booth",
    drill: str = "cold-call-skeptic",
    agent_id: str | None = None,
    listen: float = 8.0,
) -> dict[str, object]:
    rate = traits(protocol).wire_rate
    pcm = read_rep_audio(rep_wav, rate)
    session = RoleplaySession(
        api_url, api_key, drill, protocol=protocol, agent_id=agent_id, booth_id="wav-example"
    )
    frame_bytes = session.frame_bytes
    session.on("ready", lambda p: print(f"connected: talking to {p['persona']['name'] or '?'}"))
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
    silence = bytes(frame_bytes)
    speech_frames = len(pcm) // frame_bytes
    total = speech_frames + round(listen / 0.02)
    for n in range(total):
        if session.end_reason is not None:
            break  # the service ended the call
        if n < speech_frames:
            session.send_audio(pcm[n * frame_bytes : (n + 1) * frame_bytes])
        else:
            if n == speech_frames:
                session.turn_end()
            session.send_audio(silence)
        # Real time: the service hears a person talking, not a burst.
        await asyncio.sleep(max(0.0, start + (n + 1) * 0.02 - loop.time()))
    await session.end()
    await collector
    with wave.open(str(persona_wav), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(session.sample_rate)
        out.writeframes(bytes(heard))
    ended = session.first(ev.Ended)
    summary = {
        "protocol": protocol,
        "callId": session.call_id,
        "reason": session.end_reason,
        "durationSec": getattr(ended, "duration", None),
        "personaSeconds": round(len(heard) / 2 / session.sample_rate, 2),
        "framesSent": session.stats.frames_sent,
        "reconnects": session.stats.reconnects,
    }
    print(summary)
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("rep_wav", type=Path)
    parser.add_argument("persona_wav", type=Path)
    parser.add_argument("--api-url", default="http://127.0.0.1:8765")
    parser.add_argument("--api-key-file", type=Path)
    parser.add_argument("--protocol", choices=NAMES, default="booth")
    parser.add_argument("--drill", default="cold-call-skeptic", help="booth protocol only")
    parser.add_argument("--agent-id", help="atoms: the agent (required there)")
    parser.add_argument("--listen", type=float, default=8.0)
    args = parser.parse_args(argv)
    if args.protocol == "atoms" and not args.agent_id:
        parser.error("--protocol atoms needs --agent-id")
    if args.api_key_file:
        key = args.api_key_file.read_text().strip()
    else:
        key = os.environ.get("BOOTH_API_KEY", "")
    if not key:
        parser.error("set BOOTH_API_KEY or pass --api-key-file")
    asyncio.run(
        hold_call(
            args.api_url,
            key,
            args.rep_wav,
            args.persona_wav,
            protocol=args.protocol,
            drill=args.drill,
            agent_id=args.agent_id,
            listen=args.listen,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
