"""One place that sets up logging: journald with structured fields, or stderr off systemd.

Structured fields ride on records as ``extra={"fields": {...}}`` (use :func:`log_event`).
Context fields (``BOOTH_ID``, ``CALL_ID``, ``BOOTH_STATE``…) set with :func:`set_context`
are added to every record. Registered secrets are scrubbed from every message and field
before it leaves the process, as a last line of defence.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import threading
import time
import warnings
from collections.abc import Mapping
from typing import Literal

LogTarget = Literal["auto", "journal", "stderr"]

_FIELD_NAME = re.compile(r"[A-Z][A-Z0-9_]{0,63}")
_REDACTED = "***"
_MIN_SECRET_LEN = 8

_context: dict[str, str] = {}
_secrets: set[str] = set()
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


def register_secret(value: str) -> None:
    """Never let ``value`` reach a log sink: it is replaced by ``***`` wherever it appears."""
    if len(value) >= _MIN_SECRET_LEN:
        with _lock:
            _secrets.add(value)


def registered_secrets() -> frozenset[str]:
    """Every secret registered so far: what an audit of logs and journal must never find."""
    with _lock:
        return frozenset(_secrets)


def scrub(text: str) -> str:
    with _lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, _REDACTED)
    return text


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
    return {name: scrub(value) for name, value in merged.items()}


def _check_field_name(name: str) -> None:
    if not _FIELD_NAME.fullmatch(name):
        raise ValueError(f"journal field names are UPPER_CASE: {name!r}")


class StderrFormatter(logging.Formatter):
    """``time level logger: message  KEY=value …`` — readable, greppable, secret-free."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%H:%M:%S", time.localtime(record.created))
        text = f"{stamp}.{int(record.msecs):03d} {record.levelname:<7} {record.name}: "
        text += scrub(record.getMessage())
        extra = record_fields(record)
        extra.pop("BOOTH_ID", None)  # constant per process; noise on a terminal
        if extra:
            text += "  " + " ".join(f"{k}={v}" for k, v in sorted(extra.items()))
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
    route_warnings()
    return "journal" if use_journal else "stderr"


_warned: set[tuple[str, str]] = set()


def _show_warning(  # noqa: PLR0917 (warnings.showwarning's own signature)
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: object = None,
    line: str | None = None,
) -> None:
    # One record per distinct warning, in one line: no source line, no stack (gpiozero warns
    # once per pin factory it tries; Python's default would print each with its code line).
    text = " ".join(str(message).split())
    key = (category.__name__, text)
    with _lock:
        if key in _warned:
            return
        _warned.add(key)
    log_event(
        logging.getLogger("py.warnings"),
        logging.WARNING,
        f"{category.__name__}: {text}",
        EVENT="library_warning",
        WARNING_CATEGORY=category.__name__,
    )


def route_warnings() -> None:
    """Library warnings (``warnings.warn``) become one log record each, once per process."""
    warnings.showwarning = _show_warning
