"""Stand-ins for a PyAudio instance and stream, for the blocking reader's and writer's tests."""

from __future__ import annotations


class FakeStream:
    """What the threads' release does to a stream: stop it, then close it."""

    def __init__(self) -> None:
        self.closed = False
        self.stopped = False

    def stop_stream(self) -> None:
        self.stopped = True

    def close(self) -> None:
        self.closed = True


class FakePortAudio:
    terminated = False

    def terminate(self) -> None:
        self.terminated = True
