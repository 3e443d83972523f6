"""A booth process for the crash test: holds one call, says so, then waits to be SIGKILLed.

python -m tests.reliability.crash_child API_URL STATE_DIR   (API key on stdin)
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from gpiozero.pins.mock import MockFactory, MockPWMPin

from booth.daemon.app import BoothApp
from booth.secret import Secret
from booth.sim.fake_audio import FakeMic, FakeSpeaker
from tests.daemon.harness import booth_config_for_url


async def main(api_url: str, state_dir: Path, api_key: str) -> None:
    factory = MockFactory(pin_class=MockPWMPin)
    app = BoothApp(
        booth_config_for_url(api_url),
        Secret(api_key),
        mic=FakeMic(),
        speaker=FakeSpeaker(),
        pin_factory=factory,
        tick_interval=0.05,
        state_dir=state_dir,
    )
    task = asyncio.create_task(app.run_forever())
    await app.ready.wait()
    factory.pin(17).drive_low()
    factory.pin(17).drive_high()
    while not (app.call and app.call.call_id and (state_dir / "call.json").exists()):
        await asyncio.sleep(0.02)  # a child's own wait; the parent synchronises on stdout
    print(f"IN_CALL {app.call.call_id}", flush=True)
    await task


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], Path(sys.argv[2]), sys.stdin.readline().strip()))
