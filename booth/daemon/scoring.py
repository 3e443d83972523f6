"""Asking the service for a call's score: poll the call record with backoff until it is scored.

The caller bounds the whole poll (``asyncio.timeout(call.score_wait)``); a refusal that no retry
will change (a bad key, say) ends it at once.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass

from booth.daemon.sessions import RestLike
from booth.errors import ErrorCode


@dataclass(frozen=True)
class ScorePolicy:
    """Backoff between polls of the call record."""

    first: float = 2.0
    factor: float = 1.6
    cap: float = 15.0


async def poll_score(rest: RestLike, call_id: str, policy: ScorePolicy) -> tuple[int | None, str]:
    """(score, "scored") once the record has one, or (None, why not); closes ``rest``."""
    from booth.transport.rest import RestError

    delay = policy.first
    try:
        while True:
            try:
                record = await rest.get_call(call_id)
                value = (record.get("score") or {}).get("overallScore")
                if record.get("status") == "scored" and isinstance(value, int | float):
                    return round(value), "scored"
            except RestError as exc:
                if exc.code != ErrorCode.CALL_NOT_FOUND and not exc.retryable:
                    return None, exc.code
            except ValueError:
                return None, "bad call id"
            await asyncio.sleep(delay)
            delay = min(delay * policy.factor, policy.cap)
    finally:
        with contextlib.suppress(Exception):
            await rest.aclose()
