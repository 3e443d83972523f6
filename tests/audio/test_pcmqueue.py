"""Persona audio for a slow reader is bounded in bytes, whatever the chunk sizes."""

from __future__ import annotations

from booth.audio.pcmqueue import PcmQueue


async def test_a_stalled_reader_costs_the_byte_limit_and_loses_the_oldest() -> None:
    queue = PcmQueue(max_bytes=10_000)
    for n in range(1500):
        queue.put(bytes([n % 256]) * 4000)
    assert queue.nbytes <= 10_000 and len(queue) == 2
    assert queue.dropped == 1498
    first = await queue.get()
    assert first is not None and first[0] == 1498 % 256  # the newest audio survived


async def test_close_ends_every_reader_after_what_is_queued() -> None:
    queue = PcmQueue(max_bytes=100)
    queue.put(b"ab")
    queue.close()
    queue.put(b"cd")  # after the end: ignored
    assert await queue.get() == b"ab"
    assert await queue.get() is None and await queue.get() is None


async def test_flush_and_oversized_chunks() -> None:
    queue = PcmQueue(max_bytes=10)
    queue.put(b"x" * 11)
    assert len(queue) == 0 and queue.dropped == 1
    queue.put(b"ab")
    queue.put(b"cd")
    assert queue.flush() == 2 and queue.nbytes == 0
