"""Persona audio waiting for a reader, bounded in bytes (chunks vary from 2 bytes to 96 kB, so a
count says nothing about memory). A stalled reader loses the oldest audio, never the newest,
and never makes the queue grow past its byte limit."""

from __future__ import annotations

import asyncio
import collections


class PcmQueue:
    """FIFO of PCM chunks holding at most ``max_bytes``; :meth:`close` ends every reader."""

    def __init__(self, max_bytes: int) -> None:
        if max_bytes <= 0:
            raise ValueError("max_bytes must be positive")
        self.max_bytes = max_bytes
        self.nbytes = 0
        self.dropped = 0  # chunks lost to a slow reader or a chunk bigger than the whole queue
        self._chunks: collections.deque[bytes] = collections.deque()
        self._closed = False
        self._readable = asyncio.Event()

    def __len__(self) -> int:
        return len(self._chunks)

    @property
    def closed(self) -> bool:
        return self._closed

    def put(self, pcm: bytes) -> None:
        """Add a chunk, dropping the oldest until it fits (never blocks)."""
        if self._closed:
            return
        if len(pcm) > self.max_bytes:
            self.dropped += 1
            return
        while self._chunks and self.nbytes + len(pcm) > self.max_bytes:
            self.nbytes -= len(self._chunks.popleft())
            self.dropped += 1
        self._chunks.append(pcm)
        self.nbytes += len(pcm)
        self._readable.set()

    def close(self) -> None:
        """No more audio: readers get what is queued, then the end."""
        self._closed = True
        self._readable.set()

    def flush(self) -> int:
        """Drop everything queued (barge-in); returns the chunks dropped."""
        count = len(self._chunks)
        self._chunks.clear()
        self.nbytes = 0
        if not self._closed:
            self._readable.clear()
        return count

    async def get(self) -> bytes | None:
        """The next chunk, or None once closed and empty."""
        while not self._chunks:
            if self._closed:
                return None
            self._readable.clear()
            await self._readable.wait()
        chunk = self._chunks.popleft()
        self.nbytes -= len(chunk)
        return chunk
