"""`booth call test|end`: start a test call or end the live call (the control socket)."""

from __future__ import annotations

import argparse

from booth.commands import add_socket_option, ask_daemon
from booth.errors import EX_UNAVAILABLE


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "call",
        help="Start a test call, or end the live call, on the running booth.",
        description=(
            "test: start a call as a tap of the button would (the persona opens; hold the\n"
            "button, or `booth press --hold SECONDS`, to talk). end: end the live call, as a\n"
            "double press would; the call is then scored."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("action", choices=("test", "end"))
    add_socket_option(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    response = ask_daemon(args, "test_call" if args.action == "test" else "end_call")
    if response is None:
        return EX_UNAVAILABLE
    if response.status is not None:
        print(f"{response.status.state} ({response.status.status})")
    return 0
