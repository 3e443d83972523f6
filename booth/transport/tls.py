"""The booth's one TLS client context, shared by every REST client and WebSocket dial.

``ssl.create_default_context()`` parses the system's whole CA bundle: ~25 ms of CPU and
~1.3 MB of RSS for good here (a few hundred ms on a Pi Zero 2 W). httpx builds one for every
client and asyncio one for every ``wss://`` dial, so a call (mint, redeem, dial, score, and
each reconnect) paid it several times, on the way to the rep hearing the persona. One context,
made at first use, serves them all: verification settings are the defaults either way, and a
context is safe to share.

Where the system keeps its CAs as a hashed directory too (Debian's ``update-ca-certificates``
writes both, from the same certificates), the context takes only the directory: OpenSSL then
reads the one CA a handshake needs, when it needs it, instead of the whole bundle up front.
``SSL_CERT_FILE`` set by an administrator (a private bundle) is honoured as OpenSSL would.
"""

from __future__ import annotations

import functools
import os
import re
import ssl

#: A hashed directory's entries: ``<subject hash>.<n>`` (``openssl rehash``).
_HASHED_NAME = re.compile(r"[0-9a-f]{8}\.\d+")


@functools.cache
def client_context() -> ssl.SSLContext:
    """The default-verifying client context (certificates and host names checked)."""
    paths = ssl.get_default_verify_paths()
    if not os.environ.get(paths.openssl_cafile_env) and _is_hashed_dir(paths.capath):
        return ssl.create_default_context(capath=paths.capath)
    return ssl.create_default_context()


def _is_hashed_dir(path: str | None) -> bool:
    if not path:
        return False
    try:
        with os.scandir(path) as entries:
            return any(_HASHED_NAME.fullmatch(entry.name) for entry in entries)
    except OSError:
        return False
