"""`booth run`: run the booth daemon (what systemd starts)."""

from __future__ import annotations

import argparse
import os

from booth.commands import add_config_option

#: What `booth run` sets for itself before numpy loads (unless already set): the booth's
#: array work is a few hundred samples at a time, so OpenBLAS's thread pool (a thread per
#: core, each with its buffers) only costs memory. The systemd unit sets the same.
DAEMON_ENV = {"OPENBLAS_NUM_THREADS": "1"}


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "run",
        help="Run the booth daemon (what systemd starts).",
        description=(
            "Run the booth daemon (what systemd starts).\n"
            "\n"
            "Load the config and the API key, bring up audio and the panel,\n"
            "then wait for the button.\n"
            "A bad config is reported as FILE: KEY: PROBLEM and exits 78."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_config_option(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    for name, value in DAEMON_ENV.items():
        os.environ.setdefault(name, value)
    from booth.config import load_api_key, load_config, load_proxy

    # Validate everything before touching hardware or the network (exit 78 on a problem).
    from booth.ops.presets import apply_preset

    config = apply_preset(load_config(args.config))
    api_key = load_api_key(config)
    proxy = load_proxy(config)
    from booth.daemon.service import run_daemon

    return run_daemon(config, api_key, proxy=proxy)
