#!/usr/bin/env python3
"""A call with a Smallest Atoms agent: register-call with the agent id (a single-use ``wct_``
token, 30 s), the Agent WebSocket with the token in its URL, JSON events and base64 PCM at
24 kHz. The service's voice detection ends a turn, so silence keeps streaming after the rep's
audio. No resume, no score (the conversation log has the transcript).

    booth devserver &     # its agents are its drills
    BOOTH_API_KEY=… python examples/atoms_call.py --agent-id cold-call-skeptic rep.wav persona.wav

Any WAV rate works (resampled to 24 kHz by the framer). Options as examples/wav_call.py.
"""

from __future__ import annotations

import sys

from wav_call import main

if __name__ == "__main__":
    sys.exit(main(["--protocol", "atoms", *sys.argv[1:]]))
