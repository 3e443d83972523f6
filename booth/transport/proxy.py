"""An HTTP proxy between the booth and its service (corporate networks): the address, the
credential, and an HTTP CONNECT tunnel.

One tunnel function serves the WebSocket link (it hands the tunnelled socket to ``websockets``
with ``sock=``; TLS to the service then runs through it) and ``booth doctor`` (which reports
each way it can fail). The REST client uses httpx's own proxy support with the same address
and credential. Failures are typed and name the proxy by ``host:port`` only: the credential
never reaches a message, and the proxy's own reply text is not repeated (only its status).
"""

from __future__ import annotations

import asyncio
import base64
import http
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from booth import limits
from booth.secret import Secret

if TYPE_CHECKING:
    import httpx

_RECV_CHUNK = 4096


@dataclass(frozen=True)
class HttpProxy:
    """``http://host:port``, with an optional Basic credential (never printed)."""

    host: str
    port: int
    user: str | None = None
    password: Secret | None = None

    @property
    def address(self) -> str:
        """What messages name the proxy by: host and port, never the credential."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    def __repr__(self) -> str:
        auth = f", user={self.user!r}, password=***" if self.user is not None else ""
        return f"HttpProxy({self.address!r}{auth})"

    def authorization(self) -> str | None:
        """The ``Proxy-Authorization`` value (RFC 7617 Basic), or None without a credential."""
        if self.user is None or self.password is None:
            return None
        pair = f"{self.user}:{self.password.reveal()}".encode()
        return "Basic " + base64.b64encode(pair).decode("ascii")

    def for_httpx(self) -> httpx.Proxy:
        import httpx

        auth = None
        if self.user is not None and self.password is not None:
            auth = (self.user, self.password.reveal())
        return httpx.Proxy(f"http://{self.address}", auth=auth)


def parse_proxy_url(url: str) -> tuple[str, int]:
    """(host, port) of ``http://host:port``; ValueError says what is wrong."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise ValueError("not a URL of the form http://host:port") from None
    if parts.scheme != "http":
        raise ValueError(
            "must start with http:// (the booth speaks plain HTTP to the proxy and CONNECTs "
            "through it; TLS to the service runs inside the tunnel)"
        )
    if "@" in parts.netloc:
        raise ValueError(
            "a user or password in the URL is refused: put user:password in a credential file "
            "(service.proxy_auth_file, or systemd LoadCredential=proxy_auth)"
        )
    if not parts.hostname:
        raise ValueError("has no host")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError("must be just http://host:port (no path, query or fragment)")
    return parts.hostname, port or 80


# ── failures ───────────────────────────────────────────────────────────────────────────


class ProxyError(Exception):
    """The tunnel through ``proxy`` could not be opened. Names the proxy, never a secret."""

    def __init__(self, proxy: HttpProxy, message: str) -> None:
        super().__init__(f"proxy {proxy.address}: {message}")
        self.proxy = proxy.address


class ProxyUnreachable(ProxyError):
    """No TCP connection to the proxy (refused, no route, timed out)."""


class ProxyRefused(ProxyError):
    """The proxy answered CONNECT with a status other than 2xx (and other than 407)."""

    def __init__(self, proxy: HttpProxy, target: str, status: int) -> None:
        super().__init__(proxy, f"refused CONNECT to {target} ({describe_status(status)})")
        self.status = status
        self.target = target


class ProxyAuthRejected(ProxyRefused):
    """407 (or 401, which tinyproxy sends for a wrong password): the proxy wants a credential,
    or did not accept the one sent."""

    def __init__(self, proxy: HttpProxy, target: str, status: int = 407) -> None:
        ProxyError.__init__(
            self,
            proxy,
            f"rejected the proxy credential (HTTP {status})"
            if proxy.user is not None
            else f"requires a user and password (HTTP {status})",
        )
        self.status = status
        self.target = target


class ProxyProtocolError(ProxyError):
    """What came back is not an HTTP reply (or is too large)."""


def describe_status(status: int) -> str:
    """``HTTP 403 Forbidden``: the standard phrase, never the proxy's own text."""
    try:
        return f"HTTP {status} {http.HTTPStatus(status).phrase}"
    except ValueError:
        return f"HTTP {status}"


def refusal_for_status(proxy: HttpProxy, target: str, status: int) -> ProxyRefused:
    """The typed failure for a non-2xx reply to CONNECT (REST and the link share it)."""
    if status in (401, 407):
        return ProxyAuthRejected(proxy, target, status)
    return ProxyRefused(proxy, target, status)


def refusal_for_url(proxy: HttpProxy, url: str, status: int) -> ProxyRefused:
    """The refusal of a tunnel to ``url``'s host and port (the REST client's view)."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return refusal_for_status(proxy, connect_target(parts.hostname or "", port), status)


def is_proxy_challenge(status: int, headers: Mapping[str, str]) -> bool:
    """A forwarded request's reply that is the proxy's refusal of the credential: 407, or a 401
    with a Basic challenge (tinyproxy's answer to a wrong password; the service takes Bearer
    keys, never Basic)."""
    if status == 407:
        return True
    challenge = headers.get("www-authenticate", "")
    return status == 401 and challenge.lower().startswith("basic")


def status_of_refusal(text: str) -> int:
    """httpx (httpcore) reports a refused CONNECT as ``"<status> <reason>"``."""
    head = text.split(" ", 1)[0]
    return int(head) if head.isdigit() else 502


def connect_target(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


# ── the tunnel ─────────────────────────────────────────────────────────────────────────


async def open_tunnel(
    proxy: HttpProxy,
    host: str,
    port: int,
) -> socket.socket:
    """A connected, non-blocking socket through which bytes reach ``host:port``.

    The caller bounds the time (``asyncio.timeout``); a cancelled or failed attempt closes
    its socket.
    """
    loop = asyncio.get_running_loop()
    target = connect_target(host, port)
    try:
        infos = await loop.getaddrinfo(proxy.host, proxy.port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise ProxyUnreachable(proxy, f"cannot resolve {proxy.host}: {_os_reason(exc)}") from None
    sock: socket.socket | None = None
    last: OSError | None = None
    for family, kind, proto, _name, address in infos:
        candidate = socket.socket(family, kind, proto)
        try:
            candidate.setblocking(False)
            await loop.sock_connect(candidate, address)
        except OSError as exc:
            candidate.close()
            last = exc
            continue
        except BaseException:
            candidate.close()
            raise
        sock = candidate
        break
    if sock is None:
        reason = _os_reason(last) if last is not None else "no address"
        raise ProxyUnreachable(proxy, f"cannot connect: {reason}")
    try:
        await _handshake(loop, sock, proxy, target)
    except BaseException:
        sock.close()
        raise
    return sock


async def _handshake(
    loop: asyncio.AbstractEventLoop,
    sock: socket.socket,
    proxy: HttpProxy,
    target: str,
) -> None:
    # Imported here: the config check imports this module for parse_proxy_url, and
    # scripts/provision runs that check on the bare system interpreter, before any install.
    import h11

    # h11 refuses a reply head larger than the limit; the caller's deadline bounds the time.
    conn = h11.Connection(h11.CLIENT, max_incomplete_event_size=limits.PROXY_REPLY.value)
    received = 0
    headers = [("Host", target)]
    authorization = proxy.authorization()
    if authorization is not None:
        headers.append(("Proxy-Authorization", authorization))
    request = conn.send(h11.Request(method="CONNECT", target=target, headers=headers))
    end = conn.send(h11.EndOfMessage())
    try:
        await loop.sock_sendall(sock, (request or b"") + (end or b""))
    except OSError as exc:
        raise ProxyUnreachable(proxy, f"connection lost: {_os_reason(exc)}") from None
    while True:
        try:
            event = conn.next_event()
        except h11.RemoteProtocolError:
            if received > limits.PROXY_REPLY.value:
                problem = limits.PROXY_REPLY.exceeded("its answer to CONNECT", received)
                raise ProxyProtocolError(proxy, problem) from None
            raise ProxyProtocolError(proxy, "did not answer CONNECT with HTTP") from None
        if event is h11.NEED_DATA:
            try:
                data = await loop.sock_recv(sock, _RECV_CHUNK)
            except OSError as exc:
                raise ProxyUnreachable(proxy, f"connection lost: {_os_reason(exc)}") from None
            if not data:
                raise ProxyProtocolError(proxy, "closed the connection without answering CONNECT")
            received += len(data)
            conn.receive_data(data)
            continue
        if isinstance(event, h11.InformationalResponse):
            continue
        if isinstance(event, h11.Response):
            if 200 <= event.status_code < 300:
                # Both sides speak first-from-the-client (TLS, WebSocket): a proxy that sends
                # bytes past its reply is not a transparent tunnel.
                if conn.trailing_data[0]:
                    raise ProxyProtocolError(proxy, "sent data after accepting CONNECT")
                return
            raise refusal_for_status(proxy, target, event.status_code)
        raise ProxyProtocolError(proxy, "did not answer CONNECT with HTTP")


def _os_reason(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__
