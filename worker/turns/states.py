"""The two state machines a session's turns run through, as explicit tables.

Claude's state (what the supervisor shows): a state not in the table's row for the current
one is a bug and raises. `dead` is left only when Claude is ready again after a restart (a
hook that a dying Claude fired late does not revive it), and nothing goes back to
`starting` or `unknown`.

A message's stage, from the queue to its end: queued → typing (in the box, in the journal)
→ accepted (UserPromptSubmit) → answered (Stop) | interrupted (Escape, a quiet end, a
restart) | denied (in the pane) | failed (StopFailure: an API error); `queued` again when
it never reached the conversation (retried), `failed` too when it cannot be typed or
Claude Code does not know the slash command, `done` for a slash command that runs no turn.
"""

from __future__ import annotations

from typing import Literal

from vai.protocol.messages import ClaudeState

ACTIVE: tuple[ClaudeState, ...] = ("busy", "permission", "question")  # a turn is under way
READY: tuple[ClaudeState, ...] = ("idle", "busy", "permission", "question", "dialog")

# Claude at its prompt: a new message may be typed ("background": work still runs).
AT_PROMPT: tuple[ClaudeState, ...] = ("idle", "background")

_ALLOWED: dict[ClaudeState, frozenset[ClaudeState]] = {
    "unknown": frozenset(),
    "starting": frozenset({"idle", "busy", "permission", "question", "dialog", "dead"}),
    "idle": frozenset({"busy", "permission", "question", "dialog", "dead"}),
    "busy": frozenset({"idle", "background", "permission", "question", "dialog", "dead"}),
    # Left by the next turn (a task's end starts one: its Stop says what still runs).
    "background": frozenset({"idle", "busy", "permission", "question", "dialog", "dead"}),
    "permission": frozenset({"idle", "background", "busy", "question", "dialog", "dead"}),
    "question": frozenset({"idle", "background", "busy", "permission", "dialog", "dead"}),
    "dialog": frozenset({"idle", "busy", "permission", "question", "dead"}),
    "dead": frozenset(READY),  # only when Claude is ready again (TurnTracker._set)
}

Stage = Literal[
    "queued", "typing", "accepted", "answered", "interrupted", "denied", "failed", "done"
]
_STEPS: dict[Stage, frozenset[Stage]] = {
    "queued": frozenset({"typing", "failed"}),
    # Held by the transcript without a UserPromptSubmit seen: answered or interrupted.
    "typing": frozenset({"accepted", "queued", "answered", "interrupted", "done", "failed"}),
    # UserPromptSubmit is not durable: a prompt Claude never saved is typed again.
    # `failed` after it: an API error ended the turn (StopFailure).
    "accepted": frozenset({"answered", "interrupted", "denied", "failed", "queued"}),
    "answered": frozenset(),
    "interrupted": frozenset(),
    "denied": frozenset(),
    "failed": frozenset(),
    "done": frozenset(),
}


class IllegalTransition(RuntimeError):
    pass


def check_claude(old: ClaudeState, new: ClaudeState, why: str) -> None:
    if new != old and new not in _ALLOWED[old]:
        raise IllegalTransition(f"claude {old} -> {new} ({why})")


def check_stage(message_id: int, old: Stage, new: Stage) -> None:
    if new not in _STEPS[old]:
        raise IllegalTransition(f"message {message_id}: {old} -> {new}")
