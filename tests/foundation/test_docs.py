"""The README's reference sections are generated from the code and must be current."""

from __future__ import annotations

from booth import docs
from booth.config import describe_fields


def test_readme_is_current() -> None:
    current = docs.README.read_text(encoding="utf-8")
    assert docs.render(current) == current, "run `python -m booth.docs`"


def test_readme_documents_every_setting_and_command() -> None:
    text = docs.README.read_text(encoding="utf-8")
    for key, *_ in describe_fields():
        assert f"`{key}`" in text
    for command in ("run", "demo", "devserver", "doctor", "devices", "history", "bench"):
        assert f"booth {command} " in text or f"booth {command}\n" in text
