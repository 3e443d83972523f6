"""`booth doctor`: check config, credential, audio, GPIO and network."""

from __future__ import annotations

import argparse

from booth.commands import add_config_option, not_delivered


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "doctor",
        help="Check config, credential, audio, GPIO and network; print the fix for each problem.",
        description=(
            "Check config, credential, audio, GPIO and network; print the fix for each problem.\n"
            "\n"
            "Exits non-zero if any check fails."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_config_option(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    return not_delivered("doctor", 7)
