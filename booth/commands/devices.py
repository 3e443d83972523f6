"""`booth devices`: list audio input and output devices with the rates each accepts."""

from __future__ import annotations

import argparse

from booth.commands import not_delivered


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "devices",
        help="List audio input and output devices with the rates each accepts.",
        description=(
            "List audio input and output devices with the rates each accepts.\n"
            "\n"
            "Use a name (or a part of it) from this list as audio.input_device / output_device."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    return not_delivered("devices", 3)
