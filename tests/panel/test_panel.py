"""The panel: button gestures from a finger on a MockFactory pin, LED patterns on mock pins."""

from __future__ import annotations

import asyncio
import dataclasses
import math
import threading
import warnings
from typing import Any

import pytest
from gpiozero.pins.mock import MockFactory, MockPWMPin

from booth.config import LedSection, PanelSection
from booth.panel import patterns
from booth.panel.button import ButtonDetector, ButtonEvent
from booth.panel.gpio import GpioPanel, Panel, open_panel
from booth.wakeups import GRID


class FakeClock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


# ---------------------------------------------------------------------------------------------
# The pure detector


def kinds(events: list[ButtonEvent]) -> list[str]:
    return [e.kind for e in events]


def test_detector_press_release_double_and_third_press() -> None:
    d = ButtonDetector(bounce=0.02, double_press=0.4)
    out = d.edge(True, 0.0) + d.edge(False, 0.1) + d.edge(True, 0.3) + d.edge(False, 0.4)
    assert kinds(out) == ["press", "release", "double_press", "release"]
    # A third quick press starts over: it is a press, not another double.
    assert kinds(d.edge(True, 0.6)) == ["press"]


def test_detector_slow_second_press_is_a_press() -> None:
    d = ButtonDetector(double_press=0.4)
    d.edge(True, 0.0)
    d.edge(False, 0.1)
    assert kinds(d.edge(True, 0.45)) == ["press"]


def test_detector_debounces_and_settles() -> None:
    d = ButtonDetector(bounce=0.02)
    assert kinds(d.edge(True, 0.0)) == ["press"]
    assert d.edge(False, 0.004) == []  # bounce
    assert d.edge(True, 0.007) == []  # same level as accepted: nothing
    assert d.pressed
    # A real release swallowed inside the window is caught by the settle read.
    assert d.edge(False, 0.015) == []
    assert kinds(d.settle(False, d.settle_due())) == ["release"]
    assert not d.pressed


def test_detector_hold_once() -> None:
    d = ButtonDetector(hold=1.0)
    d.edge(True, 0.0)
    assert d.tick(0.9) == []
    assert kinds(d.tick(1.0)) == ["hold"]
    assert d.tick(2.0) == []
    d.edge(False, 2.1)
    assert d.tick(5.0) == []


# ---------------------------------------------------------------------------------------------
# gpiozero adapter on MockFactory


@pytest.fixture
def factory() -> Any:
    f = MockFactory(pin_class=MockPWMPin)
    yield f
    f.reset()


class Harness:
    def __init__(self, panel: Panel, queue: asyncio.Queue[ButtonEvent], clock: FakeClock) -> None:
        self.panel = panel
        self.queue = queue
        self.clock = clock

    async def next(self) -> str:
        event = await asyncio.wait_for(self.queue.get(), timeout=5)
        return event.kind


async def make(factory: Any, **panel_kw: Any) -> Harness:
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[ButtonEvent] = asyncio.Queue()
    clock = FakeClock()
    cfg = dataclasses.replace(PanelSection(pin_factory="mock"), **panel_kw)
    panel = open_panel(cfg, loop, queue.put_nowait, factory=factory, clock=clock)
    assert isinstance(panel, GpioPanel), panel.degraded
    return Harness(panel, queue, clock)


def finger(factory: Any, clock: FakeClock, pin: int, down: bool, at: float) -> None:
    clock.t = at
    if down:
        factory.pin(pin).drive_low()  # pulled up: pressing shorts to ground
    else:
        factory.pin(pin).drive_high()


async def test_button_press_release_and_double_press_from_pin_edges(factory: Any) -> None:
    h = await make(factory)
    finger(factory, h.clock, 17, True, 100.0)
    assert await h.next() == "press"
    finger(factory, h.clock, 17, False, 100.1)
    assert await h.next() == "release"
    finger(factory, h.clock, 17, True, 100.3)
    assert await h.next() == "double_press"
    finger(factory, h.clock, 17, False, 100.35)
    assert await h.next() == "release"
    finger(factory, h.clock, 17, True, 101.5)
    assert await h.next() == "press"
    await h.panel.close()


async def test_bouncy_contact_gives_one_press(factory: Any) -> None:
    h = await make(factory, bounce_ms=20)
    for i, down in enumerate([True, False, True, False, True]):
        finger(factory, h.clock, 17, down, 100.0 + i * 0.003)
    assert await h.next() == "press"
    finger(factory, h.clock, 17, False, 100.5)
    assert await h.next() == "release"  # no spurious events came in between
    await h.panel.close()


async def test_release_inside_bounce_window_is_not_lost(factory: Any) -> None:
    h = await make(factory, bounce_ms=20)
    finger(factory, h.clock, 17, True, 100.0)
    finger(factory, h.clock, 17, False, 100.01)  # swallowed as bounce…
    assert await h.next() == "press"
    assert await h.next() == "release"  # …then found by the settle read of the real pin
    await h.panel.close()


async def test_hold_is_reported(factory: Any) -> None:
    h = await make(factory)
    finger(factory, h.clock, 17, True, 100.0)
    assert await h.next() == "press"
    h.clock.t = 101.5  # the hold timer fires on the loop after HOLD_TIME; our clock says 1.5 s
    assert await h.next() == "hold"
    await h.panel.close()


async def test_button_on_another_pin_and_pull_down(factory: Any) -> None:
    h = await make(factory, button_pin=5, button_pull_up=False)
    h.clock.t = 100.0
    factory.pin(5).drive_high()  # pulled down: pressing drives high
    assert await h.next() == "press"
    await h.panel.close()


def pins(factory: Any, *numbers: int) -> tuple[float, ...]:
    return tuple(round(float(factory.pin(n).state), 3) for n in numbers)


async def test_rgb_led_patterns_on_pwm_pins(factory: Any) -> None:
    h = await make(factory)
    leds = h.panel.leds
    h.panel.show(patterns.TALKING)
    assert pins(factory, 22, 23, 24) == (1.0, 0.0, 0.0)
    assert h.panel.led_state.pattern == "talking" and h.panel.led_state.colour == "red"
    h.panel.show(patterns.LISTENING)
    assert pins(factory, 22, 23, 24) == (0.0, 1.0, 0.0)
    h.panel.show(patterns.PERSONA_SPEAKING)  # solid green, blue pulse
    assert pins(factory, 22, 23, 24) == (0.0, 1.0, 0.0)
    leds.render(h.clock.t + 0.5)
    assert pins(factory, 22, 23, 24) == (0.0, 1.0, 1.0)
    assert h.panel.led_state.colour == "green+blue"
    h.panel.show(patterns.CONNECTING)  # amber blink, 1 s period
    assert pins(factory, 22, 23, 24) == (1.0, 0.4, 0.0)
    leds.render(h.clock.t + 0.6)
    assert pins(factory, 22, 23, 24) == (0.0, 0.0, 0.0)
    h.panel.show(patterns.RECONNECTING)  # fast: 0.25 s period
    leds.render(h.clock.t + 0.2)
    assert pins(factory, 22) == (0.0,)
    leds.render(h.clock.t + 0.25)
    assert pins(factory, 22) == (1.0,)
    h.panel.show(patterns.IDLE)  # slow breathe: dark at 0, half at 1 s, full at 2 s
    assert pins(factory, 23) == (0.0,)
    leds.render(h.clock.t + 1.0)
    assert pins(factory, 23) == (0.5,)
    leds.render(h.clock.t + 2.0)
    assert pins(factory, 23) == (1.0,)
    h.panel.show(patterns.SCORING)
    leds.render(h.clock.t + 0.75)
    assert pins(factory, 22, 23, 24) == (1.0, 1.0, 1.0)
    h.panel.show(patterns.score("amber"))
    assert pins(factory, 22, 23, 24) == (1.0, 0.4, 0.0)
    assert h.panel.led_state == type(h.panel.led_state)("score", "amber", 0)
    await h.panel.close()
    assert pins(factory, 22, 23, 24) == (0.0, 0.0, 0.0)


async def test_the_button_has_no_polling_thread(factory: Any) -> None:
    from gpiozero.mixins import HoldThread

    h = await make(factory)
    assert not [t for t in threading.enumerate() if isinstance(t, HoldThread)]
    await h.panel.close()


class CountingPWMPin(MockPWMPin):
    """A mock PWM pin that counts the writes it is given, changed or not."""

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.writes = 0

    def _set_state(self, value: float) -> None:
        self.writes += 1
        super()._set_state(value)


async def test_a_breathe_writes_only_the_pin_it_changes() -> None:
    factory = MockFactory(pin_class=CountingPWMPin)
    try:
        h = await make(factory)
        h.panel.show(patterns.PERSONA_SPEAKING)  # solid green, blue pulse
        before = {n: factory.pin(n).writes for n in (22, 23, 24)}
        for step in range(1, 11):
            h.panel.leds.render(h.clock.t + step * 0.04)
        writes = {n: factory.pin(n).writes - before[n] for n in (22, 23, 24)}
        assert writes[22] == writes[23] == 0  # red and green held their levels
        assert writes[24] == 10
        await h.panel.close()
    finally:
        factory.reset()


@pytest.mark.parametrize("blinks", [1, 2, 4])
async def test_error_blink_code_counts(factory: Any, blinks: int) -> None:
    h = await make(factory)
    h.panel.show(patterns.error(blinks))
    assert h.panel.led_state.blinks == blinks
    cycle = blinks * 0.5 + 1.5
    on = 0
    previous = 0.0
    for step in range(int(cycle * 100)):  # one cycle, 10 ms steps
        h.panel.leds.render(h.clock.t + step / 100 + 0.005)
        level = float(factory.pin(22).state)
        on += level > previous
        previous = level
        assert float(factory.pin(23).state) == 0.0
    assert on == blinks
    await h.panel.close()


async def test_common_anode_rgb_is_inverted(factory: Any) -> None:
    h = await make(factory, leds=LedSection(active_high=False))
    h.panel.show(patterns.TALKING)
    assert pins(factory, 22, 23, 24) == (0.0, 1.0, 1.0)
    await h.panel.close()


async def test_separate_leds_amber_without_and_with_an_amber_led(factory: Any) -> None:
    h = await make(factory, leds=LedSection(mode="separate", red=5, green=6, blue=13))
    h.panel.show(patterns.CONNECTING)
    assert pins(factory, 5, 6, 13) == (1.0, 1.0, 0.0)
    h.panel.show(patterns.SCORING)
    h.panel.leds.render(h.clock.t + 0.75)
    assert pins(factory, 5, 6, 13) == (1.0, 1.0, 1.0)
    await h.panel.close()
    factory.reset()
    h = await make(factory, leds=LedSection(mode="separate", red=5, green=6, blue=None, amber=19))
    h.panel.show(patterns.CONNECTING)
    assert pins(factory, 5, 6, 19) == (0.0, 0.0, 1.0)
    h.panel.show(patterns.PERSONA_SPEAKING)  # no blue LED fitted: green alone
    h.panel.leds.render(h.clock.t + 0.5)
    assert pins(factory, 5, 6, 19) == (0.0, 1.0, 0.0)
    await h.panel.close()


async def test_plain_pins_without_pwm_show_on_off() -> None:
    factory = MockFactory()  # MockPin: no PWM
    try:
        h = await make(factory)
        h.panel.show(patterns.IDLE)
        h.panel.leds.render(h.clock.t + 0.5)
        assert not factory.pin(23).state
        h.panel.leds.render(h.clock.t + 2.0)
        assert factory.pin(23).state
        await h.panel.close()
    finally:
        factory.reset()


async def test_led_animation_runs_on_the_loop(factory: Any) -> None:
    loop = asyncio.get_running_loop()
    panel = open_panel(PanelSection(), loop, lambda e: None, factory=factory)
    panel.start()
    panel.show(patterns.RECONNECTING)
    seen: set[float] = set()

    async def until_both_levels() -> None:
        while len(seen) < 2:
            seen.add(float(factory.pin(22).state))
            await asyncio.sleep(0.01)

    await asyncio.wait_for(until_both_levels(), timeout=5)
    assert seen == {0.0, 1.0}
    await panel.close()


async def test_the_animator_keeps_one_timer_and_none_for_a_steady_pattern(factory: Any) -> None:
    loop = asyncio.get_running_loop()
    panel = open_panel(PanelSection(), loop, lambda e: None, factory=factory)
    panel.start()
    leds = panel.leds
    panel.show(patterns.RECONNECTING)  # a blink: its next edge is due
    first = leds._next_step
    assert first is not None and not first.cancelled()
    panel.show(patterns.PERSONA_SPEAKING)  # a new pattern replaces the pending step
    assert first.cancelled() and leds._next_step is not None
    panel.show(patterns.TALKING)  # solid: nothing to wake for
    assert leds._next_step is None
    panel.show(patterns.IDLE)
    pending = leds._next_step
    await panel.close()
    assert pending is not None and pending.cancelled() and leds._next_step is None


async def test_animator_steps_fall_on_the_wakeup_grid(factory: Any) -> None:
    """Steps share wake-ups with the daemon's other timers; one that fires a little early
    draws the frame it was due for, so no edge waits for a further wake-up."""
    h = await make(factory)
    h.clock.t = 100.0
    h.panel.start()
    leds = h.panel.leds
    h.panel.show(patterns.CONNECTING)  # amber blink: on for 0.5 s, then off
    step = leds._next_step
    assert step is not None
    assert math.isclose(step.when() / GRID, round(step.when() / GRID), abs_tol=1e-6)
    assert pins(factory, 22, 23) == (1.0, 0.4)
    step.cancel()
    h.clock.t = 100.49  # 10 ms before the edge
    leds._step()
    assert pins(factory, 22, 23) == (0.0, 0.0)  # the edge's frame, drawn now
    assert leds._next_at == 1.0  # and the next step is the next edge, not this one again
    await h.panel.close()


async def test_no_leds_mode_still_has_a_button(factory: Any) -> None:
    h = await make(factory, leds=LedSection(mode="none"))
    h.panel.show(patterns.TALKING)
    assert h.panel.led_state.pattern == "talking"
    assert "no LEDs" in h.panel.degraded
    assert float(factory.pin(22).state) == 0.0
    finger(factory, h.clock, 17, True, 100.0)
    assert await h.next() == "press"
    await h.panel.close()


async def test_disabled_panel_is_a_null_panel() -> None:
    loop = asyncio.get_running_loop()
    panel = open_panel(PanelSection(enabled=False), loop, lambda e: None)
    assert type(panel) is Panel and "disabled" in panel.degraded
    panel.show(patterns.SCORING)
    assert panel.led_state.pattern == "scoring"
    await panel.close()


async def test_no_gpio_at_all_gives_a_working_null_panel() -> None:
    loop = asyncio.get_running_loop()
    got: list[str] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # gpiozero warns about each factory it falls back from
        panel = open_panel(PanelSection(pin_factory="native"), loop, lambda e: got.append(e.kind))
    assert type(panel) is Panel and panel.degraded.startswith("no GPIO")
    # Edges from another source (a keyboard) still go through the same detection.
    panel.edge(True, 1.0)
    panel.edge(False, 1.1)
    panel.edge(True, 1.2)
    assert got == ["press", "release", "double_press"]
    await panel.close()


async def test_pins_busy_falls_back_to_null_panel(factory: Any) -> None:
    loop = asyncio.get_running_loop()
    first = open_panel(PanelSection(), loop, lambda e: None, factory=factory)
    second = open_panel(PanelSection(), loop, lambda e: None, factory=factory)
    assert isinstance(first, GpioPanel) and type(second) is Panel
    assert "GPIO" in second.degraded
    await first.close()


def test_patterns_say_when_they_next_change() -> None:
    """The animator wakes at a blink's edges and a breathe's steps only, never for solid."""

    def changes(pattern: patterns.LedPattern, until: float) -> list[float]:
        out: list[float] = []
        t: float | None = 0.0
        while t is not None and t < until:
            t = pattern.next_change(t)
            if t is not None and t < until:
                out.append(round(t, 6))
        return out

    assert changes(patterns.LISTENING, 10.0) == []
    assert changes(patterns.CONNECTING, 2.1) == [0.5, 1.0, 1.5, 2.0]
    assert changes(patterns.error(2), 5.3) == [0.2, 0.5, 0.7, 2.5, 2.7, 3.0, 3.2, 5.0, 5.2]
    idle = changes(patterns.IDLE, 4.0)  # 4 s breathe: 8 steps a second
    assert len(idle) == 31 and idle[0] == 0.125
    assert len(changes(patterns.PERSONA_SPEAKING, 1.0)) == 19  # 1 s breathe: 20 a second
    # Every level change of a blink falls on an edge it reports.
    wave = patterns.error(3).components[0][1]
    edges = set(changes(patterns.error(3), 6.0))
    for step in range(1, 6000):
        t = step / 1000
        if wave.level(t) != wave.level(t - 0.001):
            assert any(abs(t - e) < 0.0015 for e in edges), t
