"""`booth press`: the button's inputs, from the command line (the control socket)."""

from __future__ import annotations

import argparse
import time

from booth.commands import add_socket_option, ask_daemon
from booth.errors import EX_UNAVAILABLE


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "press",
        help="Press the booth's button from here (press, release, double press, hold).",
        description=(
            "Press the booth's button from here: the daemon gets the same inputs as from\n"
            "its GPIO button. In push-to-talk a press starts a call (or opens the mic), a\n"
            "release closes the mic, a double press ends the call."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_socket_option(parser)
    how = parser.add_mutually_exclusive_group()
    how.add_argument("--release", action="store_true", help="release the button")
    how.add_argument("--double", action="store_true", help="double press (ends a call)")
    how.add_argument(
        "--hold", type=float, metavar="SECONDS", help="press, hold SECONDS, then release"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    response = ask_daemon(
        args, "release" if args.release else "double_press" if args.double else "press"
    )
    if response is None:
        return EX_UNAVAILABLE
    if args.hold is not None:
        try:
            time.sleep(max(0.0, args.hold))
        finally:
            response = ask_daemon(args, "release")  # a Ctrl-C still lets go of the button
        if response is None:
            return EX_UNAVAILABLE
    if response.status is not None:
        print(f"{response.status.state} ({response.status.status})")
    return 0
