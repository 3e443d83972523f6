"""Which service URLs a booth may use, parsed and checked in one place.

Every URL the booth dials (the configured ``api_url``, the service's ``connectionUrl`` or
``ws_url``) goes through :func:`parse_service_url` first: TLS everywhere except loopback, a real
host, a port in range, no credentials, nothing a parser downstream could choke on. A bad URL is
a :class:`UrlRejected` with a cleaned description, never a parser's bare ``ValueError``.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

from booth.limits import URL
from booth.servicetext import clean

_SECURE = {"https", "wss"}
_PLAIN = {"http", "ws"}
HTTP_SCHEMES = frozenset({"http", "https"})
WS_SCHEMES = frozenset({"ws", "wss"})


class UrlRejected(ValueError):
    """A URL the booth will not use; the text is safe to log (cleaned, no secret)."""


@dataclass(frozen=True)
class ServiceUrl:
    """A URL that passed the policy: safe to hand to httpx or websockets."""

    url: str
    scheme: str
    host: str
    port: int

    @property
    def loopback(self) -> bool:
        return is_loopback_host(self.host)


def is_loopback_host(host: str) -> bool:
    if host.lower() in {"localhost", "localhost.localdomain"}:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _split(url: str) -> SplitResult:
    if len(url) > URL.value:
        raise UrlRejected(URL.exceeded("URL", len(url)))
    if not url.isprintable() or any(c.isspace() for c in url):
        raise UrlRejected(f"URL {clean(url, 120)!r} has spaces or control characters")
    try:
        return urlsplit(url)
    except ValueError as exc:  # "Invalid IPv6 URL" and the like
        raise UrlRejected(f"URL {clean(url, 120)!r} does not parse: {exc}") from None


def _port(parts: SplitResult, url: str) -> int:
    try:
        port = parts.port  # raises for "abc", "-1" and 99999
    except ValueError:
        port = -1
    if port is None:
        return 443 if parts.scheme in _SECURE else 80
    if not 0 < port < 65536:
        raise UrlRejected(f"URL {clean(url, 120)!r} has no valid port (1-65535)")
    return port


def parse_service_url(url: str, schemes: frozenset[str] = HTTP_SCHEMES | WS_SCHEMES) -> ServiceUrl:
    """The URL checked against the policy, or :class:`UrlRejected` saying why not."""
    parts = _split(url)
    scheme = parts.scheme.lower()
    if scheme not in schemes or not parts.hostname:
        wanted = " or ".join(f"{s}://" for s in sorted(schemes))
        raise UrlRejected(f"URL {clean(url, 120)!r} is not a {wanted} URL with a host")
    if parts.username is not None or parts.password is not None:
        raise UrlRejected("URL carries credentials (user:password@); the booth will not use it")
    port = _port(parts, url)
    host = parts.hostname
    if scheme in _PLAIN and not is_loopback_host(host):
        secure = "https" if scheme == "http" else "wss"
        raise UrlRejected(
            f"{scheme}:// is only allowed on loopback; use {secure}:// for "
            f"{clean(host, 80)} (the API key and call audio would travel in clear text)"
        )
    return ServiceUrl(url=url, scheme=scheme, host=host, port=port)


def check_url_allowed(url: str, schemes: frozenset[str] = HTTP_SCHEMES | WS_SCHEMES) -> str | None:
    """None if the booth may use ``url``, else why not."""
    try:
        parse_service_url(url, schemes)
    except UrlRejected as exc:
        return str(exc)
    return None
