"""A live call survives the daemon: if it is killed mid-call (SIGKILL, OOM, watchdog), the
restarted daemon ends the call it left open, so the service stops billing for it.

While a call is live the daemon keeps ``call.json`` in its runtime directory (systemd's
``RuntimeDirectory=``, preserved across restarts): the call id, the WebSocket URL and the current
resume token — never the API key. On start, a file left behind means a call was orphaned: resume
it with that token and end it (``{"type": "end"}``), or learn that the service already ended it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from booth.logs import log_event, register_secret
from booth.protocol.codec import encode_client, parse_server
from booth.protocol.messages import End, Resume, Resumed, ServerError, SessionEnded
from booth.transport.proxy import HttpProxy

if TYPE_CHECKING:
    from booth.transport.link import LinkSettings

log = logging.getLogger("booth.daemon")

STATE_FILE = "call.json"


@dataclass(frozen=True)
class LiveCall:
    call_id: str
    connection_url: str
    resume_token: str
    saved_at: float  # wall-clock seconds: the file must outlive this process


def save(directory: Path, call: LiveCall) -> None:
    """Atomically replace the state file (0600): a crash mid-write leaves the old one."""
    directory.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".call-", suffix=".json")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:  # mkstemp makes it 0600
            json.dump(asdict(call), out)
        os.replace(tmp, directory / STATE_FILE)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def clear(directory: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        (directory / STATE_FILE).unlink()


def load(directory: Path) -> LiveCall | None:
    path = directory / STATE_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        call = LiveCall(
            call_id=str(data["call_id"]),
            connection_url=str(data["connection_url"]),
            resume_token=str(data["resume_token"]),
            saved_at=float(data["saved_at"]),
        )
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError):
        log_event(log, logging.WARNING, f"unreadable {path}; discarded", EVENT="orphan_unreadable")
        clear(directory)
        return None
    register_secret(call.resume_token)
    return call


async def end_orphan(
    directory: Path,
    *,
    answer_within: float = 5.0,
    settings: LinkSettings | None = None,
    proxy: HttpProxy | None = None,
) -> str | None:
    """End the call a previous process left open. Returns how it went, or None if there was none.

    "ended": resumed and ended by us; "gone": the service had already ended it (or refused the
    resume); "unreachable": the service could not be reached in ``answer_within`` seconds (the
    service ends it after its own resume window).

    Always tried, whatever the file's age: ``saved_at`` is when the resume token was issued, which
    can be long before the crash (a call minutes old), and a stale token costs one refused resume.
    """
    call = load(directory)
    if call is None:
        return None
    try:
        async with asyncio.timeout(answer_within):
            outcome = await _resume_and_end(call, answer_within, settings, proxy)
    except TimeoutError:
        outcome = "unreachable"
    clear(directory)
    log_event(
        log,
        logging.WARNING,
        f"a call left open by the previous run: {outcome}",
        EVENT="orphan_call",
        CALL_ID=call.call_id,
        END_REASON=outcome,
    )
    return outcome


async def _resume_and_end(
    call: LiveCall, answer_within: float, settings: LinkSettings | None, proxy: HttpProxy | None
) -> str:
    # Here, not at the top: the WebSocket stack (websockets) loads when a call needs it.
    from booth.transport.link import Link, LinkError

    try:
        link = await Link.open(call.connection_url, settings, proxy=proxy)
    except LinkError:
        return "unreachable"
    try:
        link.send_text(str(encode_client(Resume(call.resume_token))))
        resumed = False
        async with asyncio.timeout(answer_within):
            while True:
                event = parse_server(await link.recv())
                if isinstance(event, Resumed) and not resumed:
                    resumed = True
                    link.send_text(str(encode_client(End())))
                elif isinstance(event, SessionEnded):
                    return "ended" if resumed else "gone"
                elif isinstance(event, ServerError) and not resumed:
                    return "gone"
    except (LinkError, TimeoutError):
        return "unreachable"
    finally:
        await link.close()
