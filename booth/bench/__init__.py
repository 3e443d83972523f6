"""`booth bench` targets: one module per target with ``run(*, as_json: bool) -> int``."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

#: For the bench's own child processes, which load numpy (the booth never does): OpenBLAS
#: would start a thread per core, idle threads that are not the booth's.
BENCH_ENV = {"OPENBLAS_NUM_THREADS": "1"}


@contextlib.contextmanager
def quiet_booth_logs(level: int = logging.ERROR) -> Iterator[None]:
    """Keep the booth's own log out of a bench's output, and put it back afterwards (benches
    also run inside other programs, the test suite among them)."""
    logger = logging.getLogger("booth")
    saved = logger.level
    logger.setLevel(level)
    try:
        yield
    finally:
        logger.setLevel(saved)
