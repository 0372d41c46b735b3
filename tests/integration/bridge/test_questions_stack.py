"""Claude's questions answered from Discord through the whole bridge (`vai run`, a worker, the
stand-in Claude, the real discord.py client): several options from a menu, or free text."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.support.stack import Stack, running_stack
from tests.support.tmux import TmuxServer
from vai.gateway.choice_book import TEXT_INPUT_ID

pytestmark = pytest.mark.timeout(120)


def components(message: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for row in message.get("components", []) for c in row.get("components", [])]


def the_question(stack: Stack, channel: int, text: str) -> dict[str, Any]:
    def found() -> dict[str, Any]:
        asked = [m for m in stack.bot_messages(channel) if text in m["content"]]
        return asked[-1] if asked and components(asked[-1]) else {}

    return stack.discord.wait_for(found, 30, f"the question {text!r}")


def answer_containing(stack: Stack, channel: int, text: str) -> str:
    def found() -> str:
        return next((m["content"] for m in stack.bot_messages(channel) if text in m["content"]), "")

    return stack.discord.wait_for(found, 30, f"Claude's answer with {text!r}")


def test_a_multi_select_question_and_an_other_answer(
    short_tmp: Path, tmux_server: TmuxServer
) -> None:
    with running_stack(short_tmp, tmux_server, channels=1) as (stack, (chan,)):
        alice = stack.discord.make_user("alice")
        stack.write_config(f"[discord]\nallowed_users = [{alice.id}]\n")
        stack.start()
        stack.wait_all_running()

        stack.discord.post_user_message(
            chan, "!ask+ Which sizes? | Small | Medium | Large", author=alice
        )
        message = the_question(stack, chan, "Which sizes?")
        menu, submit, other = components(message)
        assert other["label"] == "Other…"
        assert [o["label"] for o in menu["options"]] == ["Small", "Medium", "Large"]
        mid = int(message["id"])
        stack.discord.click_button(chan, mid, menu["custom_id"], values=["0", "2"], user=alice)
        stack.discord.click_button(chan, mid, submit["custom_id"], user=alice)
        said = answer_containing(stack, chan, "Your questions have been answered")
        assert '"Which sizes?"="Small, Large"' in said

        stack.discord.post_user_message(chan, "!ask Which color? | Red | Blue", author=alice)
        message = the_question(stack, chan, "Which color?")
        assert [b["label"] for b in components(message)] == ["Red", "Blue", "Other…"]
        opened = stack.discord.click_button(
            chan, int(message["id"]), components(message)[2]["custom_id"], user=alice
        )
        stack.discord.wait_for(lambda: stack.discord.open_modal(opened), 10, "the form")
        stack.discord.submit_modal(opened, {TEXT_INPUT_ID: "purple haze"}, user=alice)
        said = answer_containing(stack, chan, '"Which color?"=')
        assert '"Which color?"="purple haze"' in said


def test_claude_codes_own_commands_are_confirmed_or_refused(
    short_tmp: Path, tmux_server: TmuxServer
) -> None:
    with running_stack(short_tmp, tmux_server, channels=1) as (stack, (chan,)):
        alice = stack.discord.make_user("alice")
        stack.write_config(f"[discord]\nallowed_users = [{alice.id}]\n")
        stack.start()
        stack.wait_all_running()
        cleared = stack.discord.post_user_message(chan, "/clear", author=alice)
        stack.wait_bot_message(chan, "✅ Claude Code ran `/clear`.", timeout=30)
        reactions = stack.discord.reactions(chan, int(cleared["id"]))
        assert "✅" in reactions and "❌" not in reactions

        unknown = stack.discord.post_user_message(chan, "/frobnicate", author=alice)
        said = answer_containing(stack, chan, "frobnicate")
        assert said == (
            "❌ Not delivered to Claude: Claude Code says: Unknown slash command: frobnicate"
        )
        stack.discord.wait_for(
            lambda: "❌" in stack.discord.reactions(chan, int(unknown["id"])), 10, "❌"
        )
        assert "✅" not in stack.discord.reactions(chan, int(unknown["id"]))
        stack.discord.post_user_message(chan, "still there?", author=alice)
        stack.wait_bot_message(chan, "echo: still there?", timeout=30)
