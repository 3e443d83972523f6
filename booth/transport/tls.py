"""The booth's one TLS client context, shared by every REST client and WebSocket dial.

``ssl.create_default_context()`` parses the system's CA bundle each time: ~20 ms of CPU here,
a few hundred ms on a Pi Zero 2 W. httpx builds one for every client and asyncio one for every
``wss://`` dial, so a call (mint, redeem, dial, score, and each reconnect) paid it several
times, on the way to the rep hearing the persona. One context, made at first use, serves them
all: verification settings are the defaults either way, and a context is safe to share.
"""

from __future__ import annotations

import functools
import ssl


@functools.cache
def client_context() -> ssl.SSLContext:
    """The default-verifying client context (certificates and host names checked)."""
    return ssl.create_default_context()
