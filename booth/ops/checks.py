"""One check's result: a `booth doctor` row, also how the daemon reports its devices.

Apart from booth.ops.doctor so that the daemon, which reports device rows over its control
socket, does not load the doctor and what it imports.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Status = Literal["pass", "warn", "fail", "skip"]


@dataclass
class Check:
    name: str
    status: Status
    detail: str
    fix: str = ""
