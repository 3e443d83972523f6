"""How the devserver speaks each dialect: codec, resume or not, error codes, audio pacing.

The persona, turn detection, recording and scoring run at 16 kHz whatever the dialect; a mode
whose wire rate differs converts at the socket with the framer, both ways.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import WSCloseCode

from booth.audio.framer import Framer
from booth.protocol.dialects import Name, ServerCodec
from booth.protocol.dialects.atoms import FATAL_CLOSE, AtomsServerCodec
from booth.protocol.dialects.booth import BoothServerCodec
from booth.protocol.dialects.seed003 import Seed003ServerCodec

CALL_RATE = 16000  # the devserver's own rate: persona, detector, recordings


@dataclass(frozen=True)
class Mode:
    name: Name
    codec: Callable[[], ServerCodec]
    resume: bool
    wire_rate: int
    bad_message: str  # error code for a client message the dialect refuses
    unknown_is_error: bool  # answer an unknown client message with an error (strict modes)
    fatal_close: int  # close code after a fatal error
    drop_reason: str  # why the call ended when its only socket went away
    chunk_s: float = 0.02  # persona audio per message
    speed: float = 1.0  # persona audio sent this many times faster than real time
    setup_delay: float = 0.0  # before the session is ready (messages earlier are refused)
    transcripts: bool = False  # persona lines as transcript(.delta) events

    def inbound(self) -> Callable[[bytes], bytes]:
        """Rep audio from the wire rate to the call's rate."""
        return _converter(self.wire_rate, CALL_RATE)

    def outbound(self) -> Callable[[bytes], bytes]:
        """Persona audio from the call's rate to the wire rate."""
        return _converter(CALL_RATE, self.wire_rate)


def _converter(in_rate: int, out_rate: int) -> Callable[[bytes], bytes]:
    if in_rate == out_rate:
        return lambda pcm: pcm
    framer = Framer(in_rate, out_rate, frame_samples=out_rate // 100)
    return lambda pcm: b"".join(framer.push(pcm))


BOOTH = Mode(
    name="booth",
    codec=BoothServerCodec,
    resume=True,
    wire_rate=16000,
    bad_message="PROTOCOL_ERROR",
    unknown_is_error=False,  # the booth protocol lets either side add message types
    fatal_close=WSCloseCode.POLICY_VIOLATION,
    drop_reason="network_lost",
)
SEED003 = Mode(
    name="seed003",
    codec=Seed003ServerCodec,
    resume=False,
    wire_rate=16000,
    bad_message="INVALID_REQUEST",
    unknown_is_error=True,
    fatal_close=WSCloseCode.INTERNAL_ERROR,
    drop_reason="session_closed",
)
ATOMS = Mode(
    name="atoms",
    codec=AtomsServerCodec,
    resume=False,
    wire_rate=24000,
    bad_message="invalid_event",
    unknown_is_error=True,
    fatal_close=FATAL_CLOSE,
    drop_reason="websocket_closed",
    chunk_s=0.1,
    speed=2.0,  # TTS outruns playback: the booth must buffer, not drop
    setup_delay=0.05,
    transcripts=True,
)
MODES: dict[str, Mode] = {m.name: m for m in (BOOTH, SEED003, ATOMS)}
