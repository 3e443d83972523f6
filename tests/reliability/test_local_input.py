"""Bad local input: a button held for minutes, button chatter, a credential nobody may read or
everybody can, through the real `booth run`. (Every config error class is in
tests/foundation/test_config.py; mic and speaker lost mid-call and back in tests/daemon/test_app.py
and test_app_alsa.py; this file adds what a sales floor does to the button.)"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
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
        assert b.app.summaries[-1].end_reason == "idle_timeout"
        assert b.app.machine.state not in ("listening", "talking", "reconnecting")
        await b.release()
        b.mic.speaking = True
        await start_call(b)
        assert b.app.call is not None
        assert b.app.call.call_id != call_id


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


KEY = "ath_live_reliability_credential_0001"


@pytest.fixture
def world_traversable_dir() -> Iterator[Path]:
    """A directory another user can enter (pytest's tmp_path is private to root)."""
    path = Path(tempfile.mkdtemp(prefix="booth-cred-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path)


def booth_run(config: Path, *prefix: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*prefix, sys.executable, "-m", "booth", "run", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd="/",
        check=False,
    )


def write_config(directory: Path, key_mode: int) -> tuple[Path, Path]:
    key = directory / "api_key"
    key.write_text(KEY + "\n")
    key.chmod(key_mode)
    config = directory / "booth.toml"
    config.write_text(f'[service]\napi_key_file = "{key}"\n[panel]\npin_factory = "mock"\n')
    config.chmod(0o644)
    return config, key


def test_booth_run_refuses_a_world_readable_credential(world_traversable_dir: Path) -> None:
    config, key = write_config(world_traversable_dir, 0o644)
    proc = booth_run(config)
    assert proc.returncode == 78
    assert f"chmod 600 {key}" in proc.stderr
    assert KEY not in proc.stderr + proc.stdout


@pytest.mark.root
@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv"), reason="needs root")
def test_booth_run_with_an_unreadable_credential(world_traversable_dir: Path) -> None:
    """The key belongs to root, the daemon runs as nobody: a clear config error, exit 78."""
    config, key = write_config(world_traversable_dir, 0o600)
    nobody = ("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups")
    proc = booth_run(config, *nobody)
    assert proc.returncode == 78, proc.stderr
    assert f"{key}: permission denied" in proc.stderr
    assert KEY not in proc.stderr + proc.stdout
