"""The repository carries its own design: nothing in it points outside it, and its links resolve."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Generated or local-only trees (as .gitignore lists them): not part of the project.
SKIP_DIRS = frozenset(
    {
        ".git",
        ".venv",
        "__pycache__",
        ".pytest_cache",
        ".mypy_cache",
        ".ruff_cache",
        ".hypothesis",
        "build",
        "dist",
        "booth-demo",
        "out",
    }
)
# Spelled in pieces so that this file (and a grep for them) does not match itself.
_DOC = "design".upper()
OUTSIDE = tuple(
    re.compile(pattern)
    for pattern in (
        r"\.\./" + "shared",
        "/work/" + "shared",
        _DOC + r"\.md",
        _DOC + r" §",
        "steering " + "repository",
    )
)
MARKDOWN_LINK = re.compile(r"\]\(([^)\s]+)\)")


def _project_files() -> list[Path]:
    files = []
    for folder, dirs, names in os.walk(ROOT):
        dirs[:] = [d for d in dirs if d not in SKIP_DIRS and not d.endswith(".egg-info")]
        files.extend(Path(folder, name) for name in names)
    return sorted(files)


def _pointers_outside(text: str) -> list[str]:
    return [m[0] for pattern in OUTSIDE for m in pattern.finditer(text)]


def test_the_check_sees_a_pointer_outside() -> None:
    assert _pointers_outside("see [the design](../" + "shared" + "/" + _DOC + ".md) §2")
    assert _pointers_outside("# the codes of " + _DOC + " §3")
    assert not _pointers_outside("see [the protocol](docs/protocol.md) §2")


def test_no_file_points_outside_the_repository() -> None:
    offenders = []
    for path in _project_files():
        text = path.read_bytes().decode("utf-8", errors="replace")
        for hit in _pointers_outside(text):
            offenders.append(f"{path.relative_to(ROOT)}: {hit}")
    assert not offenders, "point inside the repository (docs/) instead:\n" + "\n".join(offenders)


@pytest.mark.parametrize("document", ["README.md", "docs/protocol.md", "docs/architecture.md"])
def test_markdown_links_resolve_inside_the_repository(document: str) -> None:
    source = ROOT / document
    broken = []
    for target in MARKDOWN_LINK.findall(source.read_text(encoding="utf-8")):
        if target.startswith(("http://", "https://", "mailto:", "#")):
            continue
        path = (source.parent / target.split("#", 1)[0]).resolve()
        if not path.is_relative_to(ROOT) or not path.exists():
            broken.append(target)
    assert not broken, f"{document}: links that leave the repository or lead nowhere: {broken}"


def test_readme_links_the_design_documents() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    head = readme[: readme.index("## Quick start")]
    for document in ("docs/protocol.md", "docs/architecture.md"):
        assert f"]({document})" in head, f"the README's introduction should link {document}"
