"""Wiring presets: every shipped preset validates, and applies over a config's pins."""

from __future__ import annotations

from pathlib import Path

import pytest

from booth.config import ConfigError, parse_config
from booth.ops.presets import CHECKOUT_DIR, apply_preset, available, load_preset

DIRS = [CHECKOUT_DIR]


def test_shipped_presets() -> None:
    assert {"button-rgb", "respeaker-2mic"} <= set(available(DIRS))
    for name in available(DIRS):
        assert "button_pin" in load_preset(name, DIRS)


def test_button_rgb_applies_its_pins() -> None:
    config = parse_config({"panel": {"preset": "button-rgb", "button_pin": 5, "talk_mode": "open"}})
    applied = apply_preset(config, DIRS)
    assert applied.panel.button_pin == 17
    assert (applied.panel.leds.red, applied.panel.leds.green, applied.panel.leds.blue) == (
        22,
        23,
        24,
    )
    assert applied.panel.talk_mode == "open"  # not a pin: the config's own value stays


def test_respeaker_button_is_gpio17_without_gpio_leds() -> None:
    applied = apply_preset(parse_config({"panel": {"preset": "respeaker-2mic"}}), DIRS)
    assert applied.panel.button_pin == 17
    assert applied.panel.leds.mode == "none"


def test_no_preset_leaves_config_alone() -> None:
    config = parse_config({"panel": {"button_pin": 5}})
    assert apply_preset(config, DIRS) is config


def test_unknown_preset_names_the_available_ones() -> None:
    with pytest.raises(ConfigError, match=r"no preset named 'nope'.*button-rgb"):
        apply_preset(parse_config({"panel": {"preset": "nope"}}), DIRS)


def test_preset_outside_panel_is_refused(tmp_path: Path) -> None:
    (tmp_path / "bad.toml").write_text('[service]\napi_url = "http://127.0.0.1:1"\n')
    with pytest.raises(ConfigError, match=r"only set \[panel\]"):
        load_preset("bad", [tmp_path])


def test_preset_with_a_bad_value_names_its_file(tmp_path: Path) -> None:
    (tmp_path / "typo.toml").write_text("[panel]\nbuton_pin = 4\n")
    with pytest.raises(ConfigError) as err:
        load_preset("typo", [tmp_path])
    assert "typo.toml" in str(err.value) and "button_pin" in str(err.value)


def test_preset_dir_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "mine.toml").write_text("[panel]\nbutton_pin = 4\n")
    monkeypatch.setenv("BOOTH_PRESETS_DIR", str(tmp_path))
    config = parse_config({"panel": {"preset": "mine"}})
    assert apply_preset(config).panel.button_pin == 4
