"""`booth demo`: hold a whole scripted booth call offline, against an in-process devserver."""

from __future__ import annotations

import argparse

from booth.commands import not_delivered


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "demo",
        help="Hold a whole scripted booth call offline, against an in-process devserver.",
        description=(
            "Hold a whole scripted booth call offline, against an in-process devserver.\n"
            "\n"
            "Starts a reference voice service on loopback, runs the real daemon\n"
            "with mock pins and file-backed audio, presses the button on a script and prints\n"
            "a timeline and the score."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    return not_delivered("demo", 6)
