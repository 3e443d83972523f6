"""scripts/provision --proxy and --proxy-auth-file, staged under --root: the config names the
proxy, the credential is a root-only file handed to the service by a LoadCredential drop-in,
nothing secret anywhere else, and `--proxy ""` takes it all away again."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from booth.config import load_config, load_proxy
from tests.ops import test_provision
from tests.ops.test_provision import KEY, mode, provision, tree, verify_unit

source = test_provision.source  # the frozen copy of the checkout (a module-scoped fixture)

PROXY = "http://proxy.corp.example:3128"
PASSWORD = "proxy-floor-pw-991"


def auth_file(tmp_path: Path, text: str = f"booth-7:{PASSWORD}\n") -> Path:
    path = tmp_path / "proxy.txt"
    path.write_text(text)
    return path


def test_proxy_and_its_credential_are_installed_and_removed(source: Path, tmp_path: Path) -> None:
    root = tmp_path / "root"
    args = ("--skip-venv", "--no-start", "--proxy", PROXY)
    proc = provision(source, root, *args, "--proxy-auth-file", str(auth_file(tmp_path)))
    assert proc.returncode == 0, proc.stderr
    etc = root / "etc/booth"
    config = load_config(etc / "booth.toml")
    assert config.service.proxy == PROXY
    assert config.service.proxy_auth_file == ""  # the service reads it as a systemd credential
    credential = etc / "proxy_auth"
    assert credential.read_text() == f"booth-7:{PASSWORD}\n"
    assert (mode(credential), credential.stat().st_uid) == (0o600, 0)
    dropin = root / "etc/systemd/system/booth.service.d/proxy-auth.conf"
    assert "LoadCredential=proxy_auth:/etc/booth/proxy_auth" in dropin.read_text()
    if shutil.which("systemd-analyze"):  # the unit with the drop-in beside it, as systemd sees it
        beside = tmp_path / "verify" / "booth.service.d"
        beside.mkdir(parents=True)
        shutil.copy2(dropin, beside / dropin.name)
        unit = root / "etc/systemd/system/booth.service"
        checked = verify_unit(unit, shutil.which("true") or "/bin/true", tmp_path)
        assert checked.returncode == 0, checked.stderr
        assert dropin.name not in checked.stderr
    # What the daemon would load under systemd (the credential directory holds proxy_auth).
    proxy = load_proxy(config, environ={"CREDENTIALS_DIRECTORY": str(etc)})
    assert proxy is not None and (proxy.address, proxy.user) == (
        "proxy.corp.example:3128",
        "booth-7",
    )
    for path in root.rglob("*"):
        if path.is_file() and path != credential:
            assert PASSWORD not in path.read_text(errors="replace"), path
    assert PASSWORD not in proc.stdout + proc.stderr

    # A rerun without the flags keeps everything as it is.
    before = tree(root)
    again = provision(source, root, "--skip-venv", "--no-start", key=None)
    assert "provision: unchanged" in again.stdout, again.stdout
    assert tree(root) == before

    # Back to a direct connection: no proxy, no password left behind, no drop-in.
    direct = provision(source, root, "--skip-venv", "--no-start", "--proxy", "", key=None)
    assert direct.returncode == 0, direct.stderr
    assert load_config(etc / "booth.toml").service.proxy == ""
    assert not credential.exists()
    assert not dropin.exists()


@pytest.mark.parametrize(
    ("args", "code", "problem"),
    [
        (("--proxy", f"http://booth:{PASSWORD}@proxy.corp:3128"), 78,
         "a user or password in the URL is refused"),
        (("--proxy", "https://proxy.corp:3128"), 78, "must start with http://"),
        (("--proxy-password", PASSWORD), 64, "never taken from the command line"),
        (("--proxy", PROXY, "--proxy-auth-file", "{tmp}/proxy.txt"), 64,
         "must hold user:password on one line"),
        (("--proxy-auth-file", "{tmp}/proxy.txt"), 64, "--proxy-auth-file needs --proxy URL"),
    ],
)  # fmt: skip
def test_bad_proxy_input_changes_nothing(
    source: Path, tmp_path: Path, args: tuple[str, ...], code: int, problem: str
) -> None:
    auth_file(tmp_path, PASSWORD + "\n")  # no user: refused where a test passes it
    root = tmp_path / "root"
    argv = [a.replace("{tmp}", str(tmp_path)) for a in args]
    proc = provision(source, root, "--skip-venv", *argv, key=KEY)
    assert proc.returncode == code, proc.stderr
    assert problem in proc.stderr
    assert PASSWORD not in proc.stdout + proc.stderr
    assert not root.exists() or not any(root.iterdir())
