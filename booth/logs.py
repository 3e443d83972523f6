"""One place that sets up logging: journald with structured fields, or stderr off systemd.

Structured fields ride on records as ``extra={"fields": {...}}`` (use :func:`log_event`).
Context fields (``BOOTH_ID``, ``CALL_ID``, ``BOOTH_STATE``…) set with :func:`set_context`
are added to every record. Registered secrets are scrubbed from every message and field
before it leaves the process, as a last line of defence; fields that carry the service's words
(``END_REASON``, ``ERROR_CODE``, ``PERSONA``) are held to a safe alphabet and length here, and a
stderr line is always one line.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import threading
import time
from collections.abc import Mapping
from typing import Literal

from booth.limits import NOISY_LOG_INTERVAL
from booth.secret import register_secret, registered_secrets, scrub
from booth.servicetext import clean_name, clean_word, escape_controls

__all__ = [
    "Throttle",
    "log_event",
    "register_secret",
    "registered_secrets",
    "scrub",
    "set_context",
    "setup_logging",
]

LogTarget = Literal["auto", "journal", "stderr"]

_FIELD_NAME = re.compile(r"[A-Z][A-Z0-9_]{0,63}")
#: Journal fields whose values come from the service: cleaned to a word or a name whoever
#: logs them, so no caller can forget (a reason with a newline once forged a summary line).
SERVICE_FIELDS = {"END_REASON": clean_word, "ERROR_CODE": clean_word, "PERSONA": clean_name}

_context: dict[str, str] = {}
_lock = threading.Lock()


def set_context(**fields: object) -> None:
    """Add fields to every later record (``None`` removes one)."""
    with _lock:
        for name, value in fields.items():
            _check_field_name(name)
            if value is None:
                _context.pop(name, None)
            else:
                _context[name] = str(value)


def context() -> dict[str, str]:
    with _lock:
        return dict(_context)


def log_event(logger: logging.Logger, level: int, message: str, /, **fields: object) -> None:
    """Log ``message`` with structured journal fields (UPPER_CASE names)."""
    for name in fields:
        _check_field_name(name)
    logger.log(level, message, extra={"fields": fields})


def record_fields(record: logging.LogRecord) -> dict[str, str]:
    """Context plus the record's own fields, stringified and scrubbed."""
    merged: dict[str, str] = context()
    own: Mapping[str, object] = getattr(record, "fields", None) or {}
    for name, value in own.items():
        if value is not None:
            merged[name] = str(value)
    out: dict[str, str] = {}
    for name, value in merged.items():
        restrict = SERVICE_FIELDS.get(name)
        out[name] = restrict(value) if restrict is not None else scrub(value)
    return out


def _check_field_name(name: str) -> None:
    if not _FIELD_NAME.fullmatch(name):
        raise ValueError(f"journal field names are UPPER_CASE: {name!r}")


class StderrFormatter(logging.Formatter):
    """``time level logger: message  KEY=value …`` — readable, greppable, secret-free."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%H:%M:%S", time.localtime(record.created))
        text = f"{stamp}.{int(record.msecs):03d} {record.levelname:<7} {record.name}: "
        text += escape_controls(scrub(record.getMessage()))
        extra = record_fields(record)
        extra.pop("BOOTH_ID", None)  # constant per process; noise on a terminal
        if extra:
            text += "  " + " ".join(f"{k}={escape_controls(v)}" for k, v in sorted(extra.items()))
        if record.exc_info:
            text += "\n" + scrub(self.formatException(record.exc_info))
        return text


class JournalHandler(logging.Handler):
    """Sends each record to journald as one entry with our fields (no Python internals)."""

    def __init__(self, identifier: str = "booth") -> None:
        super().__init__()
        import systemd.journal  # optional extra: booth[systemd]

        self._send = systemd.journal.send
        self._identifier = identifier

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = scrub(record.getMessage())
            if record.exc_info:
                message += "\n" + scrub(logging.Formatter().formatException(record.exc_info))
            self._send(
                message,
                PRIORITY=str(_syslog_priority(record.levelno)),
                SYSLOG_IDENTIFIER=self._identifier,
                LOGGER=record.name,
                CODE_FILE=record.pathname,
                CODE_LINE=record.lineno,
                CODE_FUNC=record.funcName,
                **record_fields(record),
            )
        except Exception:  # logging must never take the booth down
            self.handleError(record)


def _syslog_priority(levelno: int) -> int:
    if levelno >= logging.CRITICAL:
        return 2
    if levelno >= logging.ERROR:
        return 3
    if levelno >= logging.WARNING:
        return 4
    if levelno >= logging.INFO:
        return 6
    return 7


def journal_available() -> bool:
    try:
        import systemd.journal  # noqa: F401
    except ImportError:
        return False
    return True


def stderr_is_journal() -> bool:
    """True when systemd connected our stderr to the journal (see systemd.exec JOURNAL_STREAM)."""
    stream = os.environ.get("JOURNAL_STREAM", "")
    try:
        dev, ino = (int(part) for part in stream.split(":"))
        st = os.fstat(sys.stderr.fileno())
    except (ValueError, OSError, AttributeError):
        return False
    return st.st_dev == dev and st.st_ino == ino


def setup_logging(level: str = "info", target: LogTarget = "auto", **context_fields: object) -> str:
    """Configure the root logger once; returns the sink chosen ("journal" or "stderr")."""
    use_journal = target == "journal" or (
        target == "auto" and stderr_is_journal() and journal_available()
    )
    handler: logging.Handler
    if use_journal:
        handler = JournalHandler()
    else:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(StderrFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # Third-party chatter at INFO would drown a booth's own story.
    for noisy in ("websockets", "httpx", "httpcore", "aiohttp.access", "asyncio"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    set_context(**context_fields)
    return "journal" if use_journal else "stderr"


class Throttle:
    """At most one log line per ``interval`` for one kind of noise (unknown or malformed
    messages), each line counting what it stands for. Pure: the time comes in as an argument.
    """

    def __init__(self, interval: float = NOISY_LOG_INTERVAL) -> None:
        self.interval = interval
        self._last: float | None = None
        self._held = 0

    def note(self, now: float) -> int | None:
        """One more occurrence at ``now``: None to stay quiet, else log a line now, covering
        the returned number of occurrences (this one and those held back since the last)."""
        self._held += 1
        if self._last is not None and now - self._last < self.interval:
            return None
        self._last = now
        count, self._held = self._held, 0
        return count

    def flush(self) -> int:
        """Occurrences held back since the last line (for a closing line); resets the count."""
        count, self._held = self._held, 0
        return count
