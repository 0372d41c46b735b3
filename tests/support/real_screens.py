"""The real CLI's screens (tests/fixtures/real_screens): the pinned version's at the top level,
other versions' in a subfolder named after the version (tests/support/capture_real_screens.py
writes there when the CLI is not the pinned one). Tests of the screen reader run on every set.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tests.support.claude_versions import pinned_version
from vai.worker.screen import Screen, read_screen

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "real_screens"


@dataclass(frozen=True)
class ScreenSet:
    """One CLI version's captured screens."""

    folder: Path
    version: str

    def text(self, name: str) -> str:
        return (self.folder / f"{name}.txt").read_text()

    def __call__(self, name: str) -> Screen:
        return read_screen(self.text(name))

    def names(self) -> set[str]:
        return {path.stem for path in self.folder.glob("*.txt")}


def screen_sets() -> list[ScreenSet]:
    """The pinned version's screens first, then each other version's."""
    others = sorted(path for path in FIXTURES.iterdir() if path.is_dir())
    return [ScreenSet(FIXTURES, pinned_version())] + [ScreenSet(p, p.name) for p in others]
