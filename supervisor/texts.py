"""What the supervisor says to people (the channel, the operator's terminal), in one place."""

from __future__ import annotations

# A turn Claude took but never answered because it died: the message is done, said so.
LOST_ANSWER = (
    "⚠️ Claude restarted during this turn: your message is in its conversation,"
    " but the answer was lost. Ask again to continue."
)
# A turn an API error ended (StopFailure): the CLI's reason follows.
TURN_FAILED = "❌ Claude could not finish this turn: "
# Heads the answer to a turn that no Discord message started (the worker says where from).
NOT_FROM_DISCORD = "↪ Not from Discord: "
# The local demo's address (with this run's key: file and terminal only) and what to try.
TRY_IT = "local Discord: open %s and write hello in #session-1 (README: demo prompts)"
