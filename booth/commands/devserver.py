"""`booth devserver`: run the reference voice service (REST + WebSocket) on loopback."""

from __future__ import annotations

import argparse
import os
import secrets
import sys
from pathlib import Path

from booth.errors import EX_CONFIG, EX_UNAVAILABLE
from booth.transport.urlpolicy import is_loopback_host


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "devserver",
        help="Run the reference voice service (REST + WebSocket) on loopback.",
        description=(
            "Run the reference voice service (REST + WebSocket) on loopback.\n"
            "\n"
            "Speaks the whole booth protocol: tokens, a scripted persona, scoring, webhooks and\n"
            "fault injection. For demos, tests and integrators. Every dialect at once, each on\n"
            "its own paths and refusing what it does not define:\n"
            "  booth    POST /api/external/v1/session, …/roleplay/session; WebSocket /ws\n"
            "  seed003  POST /api/v1/sdk/token; WebSocket /seed003/ws\n"
            "  atoms    POST /atoms/v1/conversation/register-call (agent_id = a drill key);\n"
            "           WebSocket /atoms/v1/agent/connect?token=wct_…;\n"
            "           GET /atoms/v1/conversation/{callId}"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: loopback)")
    parser.add_argument("--port", type=int, default=8765, help="TCP port (default: 8765)")
    parser.add_argument(
        "--drills", type=Path, default=None, metavar="DIR", help="directory of drill TOML files"
    )
    parser.add_argument(
        "--api-key-file",
        type=Path,
        default=None,
        metavar="F",
        help="file with the accepted API key(s), one per line; default: generate one and "
        "write it to $XDG_STATE_HOME/booth/devserver-api-key (reused on later runs)",
    )
    parser.add_argument("--webhook-url", default=None, metavar="URL", help="call.scored target")
    parser.add_argument(
        "--webhook-secret-file", type=Path, default=None, metavar="F", help="webhook secret"
    )
    parser.add_argument(
        "--no-espeak", action="store_true", help="use the synthetic voice even if espeak-ng exists"
    )
    parser.set_defaults(func=run)


def default_key_file() -> Path:
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "booth" / "devserver-api-key"


def _read_secret_lines(path: Path, what: str) -> list[str]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SystemExit(f"booth devserver: {what} {path}: {exc.strerror or exc}") from None
    values = [line.strip() for line in text.splitlines() if line.strip()]
    if not values:
        raise SystemExit(f"booth devserver: {what} {path} is empty")
    return values


def generated_key(path: Path) -> str:
    """The key in ``path``, creating it (mode 0600) with a fresh key if missing."""
    if path.exists():
        return _read_secret_lines(path, "API key file")[0]
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = "ath_live_" + secrets.token_urlsafe(24)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(key + "\n")
    return key


def run(args: argparse.Namespace) -> int:
    try:
        from booth.devserver import DevServer
        from booth.devserver.drills import DrillError
    except ImportError as exc:
        print(
            f"booth devserver: needs the devserver extra ({exc.name} missing): "
            "pip install 'booth[devserver]'",
            file=sys.stderr,
        )
        return EX_UNAVAILABLE
    import asyncio
    import logging

    from booth.logs import setup_logging

    setup_logging(level="info", target="stderr")
    if args.api_key_file is not None:
        keys = _read_secret_lines(args.api_key_file, "API key file")
    else:
        key_path = default_key_file()
        keys = [generated_key(key_path)]
        # The path only, never the key.
        print(f"booth devserver: API key in {key_path}", file=sys.stderr)
    if not is_loopback_host(args.host):
        print(
            f"booth devserver: WARNING: listening on {args.host}, not loopback; anyone who can "
            "reach this address and has the key can start calls",
            file=sys.stderr,
        )
    secret = None
    if args.webhook_url:
        if args.webhook_secret_file is None:
            print("booth devserver: --webhook-url needs --webhook-secret-file", file=sys.stderr)
            return EX_CONFIG
        secret = _read_secret_lines(args.webhook_secret_file, "webhook secret file")[0]
    try:
        server = DevServer(
            api_keys=keys,
            host=args.host,
            port=args.port,
            drills_dir=args.drills,
            webhook_url=args.webhook_url,
            webhook_secret=secret,
            use_espeak=not args.no_espeak,
        )
    except DrillError as exc:
        print(f"booth devserver: {exc}", file=sys.stderr)
        return EX_CONFIG

    async def serve() -> None:
        import signal

        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        try:
            await server.start()
        except OSError as exc:
            raise SystemExit(
                f"booth devserver: cannot listen on {args.host}:{args.port}: {exc}"
            ) from None
        print(
            f"booth devserver: {server.url} (protocols booth, seed003, atoms), "
            f"drills (atoms agents): {', '.join(sorted(server.drills))}; Ctrl-C stops",
            file=sys.stderr,
        )
        try:
            await stop.wait()
        finally:
            await server.close()
            logging.getLogger("booth.devserver").info("devserver stopped")

    asyncio.run(serve())
    return 0
