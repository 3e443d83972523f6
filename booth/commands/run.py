"""`booth run`: run the booth daemon (what systemd starts)."""

from __future__ import annotations

import argparse

from booth.commands import add_config_option


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
    from booth.config import load_api_key, load_config, load_proxy

    # Validate everything before touching hardware or the network (exit 78 on a problem).
    from booth.ops.presets import apply_preset

    config = apply_preset(load_config(args.config))
    api_key = load_api_key(config)
    proxy = load_proxy(config)
    from booth.daemon.service import run_daemon

    return run_daemon(config, api_key, proxy=proxy)
