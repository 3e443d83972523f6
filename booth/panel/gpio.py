"""The panel adapter: gpiozero button and LEDs, bridged into asyncio.

gpiozero calls back on its own threads; every edge is stamped with the time it was seen and
handed to the loop with ``loop.call_soon_threadsafe``, where the pure ``ButtonDetector`` turns
edges into gestures. LED patterns are rendered from the loop (``LedAnimator``), so the LED
shown is always the one the daemon last asked for and tests can read it back exactly.

``open_panel`` never fails: with ``panel.enabled = false``, LEDs mode ``none`` or no usable GPIO
it returns a panel whose missing parts do nothing, and says why in ``Panel.degraded``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from booth.config import LedSection, PanelSection
from booth.panel import patterns
from booth.panel.button import ButtonDetector, ButtonEvent
from booth.panel.patterns import ColourName, LedPattern
from booth.wakeups import on_grid

log = logging.getLogger(__name__)

HOLD_TIME = 1.0

Clock = Callable[[], float]
ButtonCallback = Callable[[ButtonEvent], None]


@dataclass(frozen=True)
class LedState:
    """What the LEDs show now: the pattern's name, its colours, and the error blink count."""

    pattern: str
    colour: str
    blinks: int = 0


class LedOutput(Protocol):
    def apply(self, frame: dict[ColourName, float]) -> None: ...

    def close(self) -> None: ...


class NoLeds:
    def apply(self, frame: dict[ColourName, float]) -> None:
        pass

    def close(self) -> None:
        pass


def _on_off(level: float) -> float:
    return 1.0 if level >= 0.5 else 0.0


class _PinLeds:
    """One gpiozero LED per fitted colour pin (PWM where the pin allows it, on/off
    otherwise); ``write`` writes only the pins whose level changed: a write goes through
    several gpiozero layers, and a breathe changes one colour at up to 20 steps a second."""

    def __init__(self, cfg: LedSection, pins: dict[ColourName, object], factory: Any) -> None:
        from gpiozero import LED, PWMLED
        from gpiozero.exc import PinPWMUnsupported

        self._leds: dict[ColourName, Any] = {}
        self._pwm: dict[ColourName, bool] = {}
        try:
            for colour, pin in pins.items():
                if pin is None:
                    continue
                try:
                    self._leds[colour] = PWMLED(
                        pin, active_high=cfg.active_high, pin_factory=factory
                    )
                    self._pwm[colour] = True
                except PinPWMUnsupported:
                    self._leds[colour] = LED(pin, active_high=cfg.active_high, pin_factory=factory)
                    self._pwm[colour] = False
        except Exception:
            self.close()
            raise
        self.fitted = frozenset(self._leds)
        self._last: dict[ColourName, float] = {}

    def write(self, levels: dict[ColourName, float]) -> None:
        for colour, level in levels.items():
            pwm = self._pwm[colour]
            value = level if pwm else _on_off(level)
            if self._last.get(colour) != value:  # a pin write costs more than the comparison
                self._leds[colour].value = value if pwm else bool(value)
                self._last[colour] = value

    def close(self) -> None:
        for led in self._leds.values():
            with contextlib.suppress(Exception):
                led.close()
        self._leds.clear()


class RgbLed:
    """One RGB LED: its three colour pins, each frame mixed onto them (``patterns.rgb_of``)."""

    def __init__(self, cfg: LedSection, factory: Any) -> None:
        if cfg.red is None or cfg.green is None or cfg.blue is None:
            raise ValueError("panel.leds: rgb mode needs red, green and blue pins")
        self._pins = _PinLeds(cfg, {"red": cfg.red, "green": cfg.green, "blue": cfg.blue}, factory)

    def apply(self, frame: dict[ColourName, float]) -> None:
        r, g, b = patterns.rgb_of(frame)
        self._pins.write({"red": r, "green": g, "blue": b})

    def close(self) -> None:
        self._pins.close()


class SeparateLeds:
    """One LED per colour, any subset of red/green/blue/amber/white fitted."""

    def __init__(self, cfg: LedSection, factory: Any) -> None:
        pins: dict[ColourName, object] = {
            "red": cfg.red,
            "green": cfg.green,
            "blue": cfg.blue,
            "amber": cfg.amber,
            "white": cfg.white,
        }
        self._pins = _PinLeds(cfg, pins, factory)
        self.fitted = self._pins.fitted

    def apply(self, frame: dict[ColourName, float]) -> None:
        self._pins.write(patterns.separate_of(frame, self.fitted))

    def close(self) -> None:
        self._pins.close()


class LedAnimator:
    """Holds the current pattern and renders its frames onto an ``LedOutput``."""

    def __init__(self, output: LedOutput, clock: Clock = time.monotonic) -> None:
        self.output = output
        self._clock = clock
        self.pattern: LedPattern = patterns.OFF
        self._since = clock()
        self._failed = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._next_step: asyncio.TimerHandle | None = None
        self._next_at = 0.0  # the pattern time the pending step draws

    @property
    def state(self) -> LedState:
        p = self.pattern
        return LedState(p.name, p.colour, p.blinks)

    def show(self, pattern: LedPattern) -> None:
        if pattern == self.pattern:
            return
        self.pattern = pattern
        self._since = self._clock()
        self.render(self._since)
        self._plan(self._since)

    def render(self, now: float) -> None:
        """Drive the LEDs to the current pattern's frame at ``now``."""
        try:
            self.output.apply(self.pattern.frame(now - self._since))
        except Exception:
            # A failing LED must never take the call down; say it once.
            if not self._failed:
                log.exception("LED output failed; the booth carries on without LEDs")
                self._failed = True

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        """Animate on ``loop`` from now on."""
        self._loop = loop
        self._plan(self._clock())

    def stop(self) -> None:
        self._loop = None
        self._plan(self._clock())

    def _plan(self, now: float) -> None:
        """One timer for the pattern's next change (a blink's edge, a breathe's next step:
        see ``Wave.next_change``), none while it is steady: a step costs a timer callback,
        not a task waking and a timeout raised."""
        if self._next_step is not None:
            self._next_step.cancel()
            self._next_step = None
        if self._loop is None:
            return
        at = self.pattern.next_change(now - self._since)
        if at is None:
            return
        # On the wake-up grid, so the steps share wake-ups with the daemon's other timers.
        # The timer may fire up to half a grid step early: the step then draws the frame
        # of ``at`` itself (see _step), not the one before it.
        t = self._loop.time()
        self._next_at = at
        self._next_step = self._loop.call_at(on_grid(t + self._since + at - now, t), self._step)

    def _step(self) -> None:
        self._next_step = None
        now = self._clock()
        drawn = max(now, self._since + self._next_at)  # late: now; early: the frame due
        self.render(drawn)
        self._plan(drawn)


class Panel:
    """Button gestures in (on the loop), LED patterns out. The base class has no GPIO button:
    ``edge()`` feeds it from any source (a keyboard, a test)."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        on_button: ButtonCallback,
        leds: LedOutput | None = None,
        *,
        bounce_ms: int = 20,
        double_press_ms: int = 400,
        clock: Clock = time.monotonic,
        degraded: str = "",
    ) -> None:
        self.loop = loop
        self.clock = clock
        self.detector = ButtonDetector(bounce_ms / 1000, double_press_ms / 1000, HOLD_TIME)
        self.leds = LedAnimator(leds or NoLeds(), clock)
        self.degraded = degraded  # why a part is missing, for the log and `booth doctor`
        self._on_button = on_button
        self._timers: list[asyncio.TimerHandle] = []

    @property
    def led_state(self) -> LedState:
        return self.leds.state

    def show(self, pattern: LedPattern) -> None:
        self.leds.show(pattern)

    def start(self) -> None:
        self.leds.start(self.loop)

    def edge(self, pressed: bool, at: float) -> None:
        """A raw edge, on the loop thread."""
        before = self.detector.pressed
        events = self.detector.edge(pressed, at)
        if not events and pressed != before:
            # Swallowed as bounce: read the real level once the window is over.
            self._later(self.detector.settle_due() - at, self._settle)
        for event in events:
            if event.kind in ("press", "double_press"):
                self._later(self.detector.hold, self._check_hold)
            self._deliver(event)

    def edge_threadsafe(self, pressed: bool) -> None:
        """From any thread (gpiozero's): stamp the edge now and hand it to the loop."""
        at = self.clock()
        with contextlib.suppress(RuntimeError):  # loop closed during shutdown
            self.loop.call_soon_threadsafe(self.edge, pressed, at)

    def read_level(self) -> bool | None:
        """The button's real level, when there is a button to read."""
        return None

    def _settle(self) -> None:
        level = self.read_level()
        if level is None:
            return
        for event in self.detector.settle(level, self.clock()):
            self._deliver(event)

    def _check_hold(self) -> None:
        for event in self.detector.tick(self.clock()):
            self._deliver(event)

    def _later(self, delay: float, callback: Callable[[], None]) -> None:
        self._timers = [t for t in self._timers if not t.cancelled()]
        self._timers.append(self.loop.call_later(max(0.0, delay), callback))

    def _deliver(self, event: ButtonEvent) -> None:
        try:
            self._on_button(event)
        except Exception:
            log.exception("button handler failed on %s", event.kind)

    async def close(self) -> None:
        for timer in self._timers:
            timer.cancel()
        self.leds.stop()
        with contextlib.suppress(Exception):
            self.leds.output.apply({})
        self.leds.output.close()


class GpioPanel(Panel):
    """The real panel: the button's pin as a gpiozero input (our own debounce and hold) plus
    the configured LEDs."""

    def __init__(
        self,
        cfg: PanelSection,
        loop: asyncio.AbstractEventLoop,
        on_button: ButtonCallback,
        factory: Any,
        *,
        clock: Clock = time.monotonic,
    ) -> None:
        from gpiozero import DigitalInputDevice

        leds: LedOutput = NoLeds()
        degraded = ""
        if cfg.leds.mode == "rgb":
            leds = RgbLed(cfg.leds, factory)
        elif cfg.leds.mode == "separate":
            leds = SeparateLeds(cfg.leds, factory)
        else:
            degraded = "no LEDs (panel.leds.mode = none)"
        super().__init__(
            loop,
            on_button,
            leds,
            bounce_ms=cfg.bounce_ms,
            double_press_ms=cfg.double_press_ms,
            clock=clock,
            degraded=degraded,
        )
        try:
            # bounce_time=None: gpiozero's debounce differs per factory; ours is uniform. Not
            # gpiozero's Button: its hold thread wakes 10 times a second for a hold we detect.
            self.button = DigitalInputDevice(
                cfg.button_pin, pull_up=cfg.button_pull_up, bounce_time=None, pin_factory=factory
            )
        except Exception:
            leds.close()
            raise
        self.button.when_activated = lambda: self.edge_threadsafe(True)
        self.button.when_deactivated = lambda: self.edge_threadsafe(False)

    def read_level(self) -> bool | None:
        return bool(self.button.is_active)

    async def close(self) -> None:
        self.button.when_activated = None
        self.button.when_deactivated = None
        await super().close()
        self.button.close()


def make_pin_factory(name: str) -> Any:
    """The gpiozero pin factory for ``panel.pin_factory`` (None: gpiozero's own choice)."""
    if name == "auto":
        return None
    if name == "mock":
        from gpiozero.pins.mock import MockFactory, MockPWMPin

        return MockFactory(pin_class=MockPWMPin)
    if name == "lgpio":
        from gpiozero.pins.lgpio import LGPIOFactory

        return LGPIOFactory()
    if name == "rpigpio":
        from gpiozero.pins.rpigpio import RPiGPIOFactory

        return RPiGPIOFactory()
    from gpiozero.pins.native import NativeFactory

    return NativeFactory()


def open_panel(
    cfg: PanelSection,
    loop: asyncio.AbstractEventLoop,
    on_button: ButtonCallback,
    *,
    factory: Any = None,
    clock: Clock = time.monotonic,
) -> Panel:
    """The configured panel, or a null panel that says why (never raises)."""
    if not cfg.enabled:
        return Panel(loop, on_button, clock=clock, degraded="panel disabled (panel.enabled)")
    try:
        if factory is None:
            factory = make_pin_factory(cfg.pin_factory)
        return GpioPanel(cfg, loop, on_button, factory, clock=clock)
    except Exception as exc:
        reason = f"no GPIO ({exc.__class__.__name__}: {exc})"
        log.warning("panel unavailable, running without button and LEDs: %s", reason)
        return Panel(loop, on_button, clock=clock, degraded=reason)
