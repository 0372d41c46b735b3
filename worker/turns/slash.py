"""What became of one of Claude Code's own slash commands (`/clear`, `/compact`, `/cost`, ...),
read from the pane once it has settled: pure.

Such a command runs no model turn and fires no UserPromptSubmit, so the pane is the only
witness. What the real CLI 2.1.330 prints (tests/integration/bridge/test_realclaude_*):
`/compact` echoes `❯ /compact` with `⎿  Not enough messages to compact.` under it
(right-aligned hints such as "tmux focus-events off" are not its output); `/clear`
empties the conversation down to `❯ /clear`; `/model` or `/cost` open a panel in place of the
input box; an unknown command is not echoed, only `● Unknown command: /frobnicate`. The
stand-in Claude draws prompts as `> ` and answers as `⏺ `, and says `Unknown slash command:`.
"""

from __future__ import annotations

import re
from typing import Literal

import msgspec

DETAIL_LIMIT = 600
OUTPUT_LINES = 8
_UNKNOWN = re.compile(r"^(?:[●⏺]\s*|⎿\s*)?(Unknown (?:slash )?command:?\s*\S.*)$")
_PROMPT = re.compile(r"^(?:❯|>)\s+(\S.*)$")
_BULLET = re.compile(r"^(?:[●⏺]|⎿)\s*")
_HINT = re.compile(r"^ {20,}\S")


class SlashOutcome(msgspec.Struct, frozen=True):
    stage: Literal["done", "failed"]
    detail: str  # for the channel: what the CLI printed


def command_name(text: str) -> str:
    """`/compact` of "/compact focus on tests"."""
    return text.strip().split(None, 1)[0] if text.strip() else ""


def slash_outcome(text: str, conversation: list[str] | None, dialog: str = "") -> SlashOutcome:
    """`conversation`: the lines above the input box (None when a panel or dialog replaced
    the box; `dialog` is then its text)."""
    name = command_name(text)
    if conversation is None:
        first = next((line.strip() for line in dialog.split("\n") if line.strip()), "")
        shown = f": {first}" if first else ""
        return SlashOutcome("done", f"Claude Code ran `{name}` and shows a panel{shown}")
    flat = [line.replace("\u00a0", " ") for line in conversation]
    # Right-aligned hints above the box ("tmux focus-events off · ...") are not output.
    lines = ["" if _HINT.match(line) else line.strip() for line in flat]
    echo = _last_echo(lines, text.strip())
    after = lines[echo + 1 :] if echo is not None else lines[_last_prompt(lines) + 1 :]
    for line in after:
        unknown = _UNKNOWN.match(line)
        if unknown and name.lstrip("/") in line:
            return SlashOutcome("failed", f"Claude Code says: {_clip(unknown.group(1))}")
    if echo is None:
        return SlashOutcome("done", f"Claude Code ran `{name}`.")
    printed = [_BULLET.sub("", line) for line in after if line]
    printed = [line for line in printed if line][:OUTPUT_LINES]
    if not printed:
        return SlashOutcome("done", f"Claude Code ran `{name}`.")
    return SlashOutcome("done", f"Claude Code ran `{name}`: {_clip(chr(10).join(printed))}")


def _last_echo(lines: list[str], text: str) -> int | None:
    first = text.split("\n", maxsplit=1)[0].strip()
    for index in range(len(lines) - 1, -1, -1):
        prompt = _PROMPT.match(lines[index])
        if prompt and prompt.group(1).strip() == first:
            return index
    return None


def _last_prompt(lines: list[str]) -> int:
    for index in range(len(lines) - 1, -1, -1):
        if _PROMPT.match(lines[index]):
            return index
    return -1


def _clip(text: str) -> str:
    text = text.replace("`", "'")
    return text if len(text) <= DETAIL_LIMIT else text[: DETAIL_LIMIT - 1] + "…"
