"""`booth bench`: measure audio quality and speed, transport recovery, latency, reliability."""

from __future__ import annotations

import argparse
import importlib
import sys

from booth.errors import EX_UNAVAILABLE

# Each target is a module booth/bench/<target>.py with run(*, as_json: bool) -> int.
TARGETS = ("audio", "transport", "pipeline", "reliability", "all")


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
    parser.add_argument(
        "what",
        choices=TARGETS,
        metavar="TARGET",
        help="what to measure: " + ", ".join(TARGETS),
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    target = args.what
    try:
        if target == "all":
            raise ModuleNotFoundError(name="booth.bench.all")
        module = importlib.import_module(f"booth.bench.{target}")
    except ModuleNotFoundError as exc:
        if exc.name != f"booth.bench.{target}":
            raise  # a real missing dependency, not a missing target
        print(f"booth bench {target}: not available yet", file=sys.stderr)
        return EX_UNAVAILABLE
    code: int = module.run(as_json=args.json)
    return code
