"""scripts/provision for real, staged under --root: modes, config, unit, idempotence, uninstall."""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import subprocess
import tempfile
from pathlib import Path

import pytest

from booth.config import load_config
from booth.ops.presets import apply_preset
from tests.ops.conftest import AlsaFactory

CHECKOUT = Path(__file__).resolve().parents[2]
KEY = "ath_live_provisiontestkey0123"
SHIPPED_EXEC = "/opt/booth/venv/bin/booth"


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A frozen copy of the checkout: others editing it must not change what we install."""
    src = tmp_path_factory.mktemp("src")
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "*.so")
    for name in ("booth", "systemd", "scripts", "config"):
        shutil.copytree(CHECKOUT / name, src / name, ignore=ignore)
    for name in ("pyproject.toml", "setup.py", "README.md"):
        shutil.copy2(CHECKOUT / name, src / name)
    return src


def provision(
    source: Path, root: Path, *args: str, key: str | None = KEY, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "BOOTH_PYTHON": "/usr/bin/python3", **(env or {})}
    return subprocess.run(
        [str(source / "scripts" / "provision"), "--root", str(root), *args],
        input=key + "\n" if key is not None else "",
        capture_output=True,
        text=True,
        env=full_env,
        timeout=600,
        check=False,
    )


def tree(root: Path) -> dict[str, tuple[object, ...]]:
    """Every path with its type, mode, owner, mtime and content hash."""
    out: dict[str, tuple[object, ...]] = {}
    for path in [root, *sorted(root.rglob("*"))]:
        st = path.lstat()
        rel = str(path.relative_to(root))
        if stat.S_ISLNK(st.st_mode):
            out[rel] = ("link", os.readlink(path))
        elif stat.S_ISDIR(st.st_mode):
            out[rel] = ("dir", st.st_mode, st.st_uid, st.st_mtime_ns)
        else:
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            out[rel] = ("file", st.st_mode, st.st_uid, st.st_gid, st.st_mtime_ns, digest)
    return out


def is_empty(root: Path) -> bool:
    return not root.exists() or not any(root.iterdir())


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def verify_unit(unit: Path, exec_path: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    rendered = tmp_path / "verify" / "booth.service"
    rendered.parent.mkdir(exist_ok=True)
    rendered.write_text(unit.read_text().replace(SHIPPED_EXEC, exec_path))
    return subprocess.run(
        ["systemd-analyze", "verify", str(rendered)],
        capture_output=True,
        text=True,
        cwd=rendered.parent,
        check=False,
    )


def check_staged(root: Path, tmp_path: Path, exec_path: str) -> None:
    etc = root / "etc" / "booth"
    key_file = etc / "api_key"
    assert key_file.read_text() == KEY + "\n"
    assert mode(key_file) == 0o600
    assert key_file.stat().st_uid == 0
    assert mode(etc / "booth.toml") == 0o644
    unit = root / "etc/systemd/system/booth.service"
    assert unit.read_text() == (CHECKOUT / "systemd/booth.service").read_text()
    wants = root / "etc/systemd/system/multi-user.target.wants/booth.service"
    assert os.readlink(wants) == "/etc/systemd/system/booth.service"
    sysusers = (root / "etc/sysusers.d/booth.conf").read_text()
    assert "m booth audio" in sysusers
    assert "m booth gpio" in sysusers
    # The rendered config loads, with the flags in it and the preset applied.
    config = load_config(etc / "booth.toml")
    assert config.booth.id == "lobby-7"
    assert config.service.drill_key == "discovery-call"
    assert config.service.difficulty == "Advanced"
    assert config.panel.talk_mode == "toggle"
    assert config.audio.input_device == 'USB "PnP" Mic'
    assert config.panel.preset == "respeaker-2mic"
    applied = apply_preset(config, [etc / "presets"])
    assert applied.panel.leds.mode == "none"
    assert applied.panel.button_pin == 17
    # The key is nowhere but its own file.
    for path in root.rglob("*"):
        if path.is_file() and path != key_file and "venv" not in path.parts:
            assert KEY not in path.read_text(errors="replace"), path
    if shutil.which("systemd-analyze"):
        proc = verify_unit(unit, exec_path, tmp_path)
        assert proc.returncode == 0, proc.stderr


FLAGS = (
    "--no-start",
    "--booth-id",
    "lobby-7",
    "--drill",
    "discovery-call",
    "--difficulty",
    "Advanced",
    "--talk-mode",
    "toggle",
    "--pin-preset",
    "respeaker-2mic",
    "--input-device",
    'USB "PnP" Mic',
)


def run_cycle(source: Path, tmp_path: Path, extra: tuple[str, ...], exec_path: str) -> Path:
    root = tmp_path / "root"
    first = provision(source, root, *FLAGS, *extra)
    assert first.returncode == 0, first.stderr
    assert "provision: done" in first.stdout
    check_staged(root, tmp_path, exec_path.replace("{root}", str(root)))
    before = tree(root)

    # Second run, no flags and no key: everything comes from what was saved.
    second = provision(source, root, "--no-start", *extra, key=None)
    assert second.returncode == 0, second.stderr
    assert "provision: unchanged" in second.stdout, second.stdout
    assert tree(root) == before

    # The same flags again (and the key again): still nothing changes.
    third = provision(source, root, *FLAGS, *extra)
    assert "provision: unchanged" in third.stdout, third.stdout
    assert tree(root) == before
    return root


def uninstall_leaves_nothing(source: Path, root: Path) -> None:
    proc = provision(source, root, "--uninstall", key=None)
    assert proc.returncode == 0, proc.stderr
    assert is_empty(root)


def test_provision_staged_without_venv(source: Path, tmp_path: Path) -> None:
    root = run_cycle(source, tmp_path, ("--skip-venv",), shutil.which("true") or "/bin/true")
    assert not (root / "opt/booth/venv").exists()
    uninstall_leaves_nothing(source, root)


@pytest.mark.slow
@pytest.mark.timeout(600)  # pip builds PyAudio; minutes on a loaded 2-core machine
def test_provision_staged_with_real_venv(source: Path, tmp_path: Path) -> None:
    root = run_cycle(source, tmp_path, (), "{root}" + SHIPPED_EXEC)
    venv = root / "opt/booth/venv"
    # Scripts name the interpreter at its path on the target system.
    assert (venv / "bin/booth").read_text().splitlines()[0] == "#!/opt/booth/venv/bin/python"
    assert os.readlink(root / "usr/local/bin/booth") == SHIPPED_EXEC
    proc = subprocess.run(
        [str(venv / "bin/python"), "-m", "booth", "--version"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("booth ")
    proc = subprocess.run(
        [str(venv / "bin/python"), "-c", "import systemd.journal, pyaudio, gpiozero, httpx"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    uninstall_leaves_nothing(source, root)


def test_key_on_the_command_line_is_refused(source: Path, tmp_path: Path) -> None:
    root = tmp_path / "root"
    proc = provision(source, root, "--skip-venv", "--api-key", KEY, key=None)
    assert proc.returncode == 64
    assert "never taken from the command line" in proc.stderr
    assert KEY not in proc.stderr + proc.stdout
    assert is_empty(root)


def test_missing_key_is_an_error_that_changes_nothing(source: Path, tmp_path: Path) -> None:
    root = tmp_path / "root"
    proc = provision(source, root, "--skip-venv", key=None)
    assert proc.returncode == 64
    assert "no API key" in proc.stderr
    assert is_empty(root)


def test_key_from_file(source: Path, tmp_path: Path) -> None:
    root = tmp_path / "root"
    key_file = tmp_path / "key.txt"
    key_file.write_text(KEY + "\n")
    proc = provision(source, root, "--skip-venv", "--api-key-file", str(key_file), key=None)
    assert proc.returncode == 0, proc.stderr
    assert (root / "etc/booth/api_key").read_text() == KEY + "\n"


@pytest.mark.parametrize(
    ("flags", "problem"),
    [
        (("--talk-mode", "hold"), "panel.talk_mode"),
        (("--pin-preset", "nope"), "no preset named 'nope'"),
        (("--api-url", "http://api.example.com"), "service.api_url"),
        (("--booth-id", "bad id!"), "booth.id"),
    ],
)
def test_bad_settings_exit_78_and_change_nothing(
    source: Path, tmp_path: Path, flags: tuple[str, ...], problem: str
) -> None:
    root = tmp_path / "root"
    proc = provision(source, root, "--skip-venv", *flags)
    assert proc.returncode == 78
    assert problem in proc.stderr
    assert is_empty(root)


def test_settings_from_environment(source: Path, tmp_path: Path) -> None:
    root = tmp_path / "root"
    proc = provision(
        source,
        root,
        "--skip-venv",
        env={"BOOTH_TALK_MODE": "open", "BOOTH_API_URL": "https://api.example.com"},
    )
    assert proc.returncode == 0, proc.stderr
    config = load_config(root / "etc/booth/booth.toml")
    assert config.panel.talk_mode == "open"
    assert config.service.api_url == "https://api.example.com"


def test_journal_upload_config(source: Path, tmp_path: Path) -> None:
    root = tmp_path / "root"
    url = "https://logs.example.com:19532"
    proc = provision(source, root, "--skip-venv", "--journal-upload-url", url)
    assert proc.returncode == 0, proc.stderr
    conf = root / "etc/systemd/journal-upload.conf.d/booth.conf"
    assert f"URL={url}" in conf.read_text()
    wants = root / "etc/systemd/system/multi-user.target.wants/systemd-journal-upload.service"
    assert wants.is_symlink()
    # Clearing the URL removes the upload config again.
    proc = provision(source, root, "--skip-venv", "--journal-upload-url", "", key=None)
    assert proc.returncode == 0, proc.stderr
    assert not conf.exists()
    assert not wants.is_symlink()


# -- the real (non-staged) path, on this machine's own /etc, /opt and /usr/local -------------
# Run in a private mount namespace with an overlay on each, so users, files and the venv are
# created for real (systemd-sysusers, useradd's files, pip) while the host stays untouched.
OVERLAID = ("/etc", "/opt", "/usr/local")


def in_overlay(
    layers: Path, argv: list[str], *, stdin: str = "", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    mounts = []
    for i, target in enumerate(OVERLAID):
        upper, work = layers / f"upper{i}", layers / f"work{i}"
        upper.mkdir(parents=True, exist_ok=True)
        work.mkdir(parents=True, exist_ok=True)
        mounts.append(
            f"mount -t overlay overlay -o lowerdir={target},upperdir={upper},workdir={work} "
            f"{target}"
        )
    script = "set -e\nmount --make-rprivate /\n" + "\n".join(mounts) + '\nexec "$@"\n'
    return subprocess.run(
        ["unshare", "-m", "sh", "-c", script, "sh", *argv],
        input=stdin,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=600,
        check=False,
    )


@pytest.mark.slow
@pytest.mark.root
@pytest.mark.timeout(600)
def test_provision_real_system_path(
    source: Path, tmp_path: Path, alsa: AlsaFactory, service: str
) -> None:
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("needs root and unshare (mount namespace with overlays)")
    if Path("/run/systemd/system").exists():
        pytest.skip("systemd is running here: provision would start the real service")
    layers = tmp_path / "layers"
    provision_cmd = [
        str(source / "scripts/provision"),
        "--api-url",
        service,
        "--booth-id",
        "overlay-booth",
        "--input-device",
        "boothmic",
        "--output-device",
        "boothspk",
        "--pin-preset",
        "button-rgb",
    ]
    env = {
        **alsa().env,  # the doctor run finds the ALSA file devices through these
        "BOOTH_PIN_FACTORY": "mock",
        "BOOTH_PYTHON": "/usr/bin/python3",
    }
    first = in_overlay(layers, provision_cmd, stdin=KEY + "\n", env=env)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "systemd is not running here" in first.stdout
    assert "all checks passed" in first.stdout  # booth doctor, run by provision, for real
    # Users and groups were created for real (in the overlay's copy of /etc).
    etc_upper = layers / "upper0"
    passwd = (etc_upper / "passwd").read_text()
    assert any(line.startswith("booth:") for line in passwd.splitlines())
    groups = {
        line.split(":")[0]: line.split(":")[3].split(",")
        for line in (etc_upper / "group").read_text().splitlines()
    }
    assert "booth" in groups["audio"]
    assert "booth" in groups["gpio"]
    key_file = etc_upper / "booth/api_key"
    assert mode(key_file) == 0o600
    assert (layers / "upper2/bin/booth").is_symlink()

    second = in_overlay(layers, provision_cmd, env=env)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "provision: unchanged" in second.stdout

    gone = in_overlay(layers, [str(source / "scripts/provision"), "--uninstall"], env=env)
    assert gone.returncode == 0, gone.stderr
    assert "removed user booth" in gone.stdout
    check = in_overlay(
        layers,
        [
            "sh",
            "-c",
            "! getent passwd booth && [ ! -e /etc/booth ] && [ ! -e /opt/booth ] "
            "&& [ ! -e /usr/local/bin/booth ] && [ ! -e /etc/systemd/system/booth.service ] "
            "&& [ ! -e /etc/sysusers.d/booth.conf ] && echo clean",
        ],
    )
    assert check.stdout.strip() == "clean", check.stdout + check.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to put an interpreter under /home")
def test_an_interpreter_the_unit_cannot_reach_is_refused(source: Path, tmp_path: Path) -> None:
    # A python3 in a home directory, like a pyenv build first on root's PATH.
    home = Path(tempfile.mkdtemp(prefix="booth-provision-", dir="/home"))
    try:
        shutil.copy2(os.path.realpath("/usr/bin/python3"), home / "python3")
        root = tmp_path / "root"
        proc = provision(source, root, env={"BOOTH_PYTHON": str(home / "python3")})
        assert proc.returncode == 64, proc.stdout + proc.stderr
        assert "ProtectHome" in proc.stderr and "--python /usr/bin/python3" in proc.stderr
        assert not (root / "opt").exists() and not (root / "etc").exists()
    finally:
        shutil.rmtree(home)


def test_key_on_two_lines_is_refused(source: Path, tmp_path: Path) -> None:
    root = tmp_path / "root"
    proc = provision(source, root, "--skip-venv", key=f"{KEY}\nsomething-else")
    assert proc.returncode == 64
    assert "one line" in proc.stderr
    assert KEY not in proc.stderr + proc.stdout
    assert is_empty(root)
