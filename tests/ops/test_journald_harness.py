"""The private-journald harness: log with booth.logs inside, read back with journalctl."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from tests.support.journald import booth_journal_logging, private_journal

pytestmark = pytest.mark.root

SECRET = "ath_live_supersecretvalue"


def _log(booth_id: str) -> None:
    from booth.logs import log_event, register_secret

    booth_journal_logging("info", BOOTH_ID=booth_id)
    register_secret(SECRET)
    log_event(logging.getLogger("booth.test"), logging.INFO, f"hello {SECRET}", EVENT="harness")


def test_logs_reach_the_private_journal(tmp_path: Path) -> None:
    host_socket = Path("/run/systemd/journal/socket")
    host_had_socket = host_socket.exists()
    with private_journal(tmp_path) as journal:
        journal.call(_log, "booth-harness")
        entries = journal.entries(EVENT="harness")
        assert len(entries) == 1
        entry = entries[0]
        assert entry["BOOTH_ID"] == "booth-harness"
        assert entry["SYSLOG_IDENTIFIER"] == "booth"
        assert entry["MESSAGE"] == "hello ***"
        assert SECRET not in str(entry)
        # Inside the namespace, plain journalctl (no --directory) sees the same entry.
        inside = journal.run(["journalctl", "-o", "json", "EVENT=harness"])
        assert "booth-harness" in inside.stdout
    # The host's /run/systemd is as it was: the harness's sockets lived in the namespace.
    assert host_socket.exists() == host_had_socket


def test_child_exceptions_come_back(tmp_path: Path) -> None:
    with private_journal(tmp_path) as journal, pytest.raises(RuntimeError, match="boom"):
        journal.call(_raise)


def _raise() -> None:
    raise ValueError("boom")
