"""Roleplay drills: TOML files (one per drill) describing the persona and what it says."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DIFFICULTIES = ("Beginner", "Advanced", "Elite")
DEFAULT_DRILLS_DIR = Path(__file__).resolve().parents[2] / "config" / "drills"


class DrillError(ValueError):
    """A drill file that cannot be used: names the file and the problem."""


@dataclass(frozen=True)
class Script:
    """What the persona says at one difficulty."""

    lines: tuple[str, ...]
    objections: tuple[str, ...]
    objection_every: int  # every n-th reply is an objection (1 = all of them)

    def reply(self, index: int) -> str:
        """The persona's reply after the rep's ``index``-th turn (0-based); cycles forever."""
        n = index + 1
        if self.objections and (not self.lines or n % self.objection_every == 0):
            return self.objections[(n // self.objection_every - 1) % len(self.objections)]
        if not self.lines:
            return "Go on."
        used_objections = n // self.objection_every if self.objections else 0
        return self.lines[(n - used_objections - 1) % len(self.lines)]


@dataclass(frozen=True)
class Drill:
    key: str
    title: str
    persona_name: str
    voice: str
    opening: str
    closing: str
    default_difficulty: str
    scripts: dict[str, Script]

    def script(self, difficulty: str | None) -> Script:
        level = difficulty or self.default_difficulty
        return self.scripts.get(level) or self.scripts[self.default_difficulty]


def _str(data: dict[str, Any], key: str, where: str, default: str | None = None) -> str:
    value = data.get(key, default)
    if not isinstance(value, str) or not value.strip():
        raise DrillError(f"{where}: {key} must be a non-empty string")
    return value.strip()


def _strings(data: dict[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise DrillError(f"{where}: {key} must be a list of non-empty strings")
    return tuple(v.strip() for v in value)


def parse_drill(data: dict[str, Any], where: str) -> Drill:
    key = _str(data, "drillKey", where)
    persona = data.get("persona")
    if not isinstance(persona, dict):
        raise DrillError(f"{where}: a [persona] table is required")
    levels = data.get("difficulty")
    if not isinstance(levels, dict) or not levels:
        raise DrillError(f"{where}: at least one [difficulty.<level>] table is required")
    scripts: dict[str, Script] = {}
    for level, table in levels.items():
        at = f"{where}: difficulty.{level}"
        if level not in DIFFICULTIES:
            raise DrillError(f"{at}: level must be one of {', '.join(DIFFICULTIES)}")
        if not isinstance(table, dict):
            raise DrillError(f"{at}: must be a table")
        every = table.get("objection_every", 2)
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise DrillError(f"{at}: objection_every must be an integer ≥ 1")
        script = Script(_strings(table, "lines", at), _strings(table, "objections", at), every)
        if not script.lines and not script.objections:
            raise DrillError(f"{at}: needs lines or objections")
        scripts[level] = script
    default = data.get("default_difficulty", next(iter(scripts)))
    if default not in scripts:
        raise DrillError(f"{where}: default_difficulty {default!r} has no [difficulty] table")
    return Drill(
        key=key,
        title=_str(data, "title", where, key),
        persona_name=_str(persona, "name", f"{where}: persona"),
        voice=_str(persona, "voice", f"{where}: persona", "en-us"),
        opening=_str(persona, "opening", f"{where}: persona"),
        closing=_str(persona, "closing", f"{where}: persona", "Thanks. Goodbye."),
        default_difficulty=default,
        scripts=scripts,
    )


def load_drills(directory: Path) -> dict[str, Drill]:
    """Every ``*.toml`` drill in ``directory``, by drill key."""
    if not directory.is_dir():
        raise DrillError(f"{directory}: not a directory of drill files")
    drills: dict[str, Drill] = {}
    for path in sorted(directory.glob("*.toml")):
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise DrillError(f"{path}: {exc}") from None
        drill = parse_drill(data, str(path))
        if drill.key in drills:
            raise DrillError(f"{path}: drillKey {drill.key!r} is defined twice")
        drills[drill.key] = drill
    if not drills:
        raise DrillError(f"{directory}: no *.toml drill files")
    return drills
