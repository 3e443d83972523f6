"""The logging foundation: structured fields, context, and secret scrubbing on stderr."""

from __future__ import annotations

import logging

import pytest

from booth import logs


@pytest.fixture(autouse=True)
def _clean_context() -> None:
    logs.set_context(BOOTH_ID=None, CALL_ID=None, BOOTH_STATE=None)


def test_stderr_carries_fields_and_context(capsys: pytest.CaptureFixture[str]) -> None:
    assert logs.setup_logging("info", "stderr", BOOTH_ID="b1") == "stderr"
    logs.set_context(CALL_ID="athos_call_1", BOOTH_STATE="in_call")
    logs.log_event(logging.getLogger("booth.test"), logging.INFO, "call started", EVENT="start")
    err = capsys.readouterr().err
    assert "booth.test: call started" in err
    assert "CALL_ID=athos_call_1" in err and "EVENT=start" in err and "BOOTH_STATE=in_call" in err


def test_registered_secret_never_reaches_the_sink(capsys: pytest.CaptureFixture[str]) -> None:
    logs.setup_logging("debug", "stderr")
    secret = "eyJhbGciOiJIUzI1NiJ9.payload.signature"
    logs.register_secret(secret)
    log = logging.getLogger("booth.test")
    logs.log_event(log, logging.INFO, f"token {secret} minted", TOKEN_HINT=secret)
    try:
        raise RuntimeError(f"failed with {secret}")
    except RuntimeError:
        log.exception("boom")
    err = capsys.readouterr().err
    assert secret not in err
    assert err.count("***") >= 3


def test_field_names_must_be_journal_names() -> None:
    with pytest.raises(ValueError, match="UPPER_CASE"):
        logs.log_event(logging.getLogger("x"), logging.INFO, "m", call_id="lower")


def test_the_scrub_list_stays_bounded_and_keeps_the_pinned_key() -> None:
    """Every call registers a few secrets; months of calls must not grow the list."""
    from booth.limits import SECRETS

    key = "ak_pinned_" + "p" * 30
    logs.register_secret(key, pinned=True)
    for n in range(SECRETS.value * 4):
        logs.register_secret(f"token-{n:08d}-" + "t" * 20)
    held = logs.registered_secrets()
    assert key in held
    assert len(held) <= SECRETS.value + 8  # the recent ones plus whatever is pinned
    newest = f"token-{SECRETS.value * 4 - 1:08d}-" + "t" * 20
    oldest = "token-00000000-" + "t" * 20
    assert newest in held and oldest not in held
    assert logs.scrub(f"x {newest} {key}") == "x *** ***"


def test_throttle_one_line_per_interval_with_a_count() -> None:
    throttle = logs.Throttle(interval=10.0)
    said = [throttle.note(t / 10) for t in range(250)]  # 25 s of 10 a second
    lines = [n for n in said if n is not None]
    assert lines == [1, 100, 100]  # at 0 s, 10 s and 20 s
    assert throttle.flush() == 49 and throttle.flush() == 0
