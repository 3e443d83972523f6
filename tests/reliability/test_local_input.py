"""Bad local input: a button held for minutes, button chatter. (Config, credential and device
faults are covered in tests/foundation and tests/daemon; this file adds what a sales floor does
to the button.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.daemon.harness import running_booth
from tests.reliability.test_network import start_call

pytestmark = pytest.mark.reliability


async def test_button_held_for_minutes_does_not_burn_a_call(tmp_path: Path) -> None:
    """A bag leaning on the button: talking, but nobody speaks. The idle timeout ends the call,
    and the booth works again once the button is let go."""
    async with running_booth(tmp_path, call={"idle_timeout": 60.0}) as b:
        call_id = await start_call(b)
        b.mic.speaking = False  # nobody there
        await b.press()  # and keep it down
        await b.wait_state("talking")
        b.clock.jump(10 * 60)  # ten minutes pass (the machine's clock, not the test's)
        await b.until(lambda: b.app.summaries, 10, "the call's summary")
        assert b.app.summaries[-1]["END_REASON"] == "idle_timeout"
        assert b.app.machine.state not in ("listening", "talking", "reconnecting")
        await b.release()
        b.mic.speaking = True
        await start_call(b)
        assert b.app.run is not None
        assert b.app.run.call_id != call_id


async def test_button_chatter_is_debounced(tmp_path: Path) -> None:
    """Fifty edges within a few milliseconds (a worn switch): no crash, no stray call."""
    async with running_booth(tmp_path) as b:
        pin = b.factory.pin(17)
        for _ in range(25):
            pin.drive_low()
            pin.drive_high()
        # A real press after the chatter still starts exactly one call.
        await start_call(b)
        assert b.states().count("connecting") == 1
        assert len(b.server.calls) == 1
