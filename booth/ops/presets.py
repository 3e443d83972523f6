"""Wiring presets: named TOML files whose [panel] values replace the config's pins.

A preset file holds a ``[panel]`` table (and ``[panel.leds]``) in booth.toml's own schema, so
it is validated by the same loader and reports errors the same way (``FILE: KEY: PROBLEM``).
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from booth.config import Config, ConfigError, parse_config

#: Searched in order: $BOOTH_PRESETS_DIR, what provisioning installs, the source checkout.
INSTALLED_DIR = Path("/etc/booth/presets")
CHECKOUT_DIR = Path(__file__).resolve().parents[2] / "config" / "presets"
_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")


def search_path(environ: dict[str, str] | None = None) -> list[Path]:
    env = os.environ if environ is None else environ
    dirs = [Path(env["BOOTH_PRESETS_DIR"])] if env.get("BOOTH_PRESETS_DIR") else []
    return [*dirs, INSTALLED_DIR, CHECKOUT_DIR]


def available(dirs: Iterable[Path] | None = None) -> list[str]:
    names: set[str] = set()
    for d in search_path() if dirs is None else dirs:
        if d.is_dir():
            names.update(p.stem for p in d.glob("*.toml"))
    return sorted(names)


def find_preset(name: str, dirs: Iterable[Path] | None = None) -> Path:
    dirs = list(search_path() if dirs is None else dirs)
    if not _NAME.fullmatch(name):
        raise ConfigError("<preset>", "panel.preset", f"{name!r} is not a preset name")
    for d in dirs:
        candidate = d / f"{name}.toml"
        if candidate.is_file():
            return candidate
    known = ", ".join(available(dirs)) or "none found"
    raise ConfigError("<preset>", "panel.preset", f"no preset named {name!r} (available: {known})")


def load_preset(name: str, dirs: Iterable[Path] | None = None) -> dict[str, Any]:
    """The preset's ``panel`` table, validated against the config schema."""
    path = find_preset(name, dirs)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(path, "(syntax)", str(exc)) from None
    if set(data) - {"panel"}:
        extra = ", ".join(sorted(set(data) - {"panel"}))
        raise ConfigError(path, extra, "a preset may only set [panel] keys")
    parse_config(data, path)  # schema check: raises ConfigError naming the preset file
    panel: dict[str, Any] = data.get("panel", {})
    return panel


def apply_preset(config: Config, dirs: Iterable[Path] | None = None) -> Config:
    """``config`` with its preset's pins applied (unchanged when no preset is set)."""
    name = config.panel.preset
    if not name:
        return config
    table = load_preset(name, dirs)
    leds_table = table.get("leds", {})
    # Rebuild through the loader so the merged panel is validated as one.
    merged_panel = {**_as_table(config.panel), **{k: v for k, v in table.items() if k != "leds"}}
    merged_panel["leds"] = {**_as_table(config.panel.leds), **leds_table}
    panel = parse_config({"panel": merged_panel}, config.source).panel
    return dataclasses.replace(config, panel=panel)


def _as_table(section: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in dataclasses.fields(section):
        value = getattr(section, f.name)
        if dataclasses.is_dataclass(value):
            continue
        if value is not None:
            out[f.name] = value
    return out
