#!/usr/bin/env python3
"""A call in the seed-003 dialect: POST /api/v1/sdk/token (no body: no drill, no difficulty),
``{"token"}`` first, binary 640-byte frames both ways. The service names no call, so there is no
score; a drop ends the call (no resume).

    booth devserver &
    BOOTH_API_KEY=ath_live_… python examples/seed003_call.py rep.wav persona.wav

Any WAV rate works (resampled to 16 kHz by the framer). Options as examples/wav_call.py.
"""

from __future__ import annotations

import sys

from wav_call import main

if __name__ == "__main__":
    sys.exit(main(["--protocol", "seed003", *sys.argv[1:]]))
