"""`Secret`: the one type for the API key, tokens and tickets (below config and transport).

It never prints itself, so a secret that reaches a log line, an exception or a repr shows a
placeholder; the scrub list below holds the revealed values that must travel as plain strings,
and every log sink, exception and event built from service text goes through :func:`scrub`.
"""

from __future__ import annotations

import threading

from booth.limits import SECRETS


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


# ── the scrub list ─────────────────────────────────────────────────────────────
# Revealed values that must never reach a log sink, an exception or an event. The API key (and
# the devserver's keys) are pinned for the process; tokens, tickets and resume tokens are kept
# only while they can still appear: the newest SECRETS_COUNT, so a booth that runs for months
# checks a flat number per line (every call adds three and every resume one more).

_MIN_SECRET_LEN = 8
_REDACTED = "***"


class _ScrubList:
    def __init__(self, keep: int) -> None:
        self.keep = keep
        self.pinned: set[str] = set()
        self.recent: dict[str, None] = {}  # insertion-ordered: oldest first
        self.ordered: tuple[str, ...] = ()  # longest first: what scrub() walks
        self.lock = threading.Lock()

    def add(self, value: str, pinned: bool) -> None:
        with self.lock:
            if pinned:
                self.pinned.add(value)
                self.recent.pop(value, None)
            elif value not in self.pinned:
                self.recent.pop(value, None)
                self.recent[value] = None
                while len(self.recent) > self.keep:
                    del self.recent[next(iter(self.recent))]
            # Swapped whole: scrub() walks it without the lock.
            self.ordered = tuple(sorted(self.pinned | self.recent.keys(), key=len, reverse=True))


_SCRUB_LIST = _ScrubList(SECRETS.value)


def register_secret(value: str, *, pinned: bool = False) -> None:
    """Never let ``value`` reach a log sink: it is replaced by ``***`` wherever it appears.

    ``pinned`` keeps it for the life of the process (the API key); otherwise it is forgotten
    once SECRETS_COUNT newer secrets have been registered (it was spent or superseded by then).
    """
    if len(value) >= _MIN_SECRET_LEN:
        _SCRUB_LIST.add(value, pinned)


def registered_secrets() -> frozenset[str]:
    """Every secret held now: what an audit of logs and journal must never find."""
    return frozenset(_SCRUB_LIST.ordered)


def scrub(text: str) -> str:
    """``text`` with every registered secret replaced by ``***``."""
    for secret in _SCRUB_LIST.ordered:
        if secret in text:
            text = text.replace(secret, _REDACTED)
    return text
