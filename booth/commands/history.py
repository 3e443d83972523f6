"""`booth history`: show recent calls from the journal as a table."""

from __future__ import annotations

import argparse

from booth.commands import not_delivered


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "history",
        help="Show recent calls from the journal as a table.",
        description=(
            "Show recent calls from the journal as a table.\n"
            "\n"
            "Reads booth's structured journal records (journalctl)."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    return not_delivered("history", 7)
