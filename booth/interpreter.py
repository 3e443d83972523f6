"""The command line that runs one of our modules in a child Python process."""

from __future__ import annotations

import sys


def module_command(module: str, *args: str) -> list[str]:
    """``python -P -m module args...`` with this interpreter. ``-P`` keeps the working
    directory off ``sys.path``: run from a directory that holds another ``booth/`` (a clone, a
    worktree), ``-m`` would otherwise import that one instead of the package this process runs."""
    return [sys.executable, "-P", "-m", module, *args]
