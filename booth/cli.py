"""The `booth` command line: one subcommand per module under booth/commands/."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from booth import __version__
from booth.config import ConfigError
from booth.errors import EX_CONFIG

# Order is the order `booth --help` lists them in.
COMMANDS = (
    "run",
    "status",
    "press",
    "call",
    "demo",
    "devserver",
    "doctor",
    "devices",
    "history",
    "bench",
)


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser with every subcommand, or with ``command``'s alone when it names one: each
    registers by importing its module, and what `booth run` imports stays in the daemon for
    its life (the other nine cost it ~0.9 MB)."""
    parser = argparse.ArgumentParser(
        prog="booth",
        description=(
            "Push-to-talk sales-practice booth: hold the button, talk to an AI prospect, "
            "get scored."
        ),
        epilog="Run `booth COMMAND --help` for a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"booth {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in (command,) if command in COMMANDS else COMMANDS:
        module = importlib.import_module(f"booth.commands.{name}")
        module.register(sub)
    return parser


def _command(argv: Sequence[str]) -> str | None:
    """The subcommand named on the command line (the first word that is not an option)."""
    return next((arg for arg in argv if not arg.startswith("-")), None)


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser(_command(argv))
    args = parser.parse_args(argv)
    try:
        code: int = args.func(args)
    except ConfigError as exc:
        print(f"booth: config error: {exc}", file=sys.stderr)
        return EX_CONFIG
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    raise SystemExit(main())
