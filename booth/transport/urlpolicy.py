"""Which service URLs a booth may use: TLS everywhere except loopback."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

_SECURE = {"https", "wss"}
_PLAIN = {"http", "ws"}


def is_loopback_host(host: str) -> bool:
    if host.lower() in {"localhost", "localhost.localdomain"}:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_url_allowed(url: str) -> str | None:
    """None if the booth may use ``url``, else why not (plain text on a real network)."""
    parts = urlsplit(url)
    if parts.scheme in _SECURE and parts.hostname:
        return None
    if parts.scheme in _PLAIN and parts.hostname:
        if is_loopback_host(parts.hostname):
            return None
        secure = "https" if parts.scheme == "http" else "wss"
        return (
            f"{parts.scheme}:// is only allowed on loopback; use {secure}:// for "
            f"{parts.hostname} (the API key and call audio would travel in clear text)"
        )
    return f"{url!r} is not an http(s) or ws(s) URL with a host"
