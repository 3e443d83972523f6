"""Sign and verify `call.scored` webhooks (docs/protocol.md §2.6). Standard library only, sans-I/O.

Headers: ``X-Athos-Webhook-Id: wh_…`` and
``X-Athos-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>``.
A receiver rejects ``|now − t| > tolerance``, compares in constant time and dedupes on the id::

    from booth.webhooks import verify, WebhookError, Deduper
    try:
        webhook_id = verify(secret, request.headers, raw_body)
    except WebhookError as exc:
        return 400, exc.reason
    if not deduper.first_time(webhook_id):
        return 200  # a retry of one already handled
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections import OrderedDict
from collections.abc import Mapping

ID_HEADER = "X-Athos-Webhook-Id"
SIGNATURE_HEADER = "X-Athos-Signature"
DEFAULT_TOLERANCE = 300


class WebhookError(ValueError):
    """A webhook that must be rejected; ``reason`` is one of the REASON_* strings."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


REASON_MISSING_HEADER = "missing_header"
REASON_MALFORMED = "malformed_signature"
REASON_STALE = "stale_timestamp"
REASON_FUTURE = "future_timestamp"
REASON_BAD_SIGNATURE = "bad_signature"


def _as_bytes(value: str | bytes) -> bytes:
    return value.encode("utf-8") if isinstance(value, str) else value


def signature(secret: str | bytes, timestamp: int, body: bytes) -> str:
    """The hex v1 signature of ``body`` sent at ``timestamp``."""
    message = str(timestamp).encode("ascii") + b"." + body
    return hmac.new(_as_bytes(secret), message, hashlib.sha256).hexdigest()


def sign(
    secret: str | bytes, body: bytes, webhook_id: str, timestamp: int | None = None
) -> dict[str, str]:
    """The headers to send with ``body``."""
    t = int(time.time()) if timestamp is None else int(timestamp)
    return {
        ID_HEADER: webhook_id,
        SIGNATURE_HEADER: f"t={t},v1={signature(secret, t, body)}",
    }


def _header(headers: Mapping[str, str], name: str) -> str | None:
    # Plain dicts are case-sensitive; HTTP headers are not.
    value = headers.get(name)
    if value is None:
        lowered = name.lower()
        for key, candidate in headers.items():
            if key.lower() == lowered:
                return candidate
    return value


def parse_signature_header(value: str) -> tuple[int, list[str]]:
    """(timestamp, [v1 signatures]) from ``t=…,v1=…`` (several v1 allowed, for key rotation)."""
    timestamp: int | None = None
    signatures: list[str] = []
    for part in value.split(","):
        key, sep, item = part.strip().partition("=")
        if not sep:
            raise WebhookError(REASON_MALFORMED, f"{SIGNATURE_HEADER} part without '='")
        if key == "t":
            try:
                timestamp = int(item)
            except ValueError:
                raise WebhookError(REASON_MALFORMED, "timestamp is not an integer") from None
        elif key == "v1":
            signatures.append(item)
    if timestamp is None:
        raise WebhookError(REASON_MALFORMED, f"{SIGNATURE_HEADER} has no t=")
    if not signatures:
        raise WebhookError(REASON_MALFORMED, f"{SIGNATURE_HEADER} has no v1=")
    return timestamp, signatures


def verify(
    secret: str | bytes,
    headers: Mapping[str, str],
    body: bytes,
    now: float | None = None,
    tolerance: int = DEFAULT_TOLERANCE,
) -> str:
    """Check a received webhook; return its webhook id or raise :class:`WebhookError`.

    ``body`` must be the raw bytes received (not re-serialised JSON).
    """
    webhook_id = _header(headers, ID_HEADER)
    if not webhook_id:
        raise WebhookError(REASON_MISSING_HEADER, f"no {ID_HEADER} header")
    raw = _header(headers, SIGNATURE_HEADER)
    if not raw:
        raise WebhookError(REASON_MISSING_HEADER, f"no {SIGNATURE_HEADER} header")
    timestamp, candidates = parse_signature_header(raw)
    current = time.time() if now is None else now
    if current - timestamp > tolerance:
        raise WebhookError(REASON_STALE, f"signed {int(current - timestamp)} s ago")
    if timestamp - current > tolerance:
        raise WebhookError(REASON_FUTURE, f"signed {int(timestamp - current)} s in the future")
    expected = signature(secret, timestamp, body)
    # Check every candidate so timing does not reveal which one matched.
    ok = False
    for candidate in candidates:
        ok |= hmac.compare_digest(expected, candidate.strip().lower())
    if not ok:
        raise WebhookError(REASON_BAD_SIGNATURE, "signature does not match the body")
    return webhook_id


class Deduper:
    """Remembers the last ``capacity`` webhook ids; a retry of one already seen is skipped."""

    def __init__(self, capacity: int = 10_000) -> None:
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._capacity = capacity

    def first_time(self, webhook_id: str) -> bool:
        if webhook_id in self._seen:
            self._seen.move_to_end(webhook_id)
            return False
        self._seen[webhook_id] = None
        if len(self._seen) > self._capacity:
            self._seen.popitem(last=False)
        return True

    def __contains__(self, webhook_id: object) -> bool:
        return webhook_id in self._seen
