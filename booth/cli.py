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


def build_parser() -> argparse.ArgumentParser:
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
    for name in COMMANDS:
        module = importlib.import_module(f"booth.commands.{name}")
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
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
