"""`booth doctor` against real components: ALSA file PCMs through PyAudio, gpiozero mock pins,
a loopback HTTP service; and each broken input it must name, with its fix."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from booth.ops import doctor
from tests.ops.conftest import KEY, TOKEN, AlsaFactory
from tests.support.alsa import AlsaFileDevices


# -- a booth -------------------------------------------------------------------------------
def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def write_booth(
    tmp_path: Path,
    api_url: str,
    *,
    mic: str = "boothmic",
    speaker: str = "boothspk",
    extra: str = "",
    key_mode: int = 0o600,
    key: str = KEY,
) -> tuple[Path, Path]:
    key_file = tmp_path / "api_key"
    key_file.write_text(key + "\n")
    key_file.chmod(key_mode)
    config = tmp_path / "booth.toml"
    config.write_text(
        f"""
[booth]
id = "doctor-booth"
[service]
api_url = "{api_url}"
api_key_file = "{key_file}"
[audio]
input_device = "{mic}"
output_device = "{speaker}"
{extra}
"""
    )
    return config, key_file


def run_doctor(
    devs: AlsaFileDevices, config: Path, *args: str, env: dict[str, str] | None = None
) -> tuple[int, dict[str, dict[str, str]], str]:
    full_env = {
        **{k: v for k, v in os.environ.items() if k not in ("CREDENTIALS_DIRECTORY",)},
        **devs.env,
        "BOOTH_PIN_FACTORY": "mock",
        **(env or {}),
    }
    proc = subprocess.run(
        [sys.executable, "-m", "booth", "doctor", "--config", str(config), "--json", *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=60,
        check=False,
    )
    assert KEY not in proc.stdout + proc.stderr
    assert TOKEN not in proc.stdout + proc.stderr
    rows = {r["name"]: r for r in json.loads(proc.stdout)}
    return proc.returncode, rows, proc.stdout


# -- a healthy booth --------------------------------------------------------------------------
def test_healthy_booth_passes_every_check(tmp_path: Path, alsa: AlsaFactory, service: str) -> None:
    config, _ = write_booth(tmp_path, service)
    devs = alsa()
    code, rows, _ = run_doctor(devs, config, "--mint")
    rows.pop("interpreter")  # pass or skip: whether this machine has the unit installed
    assert {name: r["status"] for name, r in rows.items()} == {
        "config": "pass",
        "credential": "pass",
        "mic": "pass",
        "speaker": "pass",
        "gpio": "pass",
        "dns": "pass",
        "reach": "pass",
        "clock": "pass",
        "mint": "pass",
    }
    assert code == 0
    # A real level from the tone in the file (8000/32768 peak sine is about -15 dBFS).
    level = float(rows["mic"]["detail"].split("level ")[1].split(" dBFS")[0])
    assert -17 < level < -13
    assert "MockFactory" in rows["gpio"]["detail"]
    assert "req_doctor_1" in rows["mint"]["detail"]
    # The speaker really received audio (the file plugin wrote it).
    assert devs.output_path.stat().st_size > 0


def test_gpiozero_env_mock_factory_with_auto(
    tmp_path: Path, alsa: AlsaFactory, service: str
) -> None:
    config, _ = write_booth(tmp_path, service, extra='[panel]\npin_factory = "auto"')
    env = {"BOOTH_PIN_FACTORY": "", "GPIOZERO_PIN_FACTORY": "mock"}
    code, rows, _ = run_doctor(alsa(), config, "--no-audio", env=env)
    assert rows["gpio"]["status"] == "pass", rows["gpio"]
    assert code == 0


def test_table_output(tmp_path: Path, alsa: AlsaFactory, service: str) -> None:
    config, _ = write_booth(tmp_path, service)
    proc = subprocess.run(
        [sys.executable, "-m", "booth", "doctor", "--config", str(config)],
        capture_output=True,
        text=True,
        env={**os.environ, **alsa().env, "BOOTH_PIN_FACTORY": "mock"},
        check=False,
    )
    assert proc.returncode == 0, proc.stdout
    assert proc.stdout.rstrip().endswith("all checks passed")
    assert proc.stdout.startswith("ok    config")


# -- each broken input, named with its fix ---------------------------------------------------
def test_key_readable_by_others_fails_with_chmod_hint(
    tmp_path: Path, alsa: AlsaFactory, service: str
) -> None:
    config, key_file = write_booth(tmp_path, service, key_mode=0o644)
    code, rows, _ = run_doctor(alsa(), config, "--no-audio")
    assert code == 1
    assert rows["credential"]["status"] == "fail"
    assert "0644" in rows["credential"]["detail"]
    assert rows["credential"]["fix"] == f"chmod 600 {key_file}"


def test_missing_key_fails(tmp_path: Path, alsa: AlsaFactory, service: str) -> None:
    config, key_file = write_booth(tmp_path, service)
    key_file.unlink()
    code, rows, _ = run_doctor(alsa(), config, "--no-audio")
    assert code == 1
    assert rows["credential"]["status"] == "fail"
    assert "no API key" in rows["credential"]["detail"]
    assert "provision" in rows["credential"]["fix"]


def test_mic_not_matching_fails_with_device_hint(
    tmp_path: Path, alsa: AlsaFactory, service: str
) -> None:
    config, _ = write_booth(tmp_path, service, mic="USB PnP")
    code, rows, _ = run_doctor(alsa(), config)
    assert code == 1
    assert rows["mic"]["status"] == "fail"
    assert "NO_MIC_AVAILABLE" in rows["mic"]["detail"]
    assert "'USB PnP'" in rows["mic"]["detail"]
    assert "fall back to 'boothmic'" in rows["mic"]["detail"]
    assert "booth devices" in rows["mic"]["fix"]
    assert rows["speaker"]["status"] == "pass"


def test_no_mic_at_all_fails(tmp_path: Path, alsa: AlsaFactory, service: str) -> None:
    config, _ = write_booth(tmp_path, service, mic="")
    code, rows, _ = run_doctor(alsa(with_capture=False), config)
    assert code == 1
    assert rows["mic"]["status"] == "fail"
    assert rows["mic"]["detail"].startswith("NO_MIC_AVAILABLE")
    assert "booth devices" in rows["mic"]["fix"]


def test_missing_speaker_fails(tmp_path: Path, alsa: AlsaFactory, service: str) -> None:
    config, _ = write_booth(tmp_path, service, speaker="/^hdmi/")
    code, rows, _ = run_doctor(alsa(), config)
    assert code == 1
    assert rows["speaker"]["status"] == "fail"
    assert "AUDIO_PLAYBACK_BLOCKED" in rows["speaker"]["detail"]


def test_silent_mic_warns(tmp_path: Path, alsa: AlsaFactory, service: str) -> None:
    config, _ = write_booth(tmp_path, service)
    code, rows, _ = run_doctor(alsa(capture=np.zeros(96000, dtype=np.int16)), config)
    assert rows["mic"]["status"] == "warn"
    assert "silence" in rows["mic"]["detail"]
    assert "alsamixer" in rows["mic"]["fix"]
    assert code == 0  # a warning is not a failure


def test_unreachable_url_fails_with_url_hint(tmp_path: Path, alsa: AlsaFactory) -> None:
    config, _ = write_booth(tmp_path, closed_port_url())
    code, rows, _ = run_doctor(alsa(), config, "--no-audio", "--mint")
    assert code == 1
    assert rows["reach"]["status"] == "fail"
    assert "connection refused" in rows["reach"]["detail"]
    assert "service.api_url" in rows["reach"]["fix"]
    assert rows["mint"]["status"] == "fail"


def test_wrong_key_fails_mint_with_key_hint(
    tmp_path: Path, alsa: AlsaFactory, service: str
) -> None:
    config, _ = write_booth(tmp_path, service, key="ath_live_wrongkey_000000000")
    code, rows, out = run_doctor(alsa(), config, "--no-audio", "--mint")
    assert code == 1
    assert rows["mint"]["status"] == "fail"
    assert "401 INVALID_API_KEY" in rows["mint"]["detail"]
    assert "provision" in rows["mint"]["fix"]
    assert "ath_live_wrongkey_000000000" not in out


def test_pin_conflict_fails(tmp_path: Path, alsa: AlsaFactory, service: str) -> None:
    config, _ = write_booth(tmp_path, service, extra="[panel]\nbutton_pin = 22")
    code, rows, _ = run_doctor(alsa(), config, "--no-audio")
    assert code == 1
    assert rows["gpio"]["status"] == "fail"
    assert "GPIOPinInUse" in rows["gpio"]["detail"]
    assert "share a pin" in rows["gpio"]["fix"]


def test_bad_config_fails_and_skips_what_needs_it(tmp_path: Path, alsa: AlsaFactory) -> None:
    config = tmp_path / "booth.toml"
    config.write_text('[service]\napi_ulr = "http://127.0.0.1:1"\n')
    code, rows, _ = run_doctor(alsa(), config)
    assert code == 1
    assert rows["config"]["status"] == "fail"
    assert "did you mean service.api_url" in rows["config"]["detail"]
    assert rows["mic"]["status"] == rows["gpio"]["status"] == rows["reach"]["status"] == "skip"


def test_clock_before_2025_fails() -> None:
    ctx = doctor.Context(config_path=None)
    (row,) = doctor.check_clock(ctx, now=0.0)
    assert row.status == "fail"
    assert "1970-01-01" in row.detail
    assert "timesyncd" in row.fix


def test_clock_skew_against_service_warns() -> None:
    ctx = doctor.Context(config_path=None, server_date=1_800_000_000.0)
    (row,) = doctor.check_clock(ctx, now=1_800_000_000.0 + 300)
    assert row.status == "warn"
    (row,) = doctor.check_clock(ctx, now=1_800_000_000.0 + 2)
    assert row.status == "pass"


MDWE_RUNNER = """
import ctypes, runpy, sys
if ctypes.CDLL(None, use_errno=True).prctl(65, 1, 0, 0, 0) != 0:  # PR_SET_MDWE, REFUSE_EXEC_GAIN
    sys.exit(99)
sys.argv = ["booth", *sys.argv[1:]]
runpy.run_module("booth", run_name="__main__")
"""


def test_audio_and_gpio_work_without_writable_executable_memory(
    tmp_path: Path, alsa: AlsaFactory, service: str
) -> None:
    """The unit sets MemoryDenyWriteExecute=yes; the kernel's PR_SET_MDWE enforces the same
    W^X rule, so the ctypes callbacks, PortAudio, numpy and gpiozero must all cope."""
    config, _ = write_booth(tmp_path, service)
    proc = subprocess.run(
        [sys.executable, "-c", MDWE_RUNNER, "doctor", "--config", str(config), "--json"],
        capture_output=True,
        text=True,
        env={**os.environ, **alsa().env, "BOOTH_PIN_FACTORY": "mock"},
        timeout=60,
        check=False,
    )
    if proc.returncode == 99:
        pytest.skip("kernel without PR_SET_MDWE (Linux < 6.3)")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = {r["name"]: r["status"] for r in json.loads(proc.stdout)}
    assert rows["mic"] == rows["speaker"] == rows["gpio"] == "pass"


# -- the unit's interpreter ---------------------------------------------------------------
def write_unit(tmp_path: Path, python: str) -> Path:
    venv_bin = tmp_path / "venv" / "bin"
    venv_bin.mkdir(parents=True)
    (venv_bin / "python").symlink_to(python)
    script = venv_bin / "booth"
    script.write_text(f"#!{venv_bin / 'python'}\nimport booth\n")
    script.chmod(0o755)
    unit = tmp_path / "booth.service"
    unit.write_text(f"[Service]\nType=notify\nExecStart={script} run --config /etc/booth/x\n")
    return unit


def test_interpreter_on_the_system_python_passes(tmp_path: Path) -> None:
    unit = write_unit(tmp_path, "/usr/bin/python3")
    [row] = doctor.check_interpreter(doctor.Context(None), unit)
    assert row.status == "pass" and "/usr/bin/python3" in row.detail


def test_interpreter_in_a_home_directory_fails_naming_the_fix(tmp_path: Path) -> None:
    # A venv whose python links into /root (a pyenv build): ProtectHome=yes hides it.
    unit = write_unit(tmp_path, "/root/.pyenv/versions/3.11.7/bin/python3.11")
    [row] = doctor.check_interpreter(doctor.Context(None), unit)
    assert row.status == "fail" and "ProtectHome" in row.detail
    assert "/usr/bin/python3" in row.fix
    assert doctor.check_interpreter(doctor.Context(None), tmp_path / "none")[0].status == "skip"
