"""What Claude's pane shows, read from `capture-pane` text: pure rules, no I/O.

Hooks say what Claude did; the screen says what it is waiting for right now (the input
box, a dialog, a busy spinner), which no hook reports. The rules follow the real CLI's
screens (tests/fixtures/real_screens, README there) and the stand-in draws the same ones.

Layout, bottom up: a footer, the input box between two `────` rules (its first line is
`❯` + NO-BREAK SPACE, or `!` + NBSP in shell mode; a long box scrolls and its top rule
reads `─── ↑ N more ───`), and above it the conversation. A dialog (permission, question,
folder trust, ...) replaces the box, so markers are only looked for when there is no box,
and only on whole lines: the conversation above may quote any text.
"""

from __future__ import annotations

import re
from typing import Literal

import msgspec

from vai.protocol.messages import ClaudeState

PROMPT_MARK = "❯"
NBSP = "\u00a0"
BUSY_MARKER = "esc to interrupt"
INTERRUPTED_MARKER = "Interrupted · What should Claude do instead?"
PASTED_REFERENCE = re.compile(r"\[Pasted text #\d+(?: \+\d+ lines)?\]")
QUEUED_PLACEHOLDER = "Press up to edit queued messages"
# What an empty box shows (dim) after a turn an API error ended (StopFailure): not text.
FAILURE_PLACEHOLDERS = frozenset(
    {
        "Resend your message to try again",
        "Once fixed, resend your message",
        "Run /rewind to go back",
    }
)
EXIT_ARMED = "Press Ctrl-C again to exit"

DialogKind = Literal["", "permission", "question", "trust", "api_key", "bypass", "other"]

_RULE = re.compile(r"^\s*(?:─{3,}(?: [↑↓] \d+ more ─+)?|▔{8,})\s*$")
_SCROLLED_RULE = re.compile(r"[↑] \d+ more")
_BOX_LINE = re.compile(f"^([{PROMPT_MARK}!]){NBSP}(.*)$")
_NUMBERED = re.compile(r"^\s*(?:❯\s)?\s*(\d{1,2})\.\s(.+?)\s*$")
_FOOTERS = ("Enter to confirm", "Enter to select", "Enter to continue", "Esc to cancel")
_PERMISSION_QUESTION = re.compile(r"^Do you want to (?:proceed|make this edit|create|allow)\b.*\?$")
_CONVERSATION = re.compile(r"^(?:❯ (?!\d{1,2}\. )|● )")
_DASHES = re.compile(r"^\s*╌+\s*$")
_TAIL = 40  # dialogs are drawn in the last lines of the pane


class Screen(msgspec.Struct, frozen=True):
    state: ClaudeState
    input_text: str = ""  # what the input box shows (its visible part when it scrolled)
    shell_mode: bool = False  # the box is in `!` shell mode
    box_scrolled: bool = False  # the box is taller than the pane shows
    dialog: str = ""  # the dialog's text, for people
    kind: DialogKind = ""
    options: tuple[str, ...] = ()
    selected: int | None = None  # index into options of the highlighted one
    interrupted: bool = False  # the last turn shows "Interrupted · What should Claude do…"
    exit_armed: bool = False  # "Press Ctrl-C again to exit": another Ctrl-C ends Claude

    @property
    def has_pasted_reference(self) -> bool:
        """The box holds a `[Pasted text #N]` stand-in: the prompt would arrive wrapped."""
        return PASTED_REFERENCE.search(self.input_text) is not None


def read_screen(text: str) -> Screen:
    """Classify a captured pane."""
    # rstrip(" "), not rstrip(): the box's NO-BREAK SPACE is whitespace to Python.
    lines = [line.rstrip(" ") for line in text.rstrip("\n").split("\n")]
    box = _input_box(lines)
    if box is not None:
        top, bottom, input_text, shell, scrolled = box
        footer = " ".join(lines[bottom + 1 :])
        interrupted = _last_turn_interrupted(lines[:top])
        armed = EXIT_ARMED in footer
        if BUSY_MARKER in footer:
            if input_text == QUEUED_PLACEHOLDER:
                input_text = ""
            return Screen("busy", input_text=input_text, shell_mode=shell, box_scrolled=scrolled)
        if input_text in FAILURE_PLACEHOLDERS and not shell:
            input_text = ""
        return Screen(
            "idle",
            input_text=input_text,
            shell_mode=shell,
            box_scrolled=scrolled,
            interrupted=interrupted,
            exit_armed=armed,
        )
    return _dialog(lines)


def conversation_lines(text: str) -> list[str] | None:
    """The lines above the input box (None when no box shows: a dialog or panel)."""
    lines = [line.rstrip(" ") for line in text.rstrip("\n").split("\n")]
    box = _input_box(lines)
    return None if box is None else lines[: box[0]]


def _input_box(lines: list[str]) -> tuple[int, int, str, bool, bool] | None:
    """(top rule, bottom rule, text, shell mode, scrolled) of the input box, if one shows."""
    rules = [i for i, line in enumerate(lines) if _RULE.match(line) and "▔" not in line]
    for bottom_at in range(len(rules) - 1, 0, -1):
        top, bottom = rules[bottom_at - 1], rules[bottom_at]
        body = lines[top + 1 : bottom]
        if not body:
            continue
        match = _BOX_LINE.match(body[0])
        scrolled = bool(_SCROLLED_RULE.search(lines[top]))
        if match is None and not scrolled:
            return None  # the last pair of rules frames something else (a dialog)
        if match is not None:
            first, shell = match.group(2), match.group(1) == "!"
        else:
            first, shell = body[0].removeprefix("  "), False
        rest = [line.removeprefix("  ") for line in body[1:]]
        return top, bottom, "\n".join([first, *rest]).strip(), shell, scrolled
    return None


def _last_turn_interrupted(conversation: list[str]) -> bool:
    """Whether the newest turn above the box ended with the "Interrupted" line."""
    for line in reversed(conversation):
        if INTERRUPTED_MARKER in line:
            return True
        if _CONVERSATION.match(line) and line.startswith("❯"):
            return False
    return False


def _dialog(lines: list[str]) -> Screen:
    tail = lines[-_TAIL:]
    stripped = [line.strip() for line in tail]
    footer_at = _last_index(stripped, lambda s: s.startswith(_FOOTERS))
    if footer_at is None:
        return Screen("starting")
    footer = stripped[footer_at]
    start = _dialog_start(tail, footer_at)
    region = tail[start:footer_at]
    options, selected, first_option = _numbered(region)
    if footer.startswith("Enter to select"):
        state: ClaudeState = "question"
        kind: DialogKind = "question"
    elif "Tab to amend" in footer or any(_PERMISSION_QUESTION.match(s.strip()) for s in region):
        state, kind = "permission", "permission"
    else:
        state, kind = "dialog", "other"
        if any(s.startswith("Accessing workspace:") or "one you trust?" in s for s in stripped):
            kind = "trust"
        elif any(s.startswith("Detected a custom API key") for s in stripped):
            kind = "api_key"
        elif any("Bypass Permissions mode" in s for s in stripped[start:footer_at]):
            kind = "bypass"
        if not options:
            options, selected, first_option = _option_block(region)
    text = "\n".join(s.strip() for s in region[:first_option] if s.strip() and not _DASHES.match(s))
    return Screen(state, dialog=text, kind=kind, options=options, selected=selected)


def _last_index(items: list[str], accept: object) -> int | None:
    for index in range(len(items) - 1, -1, -1):
        if accept(items[index]):  # type: ignore[operator]
            return index
    return None


def _dialog_start(lines: list[str], footer_at: int) -> int:
    """The first line of the dialog: after the topmost rule of the block above the footer."""
    rules = [i for i in range(footer_at) if _RULE.match(lines[i])]
    if not rules:
        return 0
    # A question draws a second rule between its options; the dialog starts at the first
    # rule that has no conversation (a `❯ ` prompt echo or a `● ` answer) below it.
    for at in rules:
        below = lines[at + 1 : footer_at]
        if not any(_CONVERSATION.match(line) for line in below):
            return at + 1
    return rules[-1] + 1


def _numbered(lines: list[str]) -> tuple[tuple[str, ...], int | None, int]:
    """`❯ 1. Yes` / `  2. No` options in order, the highlighted one, and where they start."""
    options: list[str] = []
    selected: int | None = None
    first = len(lines)
    for at, line in enumerate(lines):
        match = _NUMBERED.match(line)
        if match is None or int(match.group(1)) != len(options) + 1:
            continue
        if not options:
            first = at
        if line.lstrip().startswith("❯"):
            selected = len(options)
        options.append(match.group(2))
    return tuple(options), selected, first


def _option_block(lines: list[str]) -> tuple[tuple[str, ...], int | None, int]:
    """Unnumbered options: the block of lines just above the footer (blank lines skipped)."""
    at = len(lines) - 1
    while at >= 0 and not lines[at].strip():
        at -= 1
    block: list[str] = []
    while at >= 0 and lines[at].strip() and not _RULE.match(lines[at]):
        block.insert(0, lines[at].strip())
        at -= 1
    if len(block) < 2:
        return (), None, len(lines)
    selected = next((i for i, s in enumerate(block) if s.startswith("❯")), None)
    return tuple(s.removeprefix("❯").strip() for s in block), selected, at + 1
