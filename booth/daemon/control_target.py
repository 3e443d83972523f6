"""The running booth as a :class:`booth.daemon.control.ControlTarget`.

Button inputs from the control socket go where the GPIO button's gestures go
(``BoothApp.on_button``); status and device rows are read from the machine, the panel and the
audio adapters. The device check opens the mic and speaker only while no call holds them.
"""

from __future__ import annotations

import asyncio
import os
from typing import TYPE_CHECKING

from booth.daemon import machine as m
from booth.daemon.control import DeviceRow, Status
from booth.panel.button import ButtonEvent, ButtonKind

if TYPE_CHECKING:
    from booth.daemon.app import BoothApp

_MIC_CODES = frozenset({"NO_MIC_AVAILABLE", "MIC_DEVICE_DISCONNECTED", "MIC_PERMISSION_DENIED"})
_SPEAKER_CODES = frozenset({"AUDIO_PLAYBACK_BLOCKED"})


class AppControl:
    def __init__(self, app: BoothApp) -> None:
        self.app = app

    # ── inputs: the button's gestures ────────────────────────────────────────────────────
    def _gesture(self, kind: ButtonKind) -> None:
        self.app.on_button(ButtonEvent(kind, self.app.clock()))

    def press(self) -> None:
        self._gesture("press")

    def release(self) -> None:
        self._gesture("release")

    def double_press(self) -> None:
        self._gesture("double_press")

    def start_test_call(self) -> None:
        """A call as a tap starts it: the persona opens, the mic stays closed until a press.
        Wherever the button would start one (idle, the score on show, an error to retry)."""
        if self.app.machine.state not in m.CALL_STATES:
            self.press()
            self.release()

    def end_call(self) -> None:
        if self.app.machine.state in m.CALL_STATES:
            self.double_press()

    # ── what the booth is doing ──────────────────────────────────────────────────────────
    def status(self) -> Status:
        app = self.app
        machine = app.machine
        in_call = machine.state in m.CALL_STATES
        call = machine.call
        return Status(
            booth_id=app.config.booth.id,
            state=str(machine.state),
            status=machine.status_text(app.clock()),
            call_id=(call.call_id or None) if in_call else None,
            persona=(call.persona or None) if in_call else None,
            last_summary=app.summaries[-1].journal_fields() if app.summaries else None,
            devices=self.device_rows(),
            pid=os.getpid(),
        )

    def device_rows(self) -> list[DeviceRow]:
        """Cheap rows from what the daemon already knows (no device is opened)."""
        return [*self._audio_rows(), self._gpio_row()]

    def _audio_rows(self) -> list[DeviceRow]:
        app = self.app
        audio = app.config.audio
        code = app.machine.error_code if app.machine.state is m.State.ERROR else ""
        rows = []
        for name, pattern, codes in (
            ("mic", audio.input_device, _MIC_CODES),
            ("speaker", audio.output_device, _SPEAKER_CODES),
        ):
            wanted = repr(pattern) if pattern else "the default device"
            if code in codes:
                fix = "plug it in (the booth finds it again by itself), or pick it in booth.toml"
                rows.append(DeviceRow(name, "fail", f"{code} ({wanted})", fix))
            elif app.machine.state in m.CALL_STATES:
                rows.append(DeviceRow(name, "pass", f"in use by the call ({wanted})"))
            else:
                rows.append(DeviceRow(name, "pass", f"{wanted}: opened for each call"))
        return rows

    def _gpio_row(self) -> DeviceRow:
        panel = self.app.panel
        panel_cfg = self.app.config.panel
        if panel is None:
            return DeviceRow("gpio", "skip", "the panel is not up yet")
        if not panel_cfg.enabled:
            return DeviceRow("gpio", "skip", "panel.enabled = false: no button or LEDs")
        button = getattr(panel, "button", None)
        if button is None:
            return DeviceRow(
                "gpio",
                "fail",
                panel.degraded or "no button",
                "see the daemon's panel_degraded record (journalctl -u booth EVENT=panel_degraded)",
            )
        factory = type(button.pin_factory).__name__
        detail = f"button {panel_cfg.button_pin} held by the daemon via {factory}"
        if panel.degraded:
            return DeviceRow("gpio", "warn", f"{detail}; {panel.degraded}")
        return DeviceRow("gpio", "pass", detail)

    async def check_devices(self) -> list[DeviceRow]:
        """`booth doctor`'s mic and speaker checks, run by the daemon itself (its user, its
        devices), while no call holds them; the GPIO row is the daemon's own pins."""
        app = self.app
        if app.machine.state in m.CALL_STATES:
            return self.device_rows()
        from booth.daemon.audio_io import portaudio_lock
        from booth.ops import doctor

        ctx = doctor.Context(config_path=None, config=app.config)
        async with portaudio_lock():
            checks = await asyncio.get_running_loop().run_in_executor(None, doctor.check_audio, ctx)
        return [*checks, self._gpio_row()]
