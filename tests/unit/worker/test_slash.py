"""What became of Claude Code's own slash commands, read from real screens of the CLI."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.support.real_screens import ScreenSet, screen_sets
from vai.worker.screen import conversation_lines, read_screen
from vai.worker.turns.slash import SlashOutcome, slash_outcome

Outcome = Callable[[str, str], tuple[str, str]]


@pytest.fixture(params=screen_sets(), ids=lambda screens: screens.version)
def outcome(request: pytest.FixtureRequest) -> Outcome:
    """What became of `command` on the screen `name` (each CLI version's capture)."""
    screens: ScreenSet = request.param

    def read(command: str, name: str) -> tuple[str, str]:
        pane = screens.text(name.removesuffix(".txt"))
        result = slash_outcome(command, conversation_lines(pane), read_screen(pane).dialog)
        return result.stage, result.detail

    return read


def test_what_the_real_cli_printed_is_the_confirmation(outcome: Outcome) -> None:
    assert outcome("/compact", "slash_compact.txt") == (
        "done",
        "Claude Code ran `/compact`: Not enough messages to compact.",
    )
    assert outcome("/clear", "slash_clear.txt") == ("done", "Claude Code ran `/clear`.")
    stage, detail = outcome("/cost", "slash_cost_panel.txt")
    assert stage == "done" and detail.startswith("Claude Code ran `/cost` and shows a panel")


def test_an_unknown_command_fails_with_the_clis_own_words(outcome: Outcome) -> None:
    assert outcome("/frobnicate", "slash_unknown.txt") == (
        "failed",
        "Claude Code says: Unknown command: /frobnicate",
    )
    # An older unknown command on screen is not this one's.
    assert outcome("/clear", "slash_unknown.txt")[0] == "done"


def test_the_stand_ins_screens() -> None:
    above = ["", "> hello", "", "⏺ echo: hello", "", "> /frobnicate"]
    unknown = [*above, "  ⎿  Unknown slash command: frobnicate"]
    assert slash_outcome("/frobnicate", unknown) == SlashOutcome(
        "failed", "Claude Code says: Unknown slash command: frobnicate"
    )
    cleared = slash_outcome("/clear", ["", "> /clear"])
    assert (cleared.stage, cleared.detail) == ("done", "Claude Code ran `/clear`.")
    printed = slash_outcome("/cost", ["> /cost", "  ⎿  Total cost: $0.00", "     `tick`"])
    assert printed.detail == "Claude Code ran `/cost`: Total cost: $0.00\n'tick'"
