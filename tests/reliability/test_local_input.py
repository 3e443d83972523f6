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

import booth
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
    """Fifty edges inside one debounce window (a worn switch): one press and its release, no
    crash, no stray call. The panel stamps edges with its clock, held still while the test
    drives them, so they fall in one window on a machine of any speed."""
    async with running_booth(tmp_path) as b:
        pin = b.factory.pin(17)
        with b.clock.stopped():
            for _ in range(25):
                pin.drive_low()
                pin.drive_high()
        # The first edge is a press; the level read after the window is the release.
        await b.until(lambda: len(b.buttons()) >= 2, 5, "the release after the chatter")
        assert b.buttons() == ["press", "release"]
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


def booth_run(
    config: Path, *prefix: str, python: str = sys.executable
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*prefix, python, "-m", "booth", "run", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd="/",
        check=False,
    )


def booth_run_as_nobody(config: Path, directory: Path) -> subprocess.CompletedProcess[str]:
    """``booth run`` as nobody, as a booth's service user would run it: nobody may not reach
    this checkout or its venv (a clone in root's home is 0700), so it runs a copy of the
    package from ``directory`` (world-traversable) on the system interpreter."""
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root (to run the booth as another user) and setpriv")
    if not os.access("/usr/bin/python3", os.X_OK):
        pytest.skip("no system interpreter /usr/bin/python3")
    package = directory / "src"
    if not package.exists():
        shutil.copytree(
            Path(booth.__file__).parent,
            package / "booth",
            ignore=shutil.ignore_patterns("__pycache__"),
        )
    nobody = (
        "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
        "env", f"PYTHONPATH={package}", "PYTHONDONTWRITEBYTECODE=1",
    )  # fmt: skip
    return booth_run(config, *nobody, python="/usr/bin/python3")


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
    """The key belongs to root, the daemon runs as nobody: a clear config error, exit 78.

    nobody may not reach this checkout or its venv (a clone in root's home is 0700): it runs
    a copy of the package, on the system interpreter, as a booth's service user would."""
    config, key = write_config(world_traversable_dir, 0o600)
    proc = booth_run_as_nobody(config, world_traversable_dir)
    assert proc.returncode == 78, proc.stderr
    assert f"{key}: permission denied" in proc.stderr
    assert KEY not in proc.stderr + proc.stdout
