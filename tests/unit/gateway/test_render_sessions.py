"""/sessions in Discord names Claude's state in words, as `vai status` does."""

from __future__ import annotations

from vai.gateway.commands import render_sessions
from vai.protocol.messages import SessionInfo


def test_claude_states_read_as_words() -> None:
    text = render_sessions(
        [
            SessionInfo(
                session=1,
                channel_id=11,
                work_dir="/w",
                state="RUNNING",
                claude_state="background",
                uptime_s=61.0,
            ),
            SessionInfo(
                session=2,
                channel_id=22,
                work_dir="/w",
                state="RUNNING",
                claude_state="permission",
                uptime_s=5.0,
            ),
        ]
    )
    first, second = text.splitlines()
    assert first.startswith("**1** <#11> · RUNNING · Claude working in background · 0 queued")
    assert "Claude waiting for permission" in second


def test_no_sessions_says_how_to_add_one() -> None:
    assert "/add-session" in render_sessions([])
