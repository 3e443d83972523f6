"""Fault injection knobs, global (``server.faults``) or per call (``server.fault_call(id, …)``).

Every knob defaults to "no fault". Times are seconds after the WebSocket was accepted.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# What `send_malformed` sends: broken JSON, a non-object, an object without a type, an odd-length
# binary frame. A conforming client logs and skips each, and the call goes on.
MALFORMED_MESSAGES: tuple[str | bytes, ...] = (
    '{"type": "agent_ready"',
    "[1, 2, 3]",
    '{"no_type": true}',
    b"\x01\x02\x03",
)
UNKNOWN_MESSAGES: tuple[str | bytes, ...] = (
    '{"type": "x_future_feature", "detail": 1}',
    '{"type": "x_future_feature", "detail": 2}',
    '{"type": "metrics", "rttMs": 12}',
)


@dataclass
class SocketFaults:
    """Faults of the WebSocket side of a call."""

    drop_after: float | None = None  # abort the TCP connection (no close frame)
    blackhole_after: float | None = None  # hold the socket open, read and send nothing
    refuse_resume: bool = False  # answer a resume with error RESUME_REJECTED
    send_malformed: bool = False  # MALFORMED_MESSAGES right after `connected`
    send_unknown: bool = False  # UNKNOWN_MESSAGES right after `connected`
    inject: list[str | bytes] = field(default_factory=list)  # any raw messages, after connected
    flood: bool = False  # persona audio as fast as the socket takes it, not in real time
    end_after: float | None = None  # end the session from the server side …
    end_reason: str = "agent_disconnected"  # … with this session_ended reason
    error_after: float | None = None  # a fatal `error` then a close (the dialect's code) …
    error_code: str = "internal_error"  # … with this code
    hide_call_id: bool = False  # `connected` names no callId (a service that gives none)
    once: bool = True  # drop/blackhole only the first socket of a call, so a resume works
    # Atoms: hold the upgrade's answer, after its wct_ token is spent, by the next delay here
    # (one per upgrade, consumed): a handshake that outlasts the booth's open timeout.
    upgrade_delays: list[float] = field(default_factory=list)


@dataclass
class RestFaults:
    """Faults of the REST side (apply to every endpoint)."""

    status: int | None = None  # 429, 503 or 500 instead of the real answer
    retry_after: int = 1  # Retry-After seconds sent with a 429 (and a 503)
    count: int | None = None  # fail only the next N requests (None: until cleared)
    delay: float = 0.0  # seconds to wait before answering any request

    def take(self) -> int | None:
        """The status to fail this request with, if any; counts down ``count``."""
        if self.status is None:
            return None
        if self.count is not None:
            if self.count <= 0:
                return None
            self.count -= 1
        return self.status


@dataclass
class Faults:
    socket: SocketFaults = field(default_factory=SocketFaults)
    rest: RestFaults = field(default_factory=RestFaults)

    def clear(self) -> None:
        self.socket = SocketFaults()
        self.rest = RestFaults()
