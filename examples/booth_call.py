#!/usr/bin/env python3
"""A call in the booth protocol: mint + redeem with the drill and difficulty, resume after a drop,
the score afterwards (GET /api/external/v1/calls/{callId}).

    booth devserver &
    BOOTH_API_KEY=ath_live_… python examples/booth_call.py rep.wav persona.wav --drill quick

Any WAV rate works (resampled to 16 kHz by the framer). Options as examples/wav_call.py.
"""

from __future__ import annotations

import sys

from wav_call import main

if __name__ == "__main__":
    sys.exit(main(["--protocol", "booth", *sys.argv[1:]]))
