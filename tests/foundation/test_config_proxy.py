"""service.proxy and its credential: the URL's form, the credential file (or systemd
credential), and exit 78 naming file and key when the credential cannot be read."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from booth.config import ConfigError, load_config, load_proxy
from booth.logs import scrub
from tests.reliability import test_local_input
from tests.reliability.test_local_input import booth_run, booth_run_as_nobody, write_config

# The API key's own exit-78 tests' directory, config and `booth run`.
world_traversable_dir = test_local_input.world_traversable_dir

PASSWORD = "corp-proxy-pw-0042"


def config_with(tmp_path: Path, service: str) -> Path:
    path = tmp_path / "booth.toml"
    path.write_text(f"[service]\n{service}\n")
    return path


def secret_file(directory: Path, text: str, mode: int = 0o600, name: str = "proxy_auth") -> Path:
    path = directory / name
    path.write_text(text)
    path.chmod(mode)
    return path


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("https://proxy.corp:3128", "must start with http://"),
        ("socks5://proxy.corp:1080", "must start with http://"),
        (f"http://booth:{PASSWORD}@proxy.corp:3128", "a user or password in the URL is refused"),
        ("http://proxy.corp:3128/path", "no path"),
        ("http://proxy.corp:99999", "not a URL of the form http://host:port"),
        ("http://:3128", "has no host"),
    ],
)
def test_a_bad_proxy_url_names_the_key_and_never_echoes_it(
    tmp_path: Path, value: str, problem: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(config_with(tmp_path, f'proxy = "{value}"'))
    assert caught.value.key == "service.proxy"
    assert problem in caught.value.problem
    assert PASSWORD not in str(caught.value)


@pytest.mark.parametrize("key", ["proxy_password", "proxy_user", "password"])
def test_an_inline_proxy_credential_is_refused(tmp_path: Path, key: str) -> None:
    with pytest.raises(ConfigError, match="proxy_auth_file") as caught:
        load_config(config_with(tmp_path, f'{key} = "{PASSWORD}"'))
    assert caught.value.key == f"service.{key}"
    assert PASSWORD not in str(caught.value)


def test_no_proxy_is_a_direct_connection(tmp_path: Path) -> None:
    assert load_proxy(load_config(config_with(tmp_path, "")), environ={}) is None


def test_a_proxy_without_a_credential(tmp_path: Path) -> None:
    config = load_config(config_with(tmp_path, 'proxy = "http://proxy.corp:3128"'))
    proxy = load_proxy(config, environ={})
    assert proxy is not None
    assert (proxy.host, proxy.port, proxy.user, proxy.authorization()) == (
        "proxy.corp",
        3128,
        None,
        None,
    )


def test_the_credential_file_gives_user_and_password_which_never_print(tmp_path: Path) -> None:
    auth = secret_file(tmp_path, f"booth-3:{PASSWORD}\n")
    path = config_with(tmp_path, f'proxy = "http://10.0.0.8"\nproxy_auth_file = "{auth}"')
    proxy = load_proxy(load_config(path), environ={})
    assert proxy is not None and proxy.password is not None
    assert (proxy.address, proxy.user, proxy.password.reveal()) == (
        "10.0.0.8:80",
        "booth-3",
        PASSWORD,
    )
    assert PASSWORD not in repr(proxy) and PASSWORD not in f"{proxy}"
    # Both the password and the header's base64 form are scrubbed from any log line.
    header = proxy.authorization()
    assert header is not None
    assert PASSWORD not in scrub(f"sent {PASSWORD} as {header}")
    assert header.removeprefix("Basic ") not in scrub(f"sent {header}")


def test_the_systemd_credential_wins(tmp_path: Path) -> None:
    creds = tmp_path / "creds"
    creds.mkdir()
    secret_file(creds, f"from-systemd:{PASSWORD}", 0o400)
    path = config_with(
        tmp_path, 'proxy = "http://proxy.corp:3128"\nproxy_auth_file = "/nonexistent"'
    )
    proxy = load_proxy(load_config(path), environ={"CREDENTIALS_DIRECTORY": str(creds)})
    assert proxy is not None and proxy.user == "from-systemd"


@pytest.mark.parametrize(
    ("text", "mode", "problem"),
    [
        (f"booth:{PASSWORD}", 0o644, "lets group or others read it; run: chmod 600"),
        (PASSWORD, 0o600, "must hold user:password on one line"),
        (f":{PASSWORD}", 0o600, "must hold user:password on one line"),
        ("booth:", 0o600, "must hold user:password on one line"),
        (f"booth:{PASSWORD}\nsecond line", 0o600, "must hold user:password on one line"),
    ],
)
def test_a_bad_credential_file_names_file_and_key(
    tmp_path: Path, text: str, mode: int, problem: str
) -> None:
    auth = secret_file(tmp_path, text, mode)
    path = config_with(tmp_path, f'proxy = "http://proxy.corp:3128"\nproxy_auth_file = "{auth}"')
    with pytest.raises(ConfigError) as caught:
        load_proxy(load_config(path), environ={})
    assert caught.value.key == "service.proxy_auth_file"
    assert str(auth) in caught.value.problem and problem in caught.value.problem
    assert PASSWORD not in str(caught.value)


@pytest.mark.parametrize("why", ["missing", pytest.param("permission", marks=pytest.mark.root)])
def test_booth_run_exits_78_when_the_proxy_credential_is_unreadable(
    world_traversable_dir: Path, why: str
) -> None:
    """Checked at start, before any hardware or network: naming the file and the key."""
    config, key = write_config(world_traversable_dir, 0o600)
    auth = world_traversable_dir / "proxy_auth"
    if why == "permission":
        os.chown(key, 65534, -1)  # the API key is the booth user's own; the proxy's is root's
        secret_file(world_traversable_dir, f"booth:{PASSWORD}")
    proxy_lines = f'proxy = "http://127.0.0.1:9"\nproxy_auth_file = "{auth}"\n'
    config.write_text(config.read_text().replace("[service]\n", "[service]\n" + proxy_lines))
    if why == "permission":
        proc = booth_run_as_nobody(config, world_traversable_dir)
    else:
        proc = booth_run(config)
    assert proc.returncode == 78, proc.stderr
    expected = "no such file" if why == "missing" else "permission denied"
    assert f"service.proxy_auth_file: {auth}: {expected}" in proc.stderr
    assert PASSWORD not in proc.stderr + proc.stdout
