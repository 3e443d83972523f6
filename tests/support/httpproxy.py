"""A real HTTP proxy for tests: tinyproxy (apt: tinyproxy-bin), started per test with a config
of its own (booth.sim.tinyproxy) and ended by PID."""

from __future__ import annotations

import pytest

from booth.sim import tinyproxy
from booth.sim.tinyproxy import TinyProxy

USER = "booth-floor-3"
# A test credential, 8 characters or more so that the log scrubber knows it.
PASSWORD = "pr0xy-Pa55word-floor3"

needs_tinyproxy = pytest.mark.skipif(
    not tinyproxy.available(), reason="needs tinyproxy (apt install tinyproxy-bin)"
)

__all__ = ["PASSWORD", "USER", "TinyProxy", "needs_tinyproxy"]
