"""Subcommands of `booth`. Each module has ``register(subparsers)``; heavy imports stay lazy."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from booth.daemon.control import Command, Response

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


def add_socket_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--socket",
        type=Path,
        default=None,
        metavar="PATH",
        help="the daemon's control socket (default: /run/booth/control.sock)",
    )


def ask_daemon(args: argparse.Namespace, command: Command) -> Response | None:
    """One control-socket request; a clear line on stderr (and None) when it cannot be made."""
    from booth.daemon import control

    path = args.socket or control.socket_path() or control.DEFAULT_SOCKET
    try:
        response = control.request(command, path)
    except (FileNotFoundError, ConnectionRefusedError):
        print(
            f"booth: no booth daemon answers at {path} (is it running? systemctl status booth)",
            file=sys.stderr,
        )
        return None
    except PermissionError:
        print(
            f"booth: {path}: permission denied: run as root (sudo), or join the booth group "
            "(usermod -aG booth $USER, then log in again)",
            file=sys.stderr,
        )
        return None
    except (control.ControlError, OSError) as exc:
        print(f"booth: {path}: {exc}", file=sys.stderr)
        return None
    if not response.ok:
        print(f"booth: the daemon refused {command}: {response.error}", file=sys.stderr)
        return None
    return response
