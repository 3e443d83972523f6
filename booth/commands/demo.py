"""`booth demo`: hold a whole scripted booth call offline, against an in-process devserver."""

from __future__ import annotations

import argparse
from pathlib import Path

from booth.commands import add_config_option


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "demo",
        help="Hold a whole scripted booth call offline, against an in-process devserver.",
        description=(
            "Hold a whole scripted booth call offline, against an in-process devserver.\n"
            "\n"
            "Starts a reference voice service on loopback, runs the real daemon\n"
            "with mock pins and file-backed audio, presses the button on a script (talk\n"
            "turns, a barge-in, a Wi-Fi drop and resume, the end), prints a timeline of events\n"
            "and LED states and the score, and writes persona.wav and rep.wav.\n"
            "\n"
            "--live uses the real mic and speaker and the keyboard instead (space: talk/stop,\n"
            "e: end the call, q: quit), against the service in --config."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("booth-demo"),
        metavar="DIR",
        help="where the WAV files go (default: ./booth-demo)",
    )
    parser.add_argument(
        "--live", action="store_true", help="real mic, speaker and keyboard; needs --config"
    )
    add_config_option(parser)
    parser.add_argument("-v", "--verbose", action="store_true", help="also print the daemon's log")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from booth.sim.demo import main, main_live

    if args.live:
        return main_live(args.config, verbose=args.verbose)
    return main(args.out, verbose=args.verbose)
