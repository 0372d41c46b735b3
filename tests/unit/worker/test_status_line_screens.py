"""worker/screen.py with an operator's status line under the input box (the real CLI
2.1.330's screens, captured by tests/integration/worker/test_real_claude_status_line.py
with VAI_SAVE_SCREENS=1): the extra line changes nothing the reader relies on."""

from __future__ import annotations

from pathlib import Path

import pytest

from vai.worker.screen import read_screen

SCREENS = Path(__file__).resolve().parents[2] / "fixtures" / "status_line_screens"
LINE = "operator-line: all good"


@pytest.mark.parametrize(
    ("name", "state", "shows_line"),
    [("idle", "idle", True), ("busy", "busy", True), ("permission_bash", "permission", False)],
)
def test_screens_with_a_status_line_read_as_without(
    name: str, state: str, shows_line: bool
) -> None:
    text = (SCREENS / f"{name}.txt").read_text()
    assert (LINE in text) is shows_line  # a dialog takes the status line's place
    screen = read_screen(text)
    assert screen.state == state
    assert screen.input_text == "" and not screen.shell_mode and not screen.exit_armed
    if state == "permission":
        assert screen.kind and "Yes" in screen.options[0]
