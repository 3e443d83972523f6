"""The booth dialect: the booth voice protocol (client side in :mod:`booth.protocol.client`).

Server side: every message of :mod:`booth.protocol.codec`, binary 640-byte frames both ways.
"""

from __future__ import annotations

from booth.protocol.client import ClientProtocol
from booth.protocol.codec import encode_server, parse_client
from booth.protocol.messages import FRAME_BYTES, ClientEvent, ServerEvent, Transcript


class BoothServerCodec:
    def encode(self, event: ServerEvent) -> list[str | bytes]:
        if isinstance(event, Transcript):
            return []  # the booth protocol carries no live transcript
        return [encode_server(event)]

    def parse(self, message: str | bytes) -> ClientEvent:
        return parse_client(message, frame_bytes=FRAME_BYTES)


__all__ = ["BoothServerCodec", "ClientProtocol"]
