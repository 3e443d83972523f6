"""Hand the heap's free pages back to the kernel when the booth goes idle (glibc).

glibc gives freed memory back only from the top of its heap, and only past a threshold; what
a call freed below a live block (its buffers, the parsing of what it loaded) stays in the
booth's RSS while it waits for the next call. ``malloc_trim(0)`` releases every whole free
page; it takes about a millisecond here. Where the C library has no ``malloc_trim`` (musl),
nothing happens.
"""

from __future__ import annotations

import ctypes
import functools
from collections.abc import Callable


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    try:
        trim: Callable[[int], int] = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return None
    return trim


def release() -> bool:
    """Give free heap pages back to the kernel; False where the C library cannot."""
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True
