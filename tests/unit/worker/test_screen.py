"""worker/screen.py against the real CLI's screens (tests/fixtures/real_screens: the pinned
Claude Code 2.1.330's, and each newer version's subfolder; every test that reads real screens
runs on every version's set) and against the stand-in's, which must read the same way."""

from __future__ import annotations

import pytest

from tests.support.real_screens import ScreenSet, screen_sets
from vai.worker.screen import Screen, read_screen
from vai.worker.standin import screen as standin

RULE = "─" * 200
# The first line of the scrolled box depends on how the capture's fast pastes merged.
FIRST_SCROLLED_LINE = {
    "2.1.330": "line 017 of a long prompt",
    "2.1.332": "line 026 of a long prompt",
}


PINNED = screen_sets()[0]


def real(name: str) -> Screen:
    """The pinned version's screen `name` (other modules' tests read these)."""
    return PINNED(name)


@pytest.fixture(params=screen_sets(), ids=lambda screens: screens.version)
def screens(request: pytest.FixtureRequest) -> ScreenSet:
    """Each CLI version's captured screens in turn."""
    screens: ScreenSet = request.param
    return screens


@pytest.mark.parametrize(
    ("name", "state"),
    [
        ("idle", "idle"),
        ("resumed_idle", "idle"),
        ("interrupted", "idle"),
        ("busy", "busy"),
        ("queued", "busy"),
        ("permission_bash", "permission"),
        ("permission_write", "permission"),
        ("question_single", "question"),
        ("question_tabs", "question"),
        ("question_multiselect", "question"),
        ("trust_dialog", "dialog"),
        ("api_key_dialog", "dialog"),
        ("bypass_dialog", "dialog"),
        ("rewind_menu", "dialog"),
        ("after_exit", "starting"),
        ("slash_compact", "idle"),
        ("slash_clear", "idle"),
        ("slash_unknown", "idle"),
    ],
)
def test_real_screens_are_classified(name: str, state: str, screens: ScreenSet) -> None:
    assert screens(name).state == state


def test_every_fixture_is_covered(screens: ScreenSet) -> None:
    covered = {
        "idle", "resumed_idle", "interrupted", "busy", "queued", "permission_bash",
        "permission_write", "question_single", "question_tabs", "question_multiselect",
        "trust_dialog", "api_key_dialog", "bypass_dialog", "rewind_menu", "after_exit",
        "interrupted_prompt_restored", "pasted_multiline", "typed_multiline", "slash_menu",
        "shell_mode", "long_box_scrolled", "slash_compact", "slash_clear", "slash_unknown",
        "slash_cost_panel", "question_multiselect_review",
    }  # fmt: skip
    assert screens.names() == covered


def test_the_input_box(screens: ScreenSet) -> None:
    assert screens("idle").input_text == ""
    assert screens("interrupted_prompt_restored").input_text == "slow"
    typed = screens("typed_multiline")
    assert typed.input_text == (
        "Please look at this:\n```python\ndef f(x):\n    return x * 2\n```\nThanks"
    )
    assert not typed.has_pasted_reference
    pasted = screens("pasted_multiline")
    assert pasted.input_text == "[Pasted text #1 +5 lines]" and pasted.has_pasted_reference
    assert screens("slash_menu").input_text == "/exit"  # the menu above is not the box
    # While busy the box shows a placeholder for queued prompts, not input.
    assert screens("queued").input_text == ""


def test_shell_mode_and_a_scrolled_box(screens: ScreenSet) -> None:
    shell = screens("shell_mode")
    assert shell.state == "idle" and shell.shell_mode and shell.input_text == "ls"
    long = screens("long_box_scrolled")
    assert long.state == "idle" and long.box_scrolled
    assert long.input_text.startswith(FIRST_SCROLLED_LINE[screens.version])
    assert long.has_pasted_reference  # pieces sent too fast merged into one paste


def test_permission_dialogs(screens: ScreenSet) -> None:
    bash = screens("permission_bash")
    assert bash.kind == "permission"
    assert bash.options[0] == "Yes" and bash.options[-1] == "No" and bash.selected == 0
    assert "echo hello > out.txt" in bash.dialog and "Do you want to proceed?" in bash.dialog
    write = screens("permission_write")
    assert write.options[0] == "Yes" and write.options[-1] == "No"
    assert "Do you want to create new.txt?" in write.dialog


def test_question_dialogs(screens: ScreenSet) -> None:
    single = screens("question_single")
    assert single.options == ("Red", "Blue", "Type something.", "Chat about this")
    assert single.dialog == "☐ Color\nWhich color should the button be?"
    multi = screens("question_multiselect")
    assert multi.options[:2] == ("[ ] Small", "[ ] Large")


def test_start_up_dialogs(screens: ScreenSet) -> None:
    trust = screens("trust_dialog")
    assert trust.kind == "trust"
    assert trust.options == ("No, exit", "Yes, I trust this folder") and trust.selected == 0
    key = screens("api_key_dialog")
    assert key.kind == "api_key" and key.options == ("Yes", "No (recommended)")
    assert key.selected == 1 and "Do you want to use this API key?" in key.dialog
    bypass = screens("bypass_dialog")
    assert bypass.kind == "bypass" and bypass.options == ("No, exit", "Yes, I accept")
    rewind = screens("rewind_menu")
    assert rewind.kind == "other" and rewind.options == ()


def test_markers_in_the_conversation_do_not_count() -> None:
    """A prompt or answer may quote any dialog text; with the box on screen it is idle."""
    screen = "\n".join(
        [
            "❯ Do you want to proceed?",
            "● Enter to confirm · Esc to cancel",
            "  esc to interrupt",
            RULE,
            "❯\u00a0",
            RULE,
            "  ? for shortcuts",
        ]
    )
    assert read_screen(screen).state == "idle"


def test_the_exit_hint_is_seen() -> None:
    screen = "\n".join([RULE, "❯\u00a0", RULE, "  Press Ctrl-C again to exit"])
    assert read_screen(screen).exit_armed


# -- the stand-in draws what the real CLI draws ------------------------------------------------


def test_standin_screens_read_like_the_real_ones() -> None:
    idle = [RULE, *standin.block(standin.PROMPT_MARK, "  ", "", 200), RULE, standin.IDLE_FOOTER]
    assert read_screen("\n".join(idle)).state == "idle"
    busy = [standin.spinner(1.5, "Thinking"), RULE, "❯\u00a0", RULE, standin.BUSY_FOOTER]
    assert read_screen("\n".join(busy)).state == "busy"
    shell = [RULE, "!\u00a0ls", RULE, standin.SHELL_FOOTER]
    assert read_screen("\n".join(shell)).shell_mode

    permission = read_screen("\n".join(standin.permission_dialog("echo hi", "/w", 0, 200)))
    assert permission.state == "permission"
    assert permission.options == (
        "Yes",
        "Yes, and always allow access to /w from this project",
        "No",
    )
    assert "echo hi" in permission.dialog

    question = read_screen(
        "\n".join(standin.question_dialog("Color", "Which?", ["Red", "Blue"], 1, 200))
    )
    assert question.state == "question" and question.selected == 1
    assert question.options == ("Red", "Blue", "Type something.", "Chat about this")

    for lines, kind, options in (
        (standin.trust_dialog("/w", 0, 200), "trust", ("No, exit", "Yes, I trust this folder")),
        (standin.api_key_dialog("k" * 30, 1, 200), "api_key", ("Yes", "No (recommended)")),
        (standin.bypass_dialog(0, 200), "bypass", ("No, exit", "Yes, I accept")),
    ):
        screen = read_screen("\n".join(lines))
        assert (screen.state, screen.kind, screen.options) == ("dialog", kind, options)
        assert screen.options[screen.selected or 0] == options[0 if kind != "api_key" else 1]
