"""Regenerate the README's reference sections from the code, so they cannot drift.

python -m booth.docs          rewrite README.md in place
python -m booth.docs --check  exit 1 if README.md is out of date (the test suite does this)
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"
_BLOCK = re.compile(
    r"(<!-- BEGIN generated:(?P<name>[a-z-]+) -->\n)(?P<body>.*?)"
    r"(<!-- END generated:(?P=name) -->)",
    re.DOTALL,
)


def config_reference() -> str:
    from booth.config import describe_fields

    lines = ["| key | default | allowed | meaning |", "| --- | --- | --- | --- |"]
    for key, default, allowed, doc in describe_fields():
        lines.append(f"| `{key}` | `{default}` | {allowed} | {doc} |")
    return "\n".join(lines) + "\n"


def cli_reference() -> str:
    from booth.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    out = ["```text"]
    for name, command in sub.choices.items():
        usage = command.format_usage().replace("usage: ", "").strip()
        out.append(re.sub(r"\s+", " ", usage))
        helptext = next(c.help for c in sub._choices_actions if c.dest == name)
        out.append(f"    {helptext}")
    out.append("```")
    return "\n".join(out) + "\n"


def state_diagram() -> str:
    from booth.daemon.machine import mermaid_diagram

    return "```mermaid\n" + mermaid_diagram() + "```\n"


GENERATORS: dict[str, Callable[[], str]] = {
    "config": config_reference,
    "cli": cli_reference,
    "states": state_diagram,
}


def render(text: str) -> str:
    def replace(match: re.Match[str]) -> str:
        generator = GENERATORS.get(match["name"])
        if generator is None:
            return match[0]
        try:
            body = generator()
        except ImportError:  # a section whose source has not landed yet stays as it is
            return match[0]
        return match[1] + body + match[4]

    return _BLOCK.sub(replace, text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m booth.docs", description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if README.md is stale")
    args = parser.parse_args(argv)
    current = README.read_text(encoding="utf-8")
    fresh = render(current)
    if args.check:
        if fresh != current:
            print("README.md is out of date: run `python -m booth.docs`", file=sys.stderr)
            return 1
        return 0
    README.write_text(fresh, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
