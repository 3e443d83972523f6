"""Timing and behaviour settings of a devserver; tests shorten them to stay fast."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Settings:
    resume_window: float = 30.0  # a dropped call can be resumed this long, then it ends
    scoring_delay: float = 2.0  # seconds a call spends in "scoring"
    token_lifetime: float = 300.0  # session and seed-003 SDK tokens
    ticket_lifetime: float = 60.0  # connection tickets
    auth_timeout: float = 10.0  # the WebSocket's first message must arrive within this
    max_call_duration: float = 900.0  # then session_ended max_duration
    reply_delay: float = 0.3  # the persona's thinking time before it answers a turn
    silence_s: float = 0.7  # rep silence that ends a turn
    speech_threshold_dbfs: float = -45.0  # rep frames louder than this are speech
    send_timeout: float = 5.0  # a send that blocks longer aborts the socket
    webhook_retry_delay: float = 30.0  # a failed call.scored delivery is retried once after
    webhook_timeout: float = 10.0
    default_drill: str = "cold-call-skeptic"  # for seed-003 SDK tokens, which name no drill
    greet: bool = True  # the persona speaks its opening line after agent_ready
    keep_recordings: int = 20  # scored calls whose audio is kept; older ones keep only figures
