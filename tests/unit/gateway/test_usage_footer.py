"""gateway/replies.py with `[discord] usage_footer`: the footer ends the answer's last
message when it fits, never a message of its own; off (the default), nothing is added."""

from __future__ import annotations

from vai.gateway.replies import plan_reply
from vai.protocol.messages import PostReply
from vai.protocol.usage import TurnUsage

TURN = TurnUsage(
    input_tokens=3, cache_read_tokens=11000, cache_write_tokens=1200, output_tokens=340,
    api_calls=1, context_tokens=12203,
)  # fmt: skip


def test_an_answer_gets_its_footer_only_when_asked_and_only_where_it_fits() -> None:
    reply = PostReply(reply_id="r", channel_id=1, text="Done.", usage=TURN)
    assert [p.text for p in plan_reply(reply)] == ["Done."]  # default: Claude's words only
    assert [p.text for p in plan_reply(reply, footer=True)] == [
        "Done.\n-# 12.2k in · 340 out · context 12.2k"
    ]
    full = PostReply(reply_id="r", channel_id=1, text="x" * 1995, usage=TURN)
    assert [p.text for p in plan_reply(full, footer=True)] == ["x" * 1995]  # no extra message
    bare = PostReply(reply_id="r", channel_id=1, text="Done.")
    assert [p.text for p in plan_reply(bare, footer=True)] == ["Done."]
