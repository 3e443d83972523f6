"""How much a booth accepts from the voice service: every size, count and deadline, with why.

A Pi has 512 MB and runs for months, so nothing the service sends may make it allocate, wait or
remember without bound. Past a size limit the answer is a ``PROTOCOL_ERROR`` naming the limit
(:meth:`Limit.exceeded`), decided before the data is held; past a deadline it is a typed error.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Limit:
    """A named bound: what errors and logs cite when something from the service exceeds it."""

    name: str
    value: int
    unit: str
    reason: str

    def exceeded(self, what: str, size: int | None = None) -> str:
        """``"token of 104857600 chars exceeds TOKEN_CHARS (4096 chars)"``."""
        measured = f" of {size} {self.unit}" if size is not None else ""
        return f"{what}{measured} exceeds {self.name} ({self.value} {self.unit})"


# ── sizes ──────────────────────────────────────────────────────────────────────

REST_BODY = Limit(
    "REST_BODY_BYTES",
    1 << 20,
    "bytes",
    "a page of 50 call records is ~100 kB; 1 MiB leaves room and is nothing on a Pi",
)
TOKEN = Limit(
    "TOKEN_CHARS",
    4096,
    "chars",
    "a session token, ticket or resume token goes back in a header or the first message; "
    "JWTs are well under 2 kB and servers refuse headers past ~8 kB anyway",
)
IDENTIFIER = Limit(
    "IDENTIFIER_CHARS",
    128,
    "chars",
    "call ids, session ids and request ids are UUID-sized; they go into every log line",
)
CODE = Limit(
    "CODE_CHARS",
    64,
    "chars",
    "error codes and end reasons are SCREAMING_SNAKE/snake_case words",
)
NAME = Limit("NAME_CHARS", 128, "chars", "a persona's display name")
MESSAGE = Limit(
    "MESSAGE_CHARS",
    2048,
    "chars",
    "a human-readable error message; longer is not an explanation but a payload",
)
URL = Limit("URL_CHARS", 2048, "chars", "the connectionUrl; browsers and proxies stop near here")
FEATURES = Limit("FEATURES_COUNT", 32, "entries", "connected.features lists a handful of names")
WS_TEXT = Limit(
    "WS_TEXT_CHARS",
    64 * 1024,
    "chars",
    "the largest control message parsed; every known one is under 1 kB",
)
WS_MESSAGE = Limit(
    "WS_MESSAGE_BYTES",
    128 * 1024,
    "bytes",
    "the largest WebSocket message read at all (websockets' max_size): above the audio cap",
)
AUDIO_MESSAGE = Limit(
    "AUDIO_MESSAGE_BYTES",
    96_000,
    "bytes",
    "one second of 48 kHz audio: far above any sane chunk, small enough to bound memory",
)
PERSONA_BUFFER = Limit(
    "PERSONA_BUFFER_BYTES",
    1 << 20,
    "bytes",
    "persona audio the Python API holds for a slow reader (~32 s at 16 kHz); past it the "
    "oldest audio goes, so a stalled reader costs 1 MiB, not the whole call",
)
UNKNOWN_TYPES = Limit(
    "UNKNOWN_TYPES_COUNT",
    32,
    "types",
    "distinct unknown message types remembered per call (each is reported once); a server "
    "inventing a type per message must not grow a set for the whole call",
)
SECRETS = Limit(
    "SECRETS_COUNT",
    256,
    "secrets",
    "short-lived secrets kept for scrubbing (tokens, tickets, resume tokens): a call registers "
    "a few, only the newest can still appear, and each log line checks them all",
)

# ── shown text ────────────────────────────────────────────────────────────────

#: Service text shown in a log line, an exception or an event: enough to read, never a flood.
SHOWN_CHARS = 300

# ── deadlines (seconds) ─────────────────────────────────────────────────────────

#: One REST request, headers and body: a server trickling a byte every few seconds is cut off
#: here, whatever the per-read timeout. The default of ``RestClient(timeout=)``.
REST_REQUEST_DEADLINE = 10.0
#: ``connect()`` from the first mint to ``connected``: mint and redeem with their retries, the
#: dial and the service's acceptance. A rep at a booth has given up long before.
CONNECT_DEADLINE = 30.0

# ── logging ─────────────────────────────────────────────────────────────────────

#: Unknown and malformed messages are logged at most once per interval, with a count.
NOISY_LOG_INTERVAL = 10.0
