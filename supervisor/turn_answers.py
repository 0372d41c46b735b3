"""What a finished turn posts in its channel: the answer, or why there is none.

Pure: the switchboard stores and sends what this returns. The reply id is derived from the
session and turn, so a turn reported twice (the worker resends until acknowledged) posts once.
A turn an API error ended says so (and what Claude had said before it, if anything); a
turn no Discord message started (another session's message, Claude's own) is headed by
where it came from and answers no message.
"""

from __future__ import annotations

from vai.protocol.messages import PostReply, PromptProgress, PromptStage, TurnEnded
from vai.supervisor.texts import LOST_ANSWER, NOT_FROM_DISCORD, TURN_FAILED


def turn_reply(turn: TurnEnded, channel_id: int) -> PostReply | None:
    """The post for `turn` in `channel_id`; None when the turn said nothing."""
    text = turn.text or (LOST_ANSWER if turn.interrupted else "")
    if turn.failure:
        text = "\n\n".join(part for part in (turn.text.strip(), TURN_FAILED + turn.failure) if part)
    if not text.strip():
        return None
    if turn.origin:
        text = f"{NOT_FROM_DISCORD}{turn.origin}.\n{text}"
    return PostReply(
        reply_id=f"s{turn.session}-{turn.turn_id}",
        channel_id=channel_id,
        text=text,
        reference_message_id=turn.message_ids[-1] if turn.message_ids else None,
        turn_id=turn.turn_id,
        usage=turn.usage,
    )


def end_stage(turn: TurnEnded) -> PromptStage:
    """Where the turn leaves its messages: failed (❌) when an API error ended it."""
    return "failed" if turn.failure else "done"


def failed_mark(channel_id: int, message_id: int) -> PromptProgress:
    """❌ in place of ✅ on a message whose turn failed (the turn's post says why)."""
    return PromptProgress(
        channel_id=channel_id, message_id=message_id, stage="failed", turn_failed=True
    )
