"""Turns that fail, prompts the bridge did not type and background work, end to end: the
real discord.py gateway against the local Discord, the supervisor, a worker and the
stand-in Claude firing the real CLI's payloads (!fail, !peer, !background: worker/standin/
injected.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.support.stack import Stack, running_stack
from tests.support.tmux import TmuxServer

pytestmark = pytest.mark.timeout(120)

FAILED = "❌ Claude could not finish this turn: API Error: 529 Overloaded."


def claude_column(stack: Stack) -> str:
    status = stack.vai("status").stdout
    return next(line for line in status.splitlines() if line.startswith("1 "))


def test_a_failed_turn_says_so_and_marks_the_message(
    short_tmp: Path, tmux_server: TmuxServer
) -> None:
    with running_stack(short_tmp, tmux_server, channels=1) as (stack, (chan,)):
        stack.start()
        stack.wait_all_running()
        asked = stack.discord.post_user_message(chan, "!fail overloaded")

        def failure_post() -> dict[str, Any] | None:
            return next(
                (m for m in stack.bot_messages(chan) if m["content"].startswith(FAILED)), None
            )

        def marked() -> bool:
            marks = stack.discord.reactions(chan, int(asked["id"]))
            return "❌" in marks and "✅" not in marks

        post = stack.discord.wait_for(failure_post, 30, "the failure post")
        assert post is not None and post["message_reference"]["message_id"] == asked["id"]
        stack.discord.wait_for(marked, 10, "❌ in place of ✅")
        # The CLI's "Resend your message to try again" in the box is no text: the next
        # message goes in and is answered.
        stack.discord.post_user_message(chan, "after the failure")
        stack.wait_bot_message(chan, "echo: after the failure", timeout=30)


def test_another_sessions_message_is_shown_as_such_and_answers_nobody(
    short_tmp: Path, tmux_server: TmuxServer
) -> None:
    with running_stack(short_tmp, tmux_server, channels=1) as (stack, (chan,)):
        stack.start()
        stack.wait_all_running()
        asked = stack.discord.post_user_message(chan, "!peer builder @everyone green?")
        stack.wait_bot_message(chan, "echo: !peer builder @everyone green?", timeout=30)
        header = "↪ Not from Discord: a message from another Claude session (`builder`)."
        peer = stack.wait_bot_message(chan, f"{header}\necho: @everyone green?", timeout=30)
        assert not peer.get("message_reference")  # no Discord message is its question
        assert peer.get("mention_everyone") is not True and not peer.get("mentions")
        replies = [m for m in stack.bot_messages(chan) if m.get("message_reference")]
        assert [m["message_reference"]["message_id"] for m in replies] == [asked["id"]]


def test_background_work_shows_until_it_ends(short_tmp: Path, tmux_server: TmuxServer) -> None:
    with running_stack(short_tmp, tmux_server, channels=1) as (stack, (chan,)):
        stack.start()
        stack.wait_all_running()
        stack.discord.post_user_message(chan, "!background 4")
        stack.wait_bot_message(chan, "Started a background task.", timeout=30)
        stack.discord.wait_for(
            lambda: "working in background" in claude_column(stack), 10, "background status"
        )
        # A message while it runs is typed and answered.
        stack.discord.post_user_message(chan, "meanwhile")
        stack.wait_bot_message(chan, "echo: meanwhile", timeout=30)
        header = "↪ Not from Discord: a background task Claude started has finished."
        stack.wait_bot_message(chan, f"{header}\nThe background task finished.", timeout=30)
        stack.discord.wait_for(lambda: " idle " in claude_column(stack), 10, "idle again")
