from __future__ import annotations

from typing import Any

from booth.events import Emitter


def test_on_returns_unsubscribe_and_off_removes() -> None:
    emitter = Emitter()
    seen: list[dict[str, Any]] = []
    unsubscribe = emitter.on("ready", seen.append)
    emitter.emit("ready", {"persona": {"name": "Alex"}})
    unsubscribe()
    emitter.emit("ready", {"persona": {"name": "Sam"}})
    assert seen == [{"persona": {"name": "Alex"}}]
    emitter.on("ended", seen.append)
    emitter.off("ended")
    emitter.emit("ended", {})
    assert len(seen) == 1


def test_failing_listener_does_not_stop_others() -> None:
    emitter = Emitter()
    seen: list[str] = []

    def bad(_: dict[str, Any]) -> None:
        raise RuntimeError("listener bug")

    emitter.on("x", bad)
    emitter.on("x", lambda _: seen.append("ok"))
    emitter.emit("x")
    assert seen == ["ok"]
