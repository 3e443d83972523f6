"""Deliver signed `call.scored` webhooks; a failed delivery is retried once, later."""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from booth.devserver.calls import Call, iso
from booth.logs import log_event
from booth.webhooks import sign

_log = logging.getLogger("booth.devserver.webhooks")


@dataclass
class Delivery:
    webhook_id: str
    call_id: str
    body: bytes
    attempts: list[str] = field(default_factory=list)  # "200", "500", "ConnectError"…
    delivered: bool = False


class WebhookSender:
    def __init__(self, url: str, secret: str, *, retry_delay: float, timeout: float) -> None:
        self.url = url
        self._secret = secret
        self.retry_delay = retry_delay
        self.timeout = timeout
        self.deliveries: list[Delivery] = []

    @staticmethod
    def payload(call: Call) -> dict[str, Any]:
        data: dict[str, Any] = {
            "event": "call.scored",
            "success": call.score is not None,
            "callId": call.call_id,
            "source": call.source,
            "occurredAt": iso(datetime.now(UTC)),
            "requestId": "req_" + secrets.token_hex(8),
        }
        if call.score is None:
            data["reason"] = "SCORING_FAILED"
            data["reasonMessage"] = "the call could not be scored"
        return data

    async def deliver(self, call: Call, on_change: Any = None) -> Delivery:
        body = json.dumps(self.payload(call), separators=(",", ":")).encode()
        delivery = Delivery("wh_" + secrets.token_hex(12), call.call_id, body)
        self.deliveries.append(delivery)
        async with httpx.AsyncClient(timeout=self.timeout) as client:
            for attempt in range(2):
                if attempt:
                    await asyncio.sleep(self.retry_delay)
                # Signed afresh per attempt (new t=), same webhook id so the receiver dedupes.
                headers = sign(self._secret, body, delivery.webhook_id)
                headers["Content-Type"] = "application/json"
                try:
                    response = await client.post(self.url, content=body, headers=headers)
                    delivery.attempts.append(str(response.status_code))
                    delivery.delivered = response.is_success
                except httpx.HTTPError as exc:
                    delivery.attempts.append(exc.__class__.__name__)
                if on_change is not None:
                    on_change()
                if delivery.delivered:
                    break
        log_event(
            _log,
            logging.INFO if delivery.delivered else logging.WARNING,
            f"webhook call.scored {'delivered' if delivery.delivered else 'failed'} "
            f"(attempts: {', '.join(delivery.attempts)})",
            EVENT="webhook",
            CALL_ID=call.call_id,
        )
        return delivery
