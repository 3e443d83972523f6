"""Fixtures shared by the ops tests: ALSA file devices, a loopback voice-service stub."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.support.alsa import AlsaFileDevices, alsa_file_devices

KEY = "ath_live_doctortestkey0123456"
TOKEN = "sess_tok_doctor_abcdefghijklmnop"


def tone(seconds: float = 2.0, amplitude: int = 8000, rate: int = 48000) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (amplitude * np.sin(2 * np.pi * 440 * t)).astype(np.int16)


AlsaFactory = Callable[..., AlsaFileDevices]


@pytest.fixture
def alsa(tmp_path: Path) -> Iterator[AlsaFactory]:
    """Make file-backed ALSA devices (tests/support/alsa.py); ``.env`` is for subprocesses."""
    with contextlib.ExitStack() as stack:
        count = [0]

        def make(capture: np.ndarray | None = None, **kwargs: Any) -> AlsaFileDevices:
            count[0] += 1
            source = tone() if capture is None else capture
            return stack.enter_context(
                alsa_file_devices(tmp_path / f"alsa{count[0]}", source, rate=48000, **kwargs)
            )

        yield make


class _Service(BaseHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass

    def _json(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("X-Athos-Request-Id", "req_doctor_1")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self._json(404, {"error": {"code": "NOT_FOUND", "message": "no such path"}})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        body = json.loads(self.rfile.read(length) or b"{}")
        if self.path != "/api/external/v1/session":
            self._json(404, {"error": {"code": "NOT_FOUND", "message": "no such path"}})
        elif self.headers.get("Authorization") != f"Bearer {KEY}":
            self._json(401, {"error": {"code": "INVALID_API_KEY", "message": "bad key"}})
        elif not body.get("externalUserId"):
            self._json(400, {"error": {"code": "INVALID_REQUEST", "message": "no user"}})
        else:
            self._json(200, {"token": TOKEN, "expiresAt": "2030-01-01T00:05:00Z"})


@pytest.fixture
def service() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Service)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
