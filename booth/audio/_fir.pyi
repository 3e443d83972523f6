"""The framer's engine, in C (booth/audio/_fir.c); ``booth.audio.framer`` is its only user."""

import numpy as np
import numpy.typing as npt

class Chain:
    """Downmix, polyphase FIR stages, DC blocker, gain, rounding and framing for one stream."""

    def __init__(
        self,
        stages: tuple[tuple[bytes, int, int, int], ...],
        frame: int,
        dc_block: bool,
        dc_pole: float,
        gain: float,
        channels: int = 1,
    ) -> None: ...
    def push(self, pcm: bytes | bytearray | memoryview | npt.NDArray[np.int16], /) -> bytes:
        """Append native int16 frames of ``channels`` interleaved samples (1-d, or 2-d with a
        column a channel); the output frames now complete, joined."""
