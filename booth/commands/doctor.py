"""`booth doctor`: check config, credential, audio, GPIO and network."""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path
from typing import TYPE_CHECKING

from booth.commands import add_config_option, add_socket_option

if TYPE_CHECKING:
    from booth.ops.checks import Check


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "doctor",
        help="Check config, credential, audio, GPIO and network; print the fix for each problem.",
        description=(
            "Check config, credential, audio, GPIO and network; print the fix for each problem.\n"
            "\n"
            "Checks: the config loads; the API key file exists, is 0600 and holds one key; the\n"
            "mic and speaker open at a supported rate (with a mic level); the button and LED\n"
            "pins can be claimed; the clock is sane; the api url resolves and answers (TLS\n"
            "verified); with --mint, the key mints a session token; the unit's Python is\n"
            "one the service can reach. While the booth runs, the daemon checks its own mic,\n"
            "speaker and pins (it holds them) and doctor shows its rows.\n"
            "Exits 1 if any check fails. BOOTH_PIN_FACTORY=mock checks pins without a Pi."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_config_option(parser)
    parser.add_argument(
        "--credential",
        type=Path,
        default=None,
        metavar="PATH",
        help="API key file to check (default: $CREDENTIALS_DIRECTORY/api_key, "
        "service.api_key_file, then /etc/booth/api_key)",
    )
    parser.add_argument("--mint", action="store_true", help="also mint a session token")
    parser.add_argument("--no-audio", action="store_true", help="skip the mic and speaker checks")
    parser.add_argument(
        "--no-gpio", action="store_true", help="skip the pin checks (the service holds the pins)"
    )
    parser.add_argument(
        "--timeout", type=float, default=5.0, help="seconds per network check (default 5)"
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    add_socket_option(parser)
    parser.set_defaults(func=run)


def daemon_rows(args: argparse.Namespace) -> list[Check] | None:
    """The running daemon's own device checks, or None when no daemon answers (then doctor
    opens the devices itself)."""
    from booth.daemon import control

    path = args.socket or control.socket_path() or control.DEFAULT_SOCKET
    if not path.exists():
        return None
    try:
        response = control.request("check", path)
    except (OSError, control.ControlError):
        return None
    if not response.ok or response.checks is None:
        return None
    note = " (checked by the running daemon)"
    return [dataclasses.replace(row, detail=row.detail + note) for row in response.checks]


def run(args: argparse.Namespace) -> int:
    from booth.ops import doctor

    ctx = doctor.Context(
        config_path=args.config, credential_path=args.credential, timeout=args.timeout
    )
    wanted = not (args.no_audio and args.no_gpio)
    rows = doctor.run_checks(
        ctx,
        mint=args.mint,
        audio=not args.no_audio,
        gpio=not args.no_gpio,
        from_daemon=daemon_rows(args) if wanted else None,
    )
    if args.json:
        print(json.dumps([dataclasses.asdict(r) for r in rows], indent=2))
    else:
        print(doctor.format_table(rows))
    return 1 if any(r.status == "fail" for r in rows) else 0
