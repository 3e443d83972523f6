"""`booth history`: show recent calls from the journal as a table."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping

from booth.errors import EX_UNAVAILABLE, EX_USAGE


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "history",
        help="Show recent calls from the journal as a table.",
        description=(
            "Show recent calls from the journal as a table.\n"
            "\n"
            "Reads booth's structured journal records (journalctl): one row per call with\n"
            "time, booth, callId, drill, duration, score, reconnects, underruns, end reason\n"
            "and error. With a CALL_ID, prints that call's records in order.\n"
            "\n"
            "examples:\n"
            "  booth history --since today\n"
            "  booth history athos_call_123\n"
            "  booth history --directory /var/log/journal/remote --booth lobby-1 --json"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("call_id", nargs="?", metavar="CALL_ID", help="show one call's records")
    parser.add_argument("--since", help='start time, as journalctl takes it ("today", "-2h")')
    parser.add_argument("--until", help="end time, as journalctl takes it")
    parser.add_argument(
        "-n", "--limit", type=int, default=20, help="most recent calls shown (default 20; 0: all)"
    )
    parser.add_argument("--booth", metavar="ID", help="only this booth (fleet journals)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument(
        "-D",
        "--directory",
        metavar="DIR",
        help="read journal files in DIR (pulled from a booth, or systemd-journal-remote's)",
    )
    parser.add_argument(
        "--file", action="append", default=[], metavar="PATH", help="read this journal file"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from booth.ops import history

    if args.limit < 0:
        print("booth history: --limit must be 0 or more", file=sys.stderr)
        return EX_USAGE
    matches = [f"SYSLOG_IDENTIFIER={history.IDENTIFIER}"]
    if args.booth:
        matches.append(f"BOOTH_ID={args.booth}")
    if args.call_id:
        matches.append(f"CALL_ID={args.call_id}")
    argv = history.journalctl_argv(
        matches=matches,
        since=args.since,
        until=args.until,
        directory=args.directory,
        files=args.file,
        output_fields=() if args.call_id else history.SUMMARY_FIELDS,
    )
    try:
        entries = history.read_journal(argv)
    except history.JournalError as exc:
        print(f"booth history: {exc}", file=sys.stderr)
        return EX_UNAVAILABLE

    if args.call_id:
        story = history.call_story(entries, args.call_id)
        if args.json:
            print(json.dumps([_public(e) for e in story], indent=2))
        else:
            print(history.format_story(story))
        return 0 if story else 1

    rows = history.summarise(entries)
    if args.limit:
        rows = rows[-args.limit :]
    if args.json:
        print(json.dumps([r.as_json() for r in rows], indent=2))
    else:
        print(history.format_table(rows))
    return 0


def _public(entry: Mapping[str, object]) -> dict[str, object]:
    """A record without journald's trusted/address fields (cursor, boot id, cmdline…)."""
    return {k: v for k, v in entry.items() if not k.startswith("_") or k == "__REALTIME_TIMESTAMP"}
