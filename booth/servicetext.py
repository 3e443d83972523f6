"""Text from the voice service, made safe to show: the one gate before a log, the journal, an
exception or an event.

The service's words (error codes and messages, end reasons, persona names, request ids, URLs)
are data from outside: a newline in them forges a log line, an escape sequence rewrites a
terminal, 64 kB of them floods the journal, and a server that echoes the API key back would put
it in an exception. :func:`clean` escapes control characters, caps the length and scrubs
registered secrets; :func:`clean_word` and :func:`clean_name` also restrict the alphabet, for
values that become journal fields (``END_REASON``, ``ERROR_CODE``, ``PERSONA``).
"""

from __future__ import annotations

import re

from booth.limits import CODE, NAME, SHOWN_CHARS, TOKEN
from booth.secret import scrub

# C0, DEL, C1, and the Unicode line/paragraph separators and bidi overrides that can make a
# line look like something it is not.
_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
_NOT_WORD = re.compile(r"[^A-Za-z0-9_.:-]+")
_NOT_NAME = re.compile(r"[^\w .'-]+")
_ELLIPSIS = "…"


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    named = _NAMED.get(char)
    if named is not None:
        return named
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _scrubbed_head(text: object, limit: int) -> str:
    """The first ``limit`` characters that matter, secrets scrubbed; a secret straddling the
    cut is still whole in the slice, so no fragment of it survives the cut."""
    raw = text if isinstance(text, str) else str(text)
    return scrub(raw[: limit + TOKEN.value])


def _cap(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(0, limit - 1)] + _ELLIPSIS


def escape_controls(text: str) -> str:
    """Control characters as visible escapes (``\\n``, ``\\x1b``): one line stays one line."""
    return _UNSAFE.sub(_escape, text)


def clean(text: object, limit: int = SHOWN_CHARS) -> str:
    """``text`` safe to show: secrets scrubbed, control characters escaped, at most ``limit``
    characters (cut with an ellipsis). Everything the service says goes through here."""
    return _cap(escape_controls(_scrubbed_head(text, limit)), limit)


def is_word(text: str) -> bool:
    """True for an identifier-like value (``[A-Za-z0-9_.:-]+``): safe as a path part or field."""
    return bool(text) and _NOT_WORD.search(text) is None


def clean_word(text: object, limit: int = CODE.value) -> str:
    """A code or reason as a journal field: ``[A-Za-z0-9_.:-]`` only (anything else becomes
    ``_``), at most ``limit`` characters, never empty."""
    head = _scrubbed_head(text, limit)
    return _cap(_NOT_WORD.sub("_", head), limit) or "_"


def clean_name(text: object, limit: int = NAME.value) -> str:
    """A display name (a persona): letters in any script, digits, space and ``.'-`` only."""
    head = _scrubbed_head(text, limit)
    return _cap(" ".join(_NOT_NAME.sub(" ", head).split()), limit)
