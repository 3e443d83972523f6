"""`booth bench`: measure audio quality and speed, transport recovery, latency, reliability."""

from __future__ import annotations

import argparse
import contextlib
import importlib
import io
import json
import sys
from pathlib import Path
from typing import Any

from booth.errors import EX_UNAVAILABLE, EX_USAGE

# Each target is a module booth/bench/<target>.py with run(*, as_json: bool) -> int.
TARGETS = ("audio", "transport", "pipeline", "reliability", "memory", "dialects", "all")
# dialects: ~4 min of calls, on its own
ALL = ("audio", "transport", "pipeline", "reliability", "memory")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "bench",
        help="Measure audio quality and speed, transport recovery, pipeline latency, "
        "reliability, dialects.",
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
    parser.add_argument(
        "--plot",
        metavar="DIR",
        type=Path,
        help="also write PNG plots to DIR (needs the `plot` extra: matplotlib)",
    )
    parser.add_argument(
        "--profile",
        metavar="DIR",
        type=Path,
        help="pipeline only: cProfile the booth per thread (loop, capture, playback) during the "
        "measured call; write DIR/<thread>.prof and print the top functions",
    )
    parser.add_argument(
        "--calls",
        metavar="N",
        type=int,
        help="pipeline only: N calls of 20 s each (CPU and RSS over the first, latency over "
        "the rest) instead of a 60 s call and three of 20 s; 10 gives underruns and the "
        "latency tail something to show",
    )
    parser.set_defaults(func=run)


def _load(target: str) -> Any:
    """The target's module, or None when it is not there (yet)."""
    try:
        return importlib.import_module(f"booth.bench.{target}")
    except ModuleNotFoundError as exc:
        if exc.name != f"booth.bench.{target}":
            raise  # a real missing dependency, not a missing target
        return None


def _collect(module: Any) -> dict[str, Any]:
    """Run a target for its JSON result (its own printing captured)."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = module.run(as_json=True)
    if code != 0:
        raise RuntimeError(f"exited with {code}")
    text = out.getvalue().strip()
    try:
        result: dict[str, Any] = json.loads(text)  # one object, maybe indented
    except json.JSONDecodeError:
        result = json.loads(text.splitlines()[-1])  # chatter before the JSON line
    return result


def _show(module: Any, result: dict[str, Any]) -> None:
    render = getattr(module, "render_table", None)
    print(render(result) if render is not None else json.dumps(result, indent=2), flush=True)


def run(args: argparse.Namespace) -> int:
    target = args.what
    plot_dir: Path | None = getattr(args, "plot", None)
    if plot_dir is not None:
        from booth.bench.plots import PlotsUnavailable, check_available

        try:
            check_available()
        except PlotsUnavailable as exc:
            print(f"booth bench: {exc}", file=sys.stderr)
            return EX_UNAVAILABLE
    profile: Path | None = getattr(args, "profile", None)
    calls: int | None = getattr(args, "calls", None)
    if (profile is not None or calls is not None) and target != "pipeline":
        print("booth bench: --profile and --calls are for the pipeline target", file=sys.stderr)
        return EX_USAGE
    if calls is not None and calls < 2:
        print("booth bench: --calls needs at least 2 (CPU, then latency)", file=sys.stderr)
        return EX_USAGE
    if target != "all" and plot_dir is None:
        module = _load(target)
        if module is None:
            print(f"booth bench {target}: not available yet", file=sys.stderr)
            return EX_UNAVAILABLE
        extra: dict[str, Any] = {"profile": profile} if profile is not None else {}
        if calls is not None:
            extra.update(calls=calls, cpu_s=module.CALL_S)  # N calls, all equally long
        code: int = module.run(as_json=args.json, **extra)
        return code
    results: dict[str, Any] = {}
    failed = False
    for name in ALL if target == "all" else (target,):
        module = _load(name)
        if module is None:
            print(f"booth bench {name}: not available yet, skipped", file=sys.stderr)
            if target != "all":
                return EX_UNAVAILABLE
            results[name] = {"skipped": "not available yet"}
            continue
        if not args.json:
            print(f"== {name} ==", flush=True)
        try:
            results[name] = _collect(module)
        except Exception as exc:  # one broken target must not lose the others' figures
            print(f"booth bench {name}: failed: {exc}", file=sys.stderr)
            results[name] = {"failed": str(exc)}
            failed = True
            continue
        if not args.json:
            _show(module, results[name])
            print(flush=True)
    if plot_dir is not None:
        from booth.bench.plots import write_plots

        measured = {k: v for k, v in results.items() if "failed" not in v and "skipped" not in v}
        for path in write_plots(measured, plot_dir):
            print(f"wrote {path}", file=sys.stderr)
    if args.json:
        print(json.dumps(results if target == "all" else results[target]))
    return 1 if failed else 0
