"""Error codes shared by every layer, named as the Athos SDK and REST API name them."""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    # Devices (Athos frontend SDK).
    MIC_PERMISSION_DENIED = "MIC_PERMISSION_DENIED"
    MIC_DEVICE_DISCONNECTED = "MIC_DEVICE_DISCONNECTED"
    NO_MIC_AVAILABLE = "NO_MIC_AVAILABLE"
    AUDIO_PLAYBACK_BLOCKED = "AUDIO_PLAYBACK_BLOCKED"
    # Link.
    NETWORK_LOST = "NETWORK_LOST"
    PROTOCOL_ERROR = "PROTOCOL_ERROR"
    # REST (Athos API).
    INVALID_REQUEST = "INVALID_REQUEST"
    DRILL_NOT_FOUND = "DRILL_NOT_FOUND"
    INVALID_API_KEY = "INVALID_API_KEY"
    API_KEY_REVOKED = "API_KEY_REVOKED"
    INVALID_TOKEN = "INVALID_TOKEN"
    TOKEN_EXPIRED = "TOKEN_EXPIRED"
    TOKEN_ALREADY_USED = "TOKEN_ALREADY_USED"
    IP_NOT_ALLOWED = "IP_NOT_ALLOWED"
    TENANT_INACTIVE = "TENANT_INACTIVE"
    TENANT_QUOTA_EXCEEDED = "TENANT_QUOTA_EXCEEDED"
    CALL_NOT_FOUND = "CALL_NOT_FOUND"
    RATE_LIMITED = "RATE_LIMITED"
    SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"
    INTERNAL_ERROR = "INTERNAL_ERROR"


#: Error classes, by what an operator checks first (the LED's blink code counts them).
NETWORK_OR_SERVICE = frozenset(
    {
        ErrorCode.NETWORK_LOST,
        ErrorCode.SERVICE_UNAVAILABLE,
        ErrorCode.INTERNAL_ERROR,
        ErrorCode.RATE_LIMITED,
        ErrorCode.PROTOCOL_ERROR,
        ErrorCode.INVALID_TOKEN,
        ErrorCode.TOKEN_EXPIRED,
        ErrorCode.TOKEN_ALREADY_USED,
    }
)
MIC_CODES = frozenset(
    {ErrorCode.NO_MIC_AVAILABLE, ErrorCode.MIC_DEVICE_DISCONNECTED, ErrorCode.MIC_PERMISSION_DENIED}
)
SPEAKER_CODES = frozenset({ErrorCode.AUDIO_PLAYBACK_BLOCKED})
ACCOUNT_CODES = frozenset(
    {
        ErrorCode.INVALID_API_KEY,
        ErrorCode.API_KEY_REVOKED,
        ErrorCode.IP_NOT_ALLOWED,
        ErrorCode.TENANT_INACTIVE,
        ErrorCode.TENANT_QUOTA_EXCEEDED,
    }
)
REQUEST_CODES = frozenset({ErrorCode.DRILL_NOT_FOUND, ErrorCode.INVALID_REQUEST})
#: Every code as a string: a call's end reason that is one of these ended it in error.
ALL_CODES = frozenset(str(code) for code in ErrorCode)

#: Codes that need a person (a new key, a tenant fix): never retried in a loop.
NEEDS_A_PERSON = ACCOUNT_CODES | {ErrorCode.MIC_PERMISSION_DENIED}

#: Redeem failures that leave the session token unspent (docs/protocol.md §2.3); others spend it.
TOKEN_STILL_UNSPENT = frozenset(
    {ErrorCode.INVALID_TOKEN, ErrorCode.TOKEN_EXPIRED, ErrorCode.INVALID_REQUEST}
)


class BoothError(Exception):
    """A domain error with a code a booth operator can act on."""

    def __init__(self, code: ErrorCode | str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = str(code)
        self.message = message


# sysexits.h: the codes systemd's RestartPreventExitStatus= and operators key on.
EX_OK = 0
EX_USAGE = 64
EX_UNAVAILABLE = 69
EX_SOFTWARE = 70
EX_CONFIG = 78
