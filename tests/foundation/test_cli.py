"""The `booth` command line: a command's parser carries that command alone."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from booth.cli import COMMANDS, main

_LOADED_BY_RUN = """
import json, sys
from booth import cli
parser = cli.build_parser(cli._command(["run", "--config", "booth.toml"]))
args = parser.parse_args(["run", "--config", "booth.toml"])
print(json.dumps({
    "command": args.command,
    "commands": sorted(m for m in sys.modules if m.startswith("booth.commands.")),
}))
"""


def test_booth_run_loads_no_other_command() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _LOADED_BY_RUN], capture_output=True, text=True, check=True
    )
    assert json.loads(done.stdout) == {"command": "run", "commands": ["booth.commands.run"]}


def test_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0
    listed = capsys.readouterr().out
    assert all(name in listed for name in COMMANDS)


def test_an_unknown_command_is_refused_with_the_choices(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["rnu"])
    assert exit_.value.code == 2
    assert "invalid choice: 'rnu'" in capsys.readouterr().err


def test_a_command_s_own_help_still_works(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["run", "--help"])
    assert exit_.value.code == 0
    assert "--config" in capsys.readouterr().out
