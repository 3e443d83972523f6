"""Subcommands of `booth`. Each module has ``register(subparsers)``; heavy imports stay lazy."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from booth.errors import EX_UNAVAILABLE


def add_config_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        type=Path,
        default=None,
        metavar="PATH",
        help="booth config file (default: /etc/booth/booth.toml)",
    )


def not_delivered(command: str, issue: int) -> int:
    print(
        f"booth {command}: not available in this build yet (tracked as issue #{issue})",
        file=sys.stderr,
    )
    return EX_UNAVAILABLE
