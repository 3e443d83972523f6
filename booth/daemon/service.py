"""`booth run`: logging, the real devices, signal handling, and the daemon's loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from booth.config import Config
from booth.daemon import control
from booth.daemon.app import BoothApp
from booth.daemon.control_target import AppControl
from booth.errors import EX_OK
from booth.logs import log_event, register_secret, setup_logging
from booth.secret import Secret
from booth.transport.proxy import HttpProxy

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


async def serve(config: Config, api_key: Secret, proxy: HttpProxy | None = None) -> int:
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
        proxy=proxy,
    )
    remove = install_signal_handlers(asyncio.get_running_loop(), app.request_stop)
    try:
        async with control_socket(app):
            return await app.run_forever()
    finally:
        remove()


@contextlib.asynccontextmanager
async def control_socket(app: BoothApp) -> AsyncIterator[None]:
    """The local control socket (booth status / press) beside the daemon, where systemd gave
    us a runtime directory; a socket that cannot be made is logged, never fatal."""
    path = control.socket_path()
    server = None if path is None else control.ControlServer(path, AppControl(app))
    if server is not None:
        try:
            await server.start()
        except OSError as exc:
            log_event(log, logging.WARNING, f"no control socket: {exc}", EVENT="control_socket")
            server = None
    try:
        yield
    finally:
        if server is not None:
            await server.close()


def run_daemon(config: Config, api_key: Secret, *, proxy: HttpProxy | None = None) -> int:
    """The daemon's whole life; returns the process exit status."""
    setup_logging(config.logging.level, config.logging.target, BOOTH_ID=config.booth.id)
    register_secret(api_key.reveal(), pinned=True)
    log_event(
        log,
        logging.INFO,
        f"booth {config.booth.id} starting (config {config.source})",
        EVENT="starting",
    )
    code = asyncio.run(serve(config, api_key, proxy))
    log_event(log, logging.INFO, "booth stopped", EVENT="stopped")
    return code if code is not None else EX_OK
