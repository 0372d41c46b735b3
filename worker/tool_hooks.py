"""Tool hook payloads into words for the channel, and answers back into hook output: pure.

- Progress: PreToolUse / PostToolUse become a tool name and a short summary (the Bash
  command, the file path, the search pattern), trimmed for a Discord line.
- Permission: a PermissionRequest hook becomes "Claude wants to run `...`" with Allow /
  Deny; the answer is the hook's JSON decision (the CLI then runs the tool, or tells the
  model it was denied and the turn goes on to a Stop).
- Questions: an AskUserQuestion tool call (seen at PreToolUse) becomes one choice per
  question; the answers go back as PreToolUse output that allows the tool with the
  answers filled in (`updatedInput.answers`), which the CLI 2.1.330 takes without showing
  its own question screen. Verified against the real CLI (tests/test_realclaude_*.py).
  Each answer is one string: an option's label, the labels picked in a multi-select
  question joined by ", " (as the CLI itself writes them), or the text someone typed
  instead ("Other…").
"""

from __future__ import annotations

import json
from typing import Any

import msgspec

from vai.protocol.messages import ChoiceAnswer

SUMMARY_LIMIT = 160
ASK_TOOL = "AskUserQuestion"
ALLOW = "Allow"
DENY = "Deny"
PERMISSION_OPTIONS = (ALLOW, DENY)
# The real question screen adds these two after Claude's options; they are not answers.
QUESTION_EXTRAS = ("Type something.", "Type something", "Chat about this")
# How the real CLI (2.1.330) joins the labels of a multi-select answer.
MULTI_SEPARATOR = ", "

_SUMMARY_KEYS = (
    "command",
    "file_path",
    "notebook_path",
    "pattern",
    "path",
    "url",
    "query",
    "description",
    "prompt",
    "skill",
)


class Question(msgspec.Struct, frozen=True):
    question: str
    header: str = ""
    options: tuple[str, ...] = ()
    multi_select: bool = False


def clip(text: str, limit: int = SUMMARY_LIMIT) -> str:
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def tool_summary(tool_name: str, tool_input: Any) -> str:
    """A short line saying what a tool call does (the command, the file, the pattern)."""
    if not isinstance(tool_input, dict):
        return ""
    if tool_name == ASK_TOOL:
        questions = parse_questions(tool_input)
        return clip(questions[0].question) if questions else ""
    for key in _SUMMARY_KEYS:
        value = tool_input.get(key)
        if isinstance(value, str) and value.strip():
            if key == "pattern" and isinstance(tool_input.get("path"), str):
                return clip(f"{value} in {tool_input['path']}")
            return clip(value)
    return ""


def permission_text(tool_name: str, tool_input: Any) -> str:
    """What the channel is asked: the tool and what it would do."""
    name = tool_name or "a tool"
    if isinstance(tool_input, dict):
        command = tool_input.get("command")
        if isinstance(command, str) and command.strip():
            text = f"Claude wants to run a **{name}** command:\n```\n{_fence_safe(command)}\n```"
            description = tool_input.get("description")
            if isinstance(description, str) and description.strip():
                text += f"\n{clip(description, 300)}"
            return text
        summary = tool_summary(tool_name, tool_input)
        if summary:
            return f"Claude wants to use **{name}**: `{_tick_safe(summary)}`"
    return f"Claude wants to use **{name}**."


def permission_output(allow: bool, message: str = "") -> bytes:
    """PermissionRequest hook output: allow, or deny with the reason the model is told."""
    decision: dict[str, Any] = {"behavior": "allow" if allow else "deny"}
    if not allow:
        decision["message"] = message or "The user denied this from Discord."
    return _output("PermissionRequest", {"decision": decision})


def parse_questions(tool_input: Any) -> list[Question]:
    """The questions of an AskUserQuestion call (malformed entries left out)."""
    if not isinstance(tool_input, dict) or not isinstance(tool_input.get("questions"), list):
        return []
    found = []
    for raw in tool_input["questions"]:
        if not isinstance(raw, dict) or not isinstance(raw.get("question"), str):
            continue
        options = tuple(
            str(option["label"])
            for option in raw.get("options") or []
            if isinstance(option, dict) and isinstance(option.get("label"), str)
        )
        found.append(
            Question(
                question=raw["question"],
                header=str(raw.get("header") or ""),
                options=options,
                multi_select=bool(raw.get("multiSelect")),
            )
        )
    return found


def question_text(question: Question, index: int, count: int) -> str:
    head = f"**{question.header}**: " if question.header else ""
    more = f" ({index + 1}/{count})" if count > 1 else ""
    many = "\n(pick one or more, then Submit)" if question.multi_select else ""
    return f"{head}{question.question}{more}{many}"


def answer_text(answer: ChoiceAnswer) -> str:
    """What Claude is told the answer was: the picked labels (then any typed text), or
    the option."""
    picked = list(answer.options) or ([answer.option] if answer.option else [])
    typed = [answer.text.strip()] if answer.text.strip() else []
    return MULTI_SEPARATOR.join([*picked, *typed])


def answers_output(tool_input: dict[str, Any], answers: dict[str, str]) -> bytes:
    """PreToolUse output that lets AskUserQuestion run with the channel's answers."""
    updated = {**tool_input, "answers": answers}
    return _output("PreToolUse", {"permissionDecision": "allow", "updatedInput": updated})


def deny_tool_output(reason: str) -> bytes:
    """PreToolUse output that refuses the tool call; the model is told `reason`."""
    return _output("PreToolUse", {"permissionDecision": "deny", "permissionDecisionReason": reason})


def _output(event: str, fields: dict[str, Any]) -> bytes:
    return json.dumps({"hookSpecificOutput": {"hookEventName": event, **fields}}).encode()


def _fence_safe(text: str) -> str:
    """A command shown in a code block: cut when huge, no ``` that would close the block."""
    if len(text) > 1200:
        text = text[:1199] + "…"
    return text.replace("```", "`\u200b``")


def _tick_safe(text: str) -> str:
    return text.replace("`", "'")
