"""Claude's hooks that wait for a person: answered from the channel.

- PermissionRequest: the channel gets Allow / Deny; the hook prints the decision for Claude
  (the CLI shows its own dialog meanwhile, which this answer closes). A timeout or an
  interrupt denies, and the model is told why.
- AskUserQuestion, seen at PreToolUse: one choice per question with Claude's options
  (several may be picked when the question says multiSelect; any question can be
  answered with free text instead); the hook lets the tool run with the answers filled
  in, or refuses it when nobody answered.

Only live events are answered: one replayed from the spool has no hook waiting any more
(the dialog it would have answered is left to worker/attention.py, which reads the pane).
While a hook waits, the turn tracker is told (Claude's state says it is asking).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from vai.protocol.hooks import PermissionRequest, PreToolUse
from vai.worker.choices import ChoiceBroker
from vai.worker.tool_hooks import (
    ALLOW,
    PERMISSION_OPTIONS,
    answer_text,
    answers_output,
    deny_tool_output,
    parse_questions,
    permission_output,
    permission_text,
    question_text,
)
from vai.worker.turns.vocabulary import AskEnded, AskStarted, TurnEvent


class HookAsks:
    def __init__(self, choices: ChoiceBroker, tell: Callable[[TurnEvent], Awaitable[None]]) -> None:
        self.choices = choices
        self.tell = tell

    async def permission(self, event: PermissionRequest) -> bytes:
        """Ask the channel; the hook prints the decision for Claude (a timeout denies)."""
        await self.tell(AskStarted("permission"))
        try:
            pending = self.choices.pending("permission", source="pane")
            if pending is not None:
                pending.source = "hook"  # asked from the screen a moment ago: answer it here
            else:
                pending = await self.choices.open(
                    "permission",
                    permission_text(event.tool_name, event.tool_input),
                    list(PERMISSION_OPTIONS),
                    "hook",
                    topic=event.tool_name,
                )
            answer = await self.choices.wait(pending)
        finally:
            await self.tell(AskEnded("permission"))
        if answer is not None and answer.option == ALLOW:
            return permission_output(True)
        if answer is None:
            reason = "Nobody allowed this from Discord in time, so it was denied."
        else:
            reason = f"{answer.user_name or 'The user'} denied this from Discord."
        return permission_output(False, reason)

    async def questions(self, event: PreToolUse) -> bytes:
        """AskUserQuestion at PreToolUse: answers from the channel, or a refusal."""
        questions = parse_questions(event.tool_input)
        if not questions or any(not q.options for q in questions):
            return b""  # free-text questions: the CLI asks on its screen (attention.py)
        assert isinstance(event.tool_input, dict)
        await self.tell(AskStarted("question"))
        answers: dict[str, str] = {}
        try:
            for index, question in enumerate(questions):
                answer = await self.choices.ask(
                    "question",
                    question_text(question, index, len(questions)),
                    list(question.options),
                    "hook",
                    topic=event.tool_use_id,
                    multi_select=question.multi_select,
                    other=True,
                )
                if answer is None:
                    return deny_tool_output("The user did not answer the question in Discord.")
                answers[question.question] = answer_text(answer)
            return answers_output(event.tool_input, answers)
        finally:
            await self.tell(AskEnded("question"))
