"""supervisor/turn_answers.py: a failed turn says why; a turn no Discord message started
says where it came from and answers nobody (the switchboard's part: test_switchboard.py)."""

from __future__ import annotations

from vai.protocol.messages import TurnEnded
from vai.supervisor.texts import NOT_FROM_DISCORD, TURN_FAILED
from vai.supervisor.turn_answers import turn_reply

CHANNEL_1 = 1001
WHY = "API Error: 529 Overloaded. This is a server-side issue, usually temporary."


def test_a_failed_turn_says_why_after_what_claude_had_said() -> None:
    failed = TurnEnded(session=1, turn_id="t", text="", message_ids=[5], failure=WHY)
    reply = turn_reply(failed, CHANNEL_1)
    assert reply is not None and reply.reference_message_id == 5
    assert reply.text == "❌ Claude could not finish this turn: " + WHY == TURN_FAILED + WHY
    partial = TurnEnded(session=1, turn_id="t", text="Half an answer", failure="rate limit")
    said = turn_reply(partial, CHANNEL_1)
    assert said is not None and said.text == f"Half an answer\n\n{TURN_FAILED}rate limit"


def test_a_turn_not_started_from_discord_says_where_it_came_from() -> None:
    origin = "a message from another Claude session (`builder`)"
    turn = TurnEnded(session=1, turn_id="x1", text="yes, green", origin=origin)
    reply = turn_reply(turn, CHANNEL_1)
    assert reply is not None and reply.reference_message_id is None
    assert reply.text == f"{NOT_FROM_DISCORD}{origin}.\nyes, green"
    assert reply.text.startswith("↪ Not from Discord: a message from another Claude session")
    assert turn_reply(TurnEnded(session=1, turn_id="x2", text=" ", origin=origin), 1) is None
