"""`booth bench`: measure audio quality and speed, transport recovery, latency, reliability."""

from __future__ import annotations

import argparse

from booth.commands import not_delivered


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "bench",
        help="Measure audio quality and speed, transport recovery, pipeline latency, reliability.",
        description=(
            "Measure audio quality and speed, transport recovery, pipeline latency, reliability.\n"
            "\n"
            "Prints a table, or JSON with --json. Targets are in the README's Performance section."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    return not_delivered("bench", 9)
