"""booth.daemon.heap: free heap pages go back to the kernel where the C library can do it."""

from __future__ import annotations

import platform

from booth.daemon import heap


def test_release_trims_the_heap_on_glibc_and_does_nothing_elsewhere() -> None:
    glibc = platform.libc_ver()[0] == "glibc"
    assert heap.release() is glibc
    assert heap.release() is glibc  # again: the function is looked up once, still there
