"""`booth status`: what the running booth is doing, from its control socket."""

from __future__ import annotations

import argparse
import dataclasses
import json
import time

from booth.commands import add_socket_option, ask_daemon
from booth.daemon.control import Status
from booth.errors import EX_UNAVAILABLE
from booth.servicetext import clean


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "status",
        help="Show what the running booth is doing (state, call, persona, last call, devices).",
        description=(
            "Show what the running booth is doing: its state, the live call and persona, the\n"
            "last call's summary and its devices. Asks the daemon over its local control\n"
            "socket (root or the booth group). Over SSH: ssh HOST sudo booth status --json"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_socket_option(parser)
    parser.add_argument("--json", action="store_true", help="print the status as JSON")
    parser.add_argument(
        "--watch",
        nargs="?",
        type=float,
        const=1.0,
        default=None,
        metavar="SECONDS",
        help="print again whenever the state changes (polls every SECONDS, default 1)",
    )
    parser.set_defaults(func=run)


def render(status: Status) -> str:
    lines = [f"booth {clean(status.booth_id)}: {status.state} ({clean(status.status)})"]
    if status.call_id:
        persona = f" with {clean(status.persona)}" if status.persona else ""
        lines.append(f"call:      {clean(status.call_id)}{persona}")
    summary = status.last_summary
    if summary:
        score = summary.get("SCORE")
        lines.append(
            f"last call: {clean(summary.get('CALL_ID'))}, "
            f"{clean(summary.get('DURATION_SEC'))} s, "
            f"ended by {clean(summary.get('END_REASON'))}, "
            + (f"score {clean(score)}" if score is not None else "no score")
        )
    else:
        lines.append("last call: none since the daemon started")
    for row in status.devices:
        mark = {"pass": "ok", "warn": "WARN", "fail": "FAIL", "skip": "skip"}[row.status]
        lines.append(f"{mark:<4}  {row.name:<7}  {clean(row.detail)}")
    return "\n".join(lines)


def show(status: Status, as_json: bool) -> None:
    if as_json:
        print(json.dumps(dataclasses.asdict(status)), flush=True)
    else:
        print(render(status), flush=True)


def _moment(status: Status) -> tuple[object, ...]:
    """What a change is (not the call's running clock in the status text)."""
    summary = status.last_summary or {}
    rows = tuple((row.name, row.status) for row in status.devices)
    return (status.state, status.call_id, status.persona, summary.get("CALL_ID"), rows)


def run(args: argparse.Namespace) -> int:
    response = ask_daemon(args, "status")
    if response is None or response.status is None:
        return EX_UNAVAILABLE
    show(response.status, args.json)
    if args.watch is None:
        return 0
    last = _moment(response.status)
    while True:
        time.sleep(max(0.2, args.watch))
        response = ask_daemon(args, "status")
        if response is None or response.status is None:
            return EX_UNAVAILABLE
        now = _moment(response.status)
        if now != last:
            last = now
            if not args.json:
                print(time.strftime("── %H:%M:%S"))
            show(response.status, args.json)
