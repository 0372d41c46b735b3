"""What Claude's pane shows, read from `capture-pane` text: pure rules, no I/O.

Hooks say what Claude did; the screen says what it is waiting for right now (the input
box, a dialog, a busy spinner), which no hook reports.
"""

from __future__ import annotations

import re

import msgspec

from protocol.messages import ClaudeState

PROMPT_MARK = "❯"
_INPUT_LINE = re.compile("^\\s*❯[\u00a0 ](.*)$")
_RULE = re.compile(r"^\s*─{8,}")
_BUSY = "esc to interrupt"
_PERMISSION = ("Do you want to proceed?", "Do you want to make this edit", "Do you want to create")
_DIALOG = (
    "Do you trust the files in this folder?",
    "Detected a custom API key",
    "Bypass Permissions mode",
    "Enter to confirm",
)


class Screen(msgspec.Struct, frozen=True):
    state: ClaudeState
    input_text: str = ""
    dialog: str = ""


def read_screen(text: str) -> Screen:
    """Classify a captured pane."""
    lines = text.rstrip("\n").split("\n")
    joined = "\n".join(lines)
    if any(marker in joined for marker in _PERMISSION):
        return Screen("permission", dialog=_dialog_text(lines))
    if any(marker in joined for marker in _DIALOG):
        return Screen("dialog", dialog=_dialog_text(lines))
    input_text = _input_box(lines)
    if _BUSY in joined:
        return Screen("busy", input_text=input_text or "")
    if input_text is None:
        return Screen("starting")
    return Screen("idle", input_text=input_text)


def _input_box(lines: list[str]) -> str | None:
    """The text in the input box (between the last two rules), or None if there is none."""
    for index in range(len(lines) - 1, -1, -1):
        match = _INPUT_LINE.match(lines[index])
        if match and index > 0 and _RULE.match(lines[index - 1]):
            box = [match.group(1)]
            for following in lines[index + 1 :]:
                if _RULE.match(following):
                    break
                box.append(following.strip())
            return "\n".join(box).strip()
    return None


def _dialog_text(lines: list[str]) -> str:
    """The non-empty lines of the screen's last block, for showing a dialog to the user."""
    kept = [line.strip() for line in lines if line.strip() and not _RULE.match(line)]
    return "\n".join(kept[-12:])
