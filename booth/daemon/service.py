"""`booth run`: logging, the real devices, signal handling, and the daemon's loop."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import Callable
from pathlib import Path

from booth.config import Config
from booth.daemon.app import BoothApp
from booth.errors import EX_OK
from booth.logs import log_event, register_secret, setup_logging
from booth.secret import Secret

log = logging.getLogger("booth.daemon")


def install_signal_handlers(
    loop: asyncio.AbstractEventLoop, stop: Callable[[], None]
) -> Callable[[], None]:
    """SIGTERM (systemd stop) and SIGINT (Ctrl-C) end a live call cleanly; returns the undo."""
    signals = (signal.SIGTERM, signal.SIGINT)
    for sig in signals:
        loop.add_signal_handler(sig, stop)

    def remove() -> None:
        for sig in signals:
            loop.remove_signal_handler(sig)

    return remove


async def serve(config: Config, api_key: Secret) -> int:
    from booth.daemon.audio_io import devices_for

    mic, speaker = devices_for(config)
    # systemd's RuntimeDirectory= (kept across restarts): where a live call is remembered.
    runtime_dir = os.environ.get("RUNTIME_DIRECTORY", "").split(":")[0]
    app = BoothApp(
        config,
        api_key,
        mic=mic,
        speaker=speaker,
        state_dir=Path(runtime_dir) if runtime_dir else None,
    )
    remove = install_signal_handlers(asyncio.get_running_loop(), app.request_stop)
    try:
        return await app.run_forever()
    finally:
        remove()


def run_daemon(config: Config, api_key: Secret) -> int:
    """The daemon's whole life; returns the process exit status."""
    setup_logging(config.logging.level, config.logging.target, BOOTH_ID=config.booth.id)
    register_secret(api_key.reveal(), pinned=True)
    log_event(
        log,
        logging.INFO,
        f"booth {config.booth.id} starting (config {config.source})",
        EVENT="starting",
    )
    code = asyncio.run(serve(config, api_key))
    log_event(log, logging.INFO, "booth stopped", EVENT="stopped")
    return code if code is not None else EX_OK
