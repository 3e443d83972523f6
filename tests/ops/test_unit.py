"""The shipped unit passes `systemd-analyze verify` and scores <= 1.5 on `security --offline`."""

from __future__ import annotations

import configparser
import re
import shutil
import subprocess
from pathlib import Path

import pytest

UNIT = Path(__file__).resolve().parents[2] / "systemd" / "booth.service"
SHIPPED_EXEC = "/opt/booth/venv/bin/booth"
MAX_EXPOSURE = 1.5

pytestmark = pytest.mark.skipif(
    shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed"
)


def render(tmp_path: Path, text: str | None = None) -> Path:
    """A copy whose ExecStart binary exists here (verify insists on it)."""
    text = UNIT.read_text() if text is None else text
    true = shutil.which("true")
    assert true
    out = tmp_path / "booth.service"
    out.write_text(text.replace(SHIPPED_EXEC, true))
    return out


def verify(unit: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["systemd-analyze", "verify", str(unit)],
        capture_output=True,
        text=True,
        cwd=unit.parent,
        check=False,
    )


def exposure(unit: Path) -> float:
    proc = subprocess.run(
        ["systemd-analyze", "security", "--offline=true", "--no-pager", str(unit)],
        capture_output=True,
        text=True,
        cwd=unit.parent,
        check=False,
    )
    match = re.search(r"Overall exposure level for \S+: (\d+(?:\.\d+)?)", proc.stdout)
    assert match, proc.stdout + proc.stderr
    return float(match[1])


def directives(unit: Path) -> dict[str, list[str]]:
    values: dict[str, list[str]] = {}
    for raw in unit.read_text().splitlines():
        line = raw.strip()
        if line and not line.startswith(("#", "[")) and "=" in line:
            key, _, value = line.partition("=")
            values.setdefault(key, []).append(value)
    return values


def test_unit_verifies(tmp_path: Path) -> None:
    proc = verify(render(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.strip() == ""


def test_verify_catches_a_broken_unit(tmp_path: Path) -> None:
    broken = UNIT.read_text().replace("Type=notify", "Type=notifyy")
    proc = verify(render(tmp_path, broken))
    assert proc.returncode != 0 or "notifyy" in proc.stderr


def test_security_exposure_at_most_1_5(tmp_path: Path) -> None:
    score = exposure(render(tmp_path))
    assert score <= MAX_EXPOSURE, f"exposure {score} > {MAX_EXPOSURE}"


def test_unhardened_unit_scores_worse(tmp_path: Path) -> None:
    # The parse above must be able to fail: strip the hardening and the score goes up.
    bare = "\n".join(
        line
        for line in UNIT.read_text().splitlines()
        if not line.startswith(("Protect", "Private", "Restrict", "SystemCall", "Capability"))
    )
    assert exposure(render(tmp_path, bare)) > MAX_EXPOSURE


def test_operational_contract() -> None:
    d = directives(UNIT)
    assert d["Type"] == ["notify"]
    assert d["Restart"] == ["on-failure"]
    assert d["RestartPreventExitStatus"] == ["78"]
    assert d["LoadCredential"] == ["api_key:/etc/booth/api_key"]
    assert d["RuntimeDirectory"] == ["booth"]
    assert d["WorkingDirectory"] == ["/run/booth"]
    assert d["User"] == ["booth"]
    assert set(d["SupplementaryGroups"][0].split()) == {"audio", "gpio"}
    assert d["DevicePolicy"] == ["closed"]
    assert {"char-alsa rw", "char-gpiochip rw"} <= set(d["DeviceAllow"])
    assert d["ExecStart"] == [f"{SHIPPED_EXEC} run --config /etc/booth/booth.toml"]
    assert d["WatchdogSec"]
    assert "network-online.target" in d["Wants"][0]
    assert {"network-online.target", "sound.target"} <= set(d["After"][0].split())
    # No secret or environment-borne key in the unit.
    assert not any(
        re.search(r"(?i)api_key=|ath_live_", line) for line in UNIT.read_text().splitlines()
    )


def test_every_hardening_line_is_commented() -> None:
    lines = UNIT.read_text().splitlines()
    hardening = re.compile(
        r"^(NoNewPrivileges|Capability|Ambient|Protect|Private|Restrict|LockPersonality|"
        r"MemoryDeny|RemoveIPC|KeyringMode|SystemCall|DevicePolicy|DeviceAllow|UMask)"
    )
    for i, line in enumerate(lines):
        if hardening.match(line):
            above = lines[i - 1].strip()
            # a comment directly above, or the previous directive of the same commented group
            j = i - 1
            while j > 0 and hardening.match(lines[j]):
                j -= 1
            assert lines[j].startswith("#") or above.startswith("#"), line


def test_unit_parses_as_ini() -> None:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.read_string(UNIT.read_text())
    assert {"Unit", "Service", "Install"} <= set(parser.sections())
