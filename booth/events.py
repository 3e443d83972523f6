"""A small synchronous event emitter with the Athos SDK's `on()`/`off()` shape."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

Listener = Callable[[dict[str, Any]], object]


class Emitter:
    """`on(name, cb)` returns an unsubscribe function; a failing listener never stops others."""

    def __init__(self) -> None:
        self._listeners: defaultdict[str, list[Listener]] = defaultdict(list)

    def on(self, name: str, callback: Listener) -> Callable[[], None]:
        self._listeners[name].append(callback)
        return lambda: self.off(name, callback)

    def off(self, name: str, callback: Listener | None = None) -> None:
        """Remove one listener, or every listener of ``name`` when none is given."""
        if callback is None:
            self._listeners.pop(name, None)
            return
        listeners = self._listeners.get(name)
        if listeners and callback in listeners:
            listeners.remove(callback)

    def emit(self, name: str, payload: dict[str, Any] | None = None) -> None:
        for callback in list(self._listeners.get(name, ())):
            try:
                callback(dict(payload or {}))
            except Exception:
                log.exception("listener for %r failed", name)

    def listener_count(self, name: str) -> int:
        return len(self._listeners.get(name, ()))
