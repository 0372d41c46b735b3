"""The keys that answer Claude's question screen when no hook waits on it: pure plans.

What the real CLI 2.1.330 taught (tests/integration/bridge/test_real_claude_cli.py pins it):
- single choice: an option's digit answers it at once; the digit of `Type something.` moves
  there and what is then typed or pasted replaces that label, and Enter sends it as the
  answer;
- multi-select (`[ ]` tick boxes): a digit toggles its option and the cursor stays; text
  pasted on the `[ ] Type something` row ticks it and becomes that answer; `Submit` is the
  unnumbered row just below it; Enter there shows `Review your answers`, where Enter (on
  `1. Submit answers`) sends them: the answer is the ticked labels and the text, joined
  by ", ".
"""

from __future__ import annotations

import re
from typing import Literal

from vai.worker.screen import Screen
from vai.worker.tool_hooks import QUESTION_EXTRAS

Step = tuple[Literal["key", "paste"], str]
TYPE_SOMETHING = ("Type something.", "Type something")
_CHECKBOX = re.compile(r"^\[([ ✔x])\]\s*")


def labels(screen: Screen) -> list[str]:
    """Claude's options on a question screen (tick boxes and the CLI's extras left out)."""
    found = [_CHECKBOX.sub("", option) for option in screen.options]
    return [label for label in found if label not in QUESTION_EXTRAS]


def is_multi_select(screen: Screen) -> bool:
    return any(_CHECKBOX.match(option) for option in screen.options)


def answer_keys(screen: Screen, picked: list[str], text: str) -> list[Step] | None:
    """The keys (and text) that give this answer on this screen; None when it cannot."""
    shown = [_CHECKBOX.sub("", option) for option in screen.options]
    typed = next((i for i, label in enumerate(shown) if label in TYPE_SOMETHING), None)
    if not is_multi_select(screen):
        if text:
            if typed is None:
                return None
            return [("key", str(typed + 1)), ("paste", text), ("key", "Enter")]
        if len(picked) != 1 or picked[0] not in shown:
            return None
        return [("key", str(shown.index(picked[0]) + 1))]
    if typed is None or any(option not in shown for option in picked):
        return None
    steps: list[Step] = []
    for index, option in enumerate(screen.options[:typed]):
        ticked = option.startswith(("[✔]", "[x]"))
        if ticked != (shown[index] in picked):
            steps.append(("key", str(index + 1)))  # toggles; the cursor stays
    cursor = screen.selected if screen.selected is not None else 0
    if text:
        steps += [*_moves(cursor, typed), ("paste", text)]
        cursor = typed
    submit = typed + 1  # the unnumbered row below `Type something`
    return [*steps, *_moves(cursor, submit), ("key", "Enter"), ("key", "Enter")]


def _moves(start: int, end: int) -> list[Step]:
    key = "Down" if end > start else "Up"
    return [("key", key)] * abs(end - start)
