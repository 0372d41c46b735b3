"""One check's result: ok, warn (works, but not as it should) or fail (will not work, or
is not safe), with the fix to say and, when it is safe, the repair `--fix` applies."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

Level = Literal["ok", "warn", "fail"]


@dataclass
class Finding:
    level: Level
    text: str
    fix: str = ""
    repair: Callable[[], None] | None = field(default=None, repr=False)


def ok(text: str) -> Finding:
    return Finding("ok", text)


def warn(text: str, fix: str = "", repair: Callable[[], None] | None = None) -> Finding:
    return Finding("warn", text, fix, repair)


def fail(text: str, fix: str = "", repair: Callable[[], None] | None = None) -> Finding:
    return Finding("fail", text, fix, repair)
