"""Config loading: every error class names file, key and problem, and exits 78."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from booth.cli import main
from booth.config import Config, ConfigError, load_api_key, load_config, parse_config
from booth.secret import Secret

REPO = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, text: str, name: str = "booth.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def run_cli(path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["run", "--config", str(path)])
    return code, capsys.readouterr().err


def test_example_config_is_complete_and_equals_defaults() -> None:
    config = load_config(REPO / "config" / "booth.toml")
    assert config == Config()
    assert config.source.endswith("booth.toml")


@pytest.mark.parametrize(
    ("text", "key", "problem"),
    [
        ("[call\nidle_timeout = 5", "(syntax)", "line 1, column 6"),
        ('[booth]\nid = "x"\nid = "y"\n', "(syntax)", "line 3"),
        ("[call]\nidle_timeot = 60\n", "call.idle_timeot", "did you mean call.idle_timeout?"),
        ("[cal]\nidle_timeout = 60\n", "cal", "did you mean call?"),
        ('[call]\nidle_timeout = "long"\n', "call.idle_timeout", "must be a number, got a string"),
        ("[panel]\nenabled = 1\n", "panel.enabled", "must be a boolean"),
        ("[call]\nidle_timeout = 2\n", "call.idle_timeout", "must be at least 10, got 2"),
        ("[audio]\ninput_gain_db = 99\n", "audio.input_gain_db", "must be at most 40, got 99"),
        ('[panel]\ntalk_mode = "pt"\n', "panel.talk_mode", "did you mean 'ptt'?"),
        ('[service]\nprotocol = "grpc"\n', "service.protocol", "must be one of 'booth',"),
        ('[service]\nflow = "grpc"\n', "service.flow", "must be one of 'athos', 'sdk-token'"),
        (
            '[service]\nflow = "sdk-token"\nprotocol = "atoms"\n',
            "service.flow",
            "says 'seed003' but service.protocol says otherwise",
        ),
        ('[service]\nprotocol = "atoms"\n', "service.agent_id", "is required"),
        ('[service]\nagent_id = "a1"\n', "service.agent_id", 'only used with protocol "atoms"'),
        (
            '[service]\nprotocol = "atoms"\nagent_id = "a"\n[audio]\nnoise_suppression = 2\n',
            "audio.noise_suppression",
            "webrtc works at 16 kHz",
        ),
        (
            '[service]\nprotocol = "seed003"\ndifficulty = "Elite"\n',
            "service.difficulty",
            "seed 003 has no place for it",
        ),
        ("[audio]\ninput_rate = 12345\n", "audio.input_rate", "must be 0 or one of"),
        ('[audio]\ninput_device = "/mic[/"\n', "audio.input_device", "bad regular expression"),
        (
            '[service]\napi_key = "ath_live_abcdef"\n',
            "service.api_key",
            "inline API key is refused",
        ),
        (
            '[service]\napi_url = "http://booth.example.com"\n',
            "service.api_url",
            "only allowed on loopback",
        ),
        ('[booth]\nid = "has space"\n', "booth.id", "is not of the form"),
        ("[call]\nidle_timeout = 1000\nmax_duration = 600\n", "call.idle_timeout", "longer than"),
        ("booth = 3\n", "booth", "must be a table, got an integer"),
        ("[panel.leds]\nred = 1.5\n", "panel.leds.red", "must be an integer or a string"),
    ],
)
def test_each_error_names_file_key_and_problem_and_exits_78(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, key: str, problem: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.key == key
    assert problem in caught.value.problem
    code, err = run_cli(path, capsys)
    assert code == 78
    assert f"{path}: {key}: " in err
    assert problem in err


def test_inline_key_value_is_not_echoed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, '[service]\napi_key = "ath_live_supersecret123"\n')
    code, err = run_cli(path, capsys)
    assert code == 78
    assert "supersecret" not in err


def test_missing_file_exits_78(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, err = run_cli(tmp_path / "absent.toml", capsys)
    assert code == 78
    assert "absent.toml: (file): no such file" in err


def key_file(tmp_path: Path, mode: int, text: str = "ath_live_0123456789abcdef\n") -> Path:
    path = tmp_path / "api_key"
    path.write_text(text)
    path.chmod(mode)
    return path


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644, 0o660])
def test_key_file_readable_by_others_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], mode: int
) -> None:
    key = key_file(tmp_path, mode)
    path = write(tmp_path, f'[service]\napi_key_file = "{key}"\n')
    code, err = run_cli(path, capsys)
    assert code == 78
    assert "service.api_key_file" in err
    assert f"chmod 600 {key}" in err
    assert "0123456789abcdef" not in err


def test_private_key_file_is_accepted_and_hidden(tmp_path: Path) -> None:
    key = key_file(tmp_path, 0o600)
    config = load_config(write(tmp_path, f'[service]\napi_key_file = "{key}"\n'))
    secret = load_api_key(config, environ={})
    assert isinstance(secret, Secret)
    assert secret.reveal() == "ath_live_0123456789abcdef"
    assert "0123" not in repr(secret) and "0123" not in f"{secret}"


def test_credentials_directory_wins_over_key_file(tmp_path: Path) -> None:
    cred = tmp_path / "creds"
    cred.mkdir()
    (cred / "api_key").write_text("ath_live_from_systemd_cred\n")
    (cred / "api_key").chmod(0o400)
    config = load_config(write(tmp_path, '[service]\napi_key_file = "/nonexistent"\n'))
    secret = load_api_key(config, environ={"CREDENTIALS_DIRECTORY": str(cred)})
    assert secret.reveal() == "ath_live_from_systemd_cred"


def test_no_key_anywhere_says_how_to_provide_one(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, ""))
    with pytest.raises(ConfigError) as caught:
        load_api_key(config, environ={})
    assert caught.value.key == "service.api_key_file"
    assert "LoadCredential=api_key" in caught.value.problem


@pytest.mark.parametrize("text", ["", "two words\n", "\n\n"])
def test_key_file_must_hold_one_key(tmp_path: Path, text: str) -> None:
    key = key_file(tmp_path, 0o600, text)
    config = load_config(write(tmp_path, f'[service]\napi_key_file = "{key}"\n'))
    with pytest.raises(ConfigError, match="one API key on one line"):
        load_api_key(config, environ={})


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_unreadable_key_file(tmp_path: Path) -> None:
    key = key_file(tmp_path, 0o000)
    config = load_config(write(tmp_path, f'[service]\napi_key_file = "{key}"\n'))
    with pytest.raises(ConfigError, match="permission denied"):
        load_api_key(config, environ={})


def test_bad_config_via_real_process_exits_78(tmp_path: Path) -> None:
    path = write(tmp_path, "[call]\nmax_duration = -1\n")
    proc = subprocess.run(
        [sys.executable, "-m", "booth", "run", "--config", str(path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert proc.returncode == 78
    assert "call.max_duration: must be at least 30, got -1" in proc.stderr


def test_help_lists_every_subcommand() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "booth", "--help"], capture_output=True, text=True, check=True
    )
    for name in ("run", "demo", "devserver", "doctor", "devices", "history", "bench"):
        assert f"    {name} " in proc.stdout or f"    {name}\n" in proc.stdout


def test_the_older_flow_key_still_reads() -> None:
    assert parse_config({"service": {"flow": "sdk-token"}}).service.protocol == "seed003"
    assert parse_config({"service": {"flow": "athos"}}).service.protocol == "booth"


@pytest.mark.parametrize(
    ("url", "why"),
    [("ws://127.0.0.1:8765", "http"), ("http://127.0.0.1:99999", "port"), ("http://[::1", "parse")],
)
def test_api_url_goes_through_the_url_policy(tmp_path: Path, url: str, why: str) -> None:
    path = tmp_path / "booth.toml"
    path.write_text(f'[service]\napi_url = "{url}"\n')
    with pytest.raises(ConfigError, match=why) as caught:
        load_config(path)
    assert "service.api_url" in str(caught.value)
