"""`Secret`: the one type for the API key, tokens and tickets (below config and transport).

It never prints itself, so a secret that reaches a log line, an exception or a repr shows a
placeholder; ``booth.logs`` scrubs the revealed values that must travel as plain strings.
"""

from __future__ import annotations


class Secret:
    """A string that never prints itself: repr/str/format show a placeholder."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)
