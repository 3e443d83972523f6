"""The one gate for the service's words: escaped, capped, scrubbed, and held to an alphabet
where they become journal fields."""

from __future__ import annotations

import logging

from booth import logs
from booth.servicetext import clean, clean_name, clean_word, escape_controls, is_word

KEY = "ak_test_" + "s" * 32


def test_clean_escapes_every_line_breaker_and_terminal_escape() -> None:
    text = clean("one\ntwo\rthree\x1b[2J\u2028four\x00\x85")
    assert text == "one\\ntwo\\rthree\\x1b[2J\\u2028four\\x00\\x85"
    assert text.isprintable()


def test_clean_caps_length_with_an_ellipsis() -> None:
    assert clean("x" * 10_000, 50) == "x" * 49 + "…"
    assert clean("short", 50) == "short"


def test_clean_scrubs_a_secret_even_where_the_cap_cuts_it() -> None:
    logs.register_secret(KEY, pinned=True)
    text = clean("a" * 40 + KEY, 50)
    assert "sssss" not in text and "***" in text


def test_words_and_names_keep_a_safe_alphabet() -> None:
    assert clean_word("agent_disconnected\nFAKE=1 x") == "agent_disconnected_FAKE_1_x"
    assert clean_word("") == "_"
    assert len(clean_word("A" * 500)) == 64
    assert clean_name("José  O'Neil\n\x1b[31mred") == "José O'Neil 31mred"
    assert is_word("call_1:a-b.c") and not is_word("call/1") and not is_word("")
    assert escape_controls("a\tb") == "a\\tb"


def test_service_fields_are_cleaned_at_the_sink_whoever_logs_them() -> None:
    record = logging.LogRecord("t", logging.INFO, __file__, 1, "m", None, None)
    record.fields = {  # type: ignore[attr-defined]
        "END_REASON": "done\n10:00:00 INFO forged",
        "ERROR_CODE": "X" * 1000,
        "PERSONA": "Harry\r\nEVIL=1",
        "DRILL_KEY": "cold-call",
    }
    fields = logs.record_fields(record)
    assert fields["END_REASON"] == "done_10:00:00_INFO_forged"
    assert fields["ERROR_CODE"] == "X" * 63 + "…"
    assert fields["PERSONA"] == "Harry EVIL 1"
    assert fields["DRILL_KEY"] == "cold-call"


def test_a_stderr_line_stays_one_line(capsys) -> None:  # type: ignore[no-untyped-def]
    logs.setup_logging("info", "stderr")
    logs.log_event(logging.getLogger("booth.t"), logging.INFO, "a\nb", NOTE="c\nd")
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "a\\nb" in err and "NOTE=c\\nd" in err
