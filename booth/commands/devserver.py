"""`booth devserver`: run the reference voice service (REST + WebSocket) on loopback."""

from __future__ import annotations

import argparse

from booth.commands import not_delivered


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "devserver",
        help="Run the reference voice service (REST + WebSocket) on loopback.",
        description=(
            "Run the reference voice service (REST + WebSocket) on loopback.\n"
            "\n"
            "Speaks the whole booth protocol: tokens, a scripted persona, scoring, webhooks and\n"
            "fault injection. For demos, tests and integrators."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    return not_delivered("devserver", 4)
