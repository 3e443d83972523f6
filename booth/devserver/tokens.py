"""Short-lived, single-use HS256 JWTs: session tokens, connection tickets, seed-003 SDK tokens."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jwt

KIND_SESSION = "session"  # POST /api/external/v1/session → redeemed at roleplay/session
KIND_TICKET = "ticket"  # connectionTicket → redeemed by the WebSocket's first message
KIND_SDK = "sdk"  # POST /api/v1/sdk/token → redeemed by the WebSocket's first message
KIND_ATOMS = "atoms"  # register-call's wct_ token → redeemed by the Agent WebSocket's URL


class TokenProblem(Exception):
    """``code`` is the REST / WebSocket error code to answer with."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Claims:
    kind: str
    jti: str
    subject: str
    expires_at: float
    extra: dict[str, Any]


class TokenIssuer:
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._key = secrets.token_bytes(32)
        self.clock = clock
        self._spent: dict[str, float] = {}  # jti → expiry, pruned once expired

    def issue(self, kind: str, subject: str, lifetime_s: float, **extra: Any) -> tuple[str, float]:
        now = self.clock()
        expires = now + lifetime_s
        claims = {
            "typ": kind,
            "sub": subject,
            "jti": secrets.token_urlsafe(12),
            "iat": int(now),
            # Float exp keeps sub-second lifetimes usable in tests; PyJWT accepts numbers.
            "exp": expires,
            **extra,
        }
        return jwt.encode(claims, self._key, algorithm="HS256"), expires

    def check(self, token: str, kind: str) -> Claims:
        """Decode and validate ``token`` without spending it."""
        try:
            data = jwt.decode(
                token,
                self._key,
                algorithms=["HS256"],
                options={"require": ["exp", "jti", "typ", "sub"], "verify_iat": False},
                leeway=0,
            )
        except jwt.ExpiredSignatureError:
            raise TokenProblem("TOKEN_EXPIRED", "the token has expired; mint a new one") from None
        except jwt.InvalidTokenError:
            raise TokenProblem("INVALID_TOKEN", "the token is not valid") from None
        if data.get("typ") != kind:
            raise TokenProblem("INVALID_TOKEN", "the token is not valid here")
        # PyJWT compares exp against its own clock; check against ours too (tests inject one).
        if float(data["exp"]) <= self.clock():
            raise TokenProblem("TOKEN_EXPIRED", "the token has expired; mint a new one")
        if data["jti"] in self._spent:
            raise TokenProblem("TOKEN_ALREADY_USED", "the token was already used; mint a new one")
        extra = {k: v for k, v in data.items() if k not in {"typ", "sub", "jti", "iat", "exp"}}
        return Claims(kind, str(data["jti"]), str(data["sub"]), float(data["exp"]), extra)

    def spend(self, claims: Claims) -> None:
        now = self.clock()
        self._spent = {jti: exp for jti, exp in self._spent.items() if exp > now}
        self._spent[claims.jti] = claims.expires_at

    def redeem(self, token: str, kind: str) -> Claims:
        claims = self.check(token, kind)
        self.spend(claims)
        return claims
