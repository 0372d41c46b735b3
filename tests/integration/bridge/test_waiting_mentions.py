""" "Waiting for you" through the whole bridge (`vai run`, a worker, the stand-in Claude, the
real discord.py client, the local Discord recording whom each post notifies): a permission
prompt or a question pings the author of the message whose turn asks, and nobody else
(not @everyone, not a user or role Claude's text names), reminds them once, and
`vai reload` turns it off."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.support.stack import Stack, running_stack
from tests.support.tmux import TmuxServer
from vai.gateway.local_discord import LocalUser
from vai.gateway.local_discord.pings import Pings

pytestmark = pytest.mark.timeout(150)


def buttons(message: dict[str, Any]) -> dict[str, str]:
    return {
        str(c["label"]): str(c["custom_id"])
        for row in message.get("components", [])
        for c in row.get("components", [])
    }


def asked(stack: Stack, channel: int, text: str) -> dict[str, Any]:
    """The open choice whose text holds `text`."""

    def found() -> dict[str, Any]:
        for message in stack.bot_messages(channel):
            live = any(
                not c.get("disabled")
                for row in message.get("components", [])
                for c in row.get("components", [])
            )
            if text in message["content"] and live:
                return message
        return {}

    return stack.discord.wait_for(found, 30, f"the choice {text!r}")


def pinged(stack: Stack, message: dict[str, Any]) -> Pings:
    notified = stack.discord.pings(int(message["id"]))
    assert notified is not None
    return notified


def reminders(stack: Stack, channel: int, choice: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        m
        for m in stack.bot_messages(channel)
        if (m.get("message_reference") or {}).get("message_id") == choice["id"]
    ]


def test_a_choice_pings_its_author_only_reminds_once_and_can_be_turned_off(
    short_tmp: Path, tmux_server: TmuxServer
) -> None:
    with running_stack(short_tmp, tmux_server, channels=1) as (stack, (chan,)):
        alice = stack.discord.make_user("alice")
        bob = stack.discord.make_user("bob")
        role = stack.discord.add_role("everyone-ish")
        config = (
            f"[discord]\nallowed_users = [{alice.id}, {bob.id}]\nwait_reminder_s = 2\n"
            "[claude]\nchoice_timeout = 60\n"
        )
        stack.write_config(config)
        stack.start()
        stack.wait_all_running()

        # Claude's question names @everyone, Bob and a role: only Alice, who asked, is pinged.
        hostile = f"Ping @everyone and <@{bob.id}> and <@&{role}>?"
        stack.discord.post_user_message(chan, f"!ask {hostile} | Yes | No", author=alice)
        question = asked(stack, chan, hostile)
        assert question["content"].startswith(f"<@{alice.id}> ")
        notified = pinged(stack, question)
        assert notified.users == (alice.id,)
        assert notified.roles == () and not notified.everyone
        assert notified.allowed_mentions == {"parse": [], "users": [alice.id]}

        # Nobody answers: one reminder, a reply to the question, pinging Alice alone.
        def reminded() -> list[dict[str, Any]]:
            return reminders(stack, chan, question)

        reminder = stack.discord.wait_for(reminded, 20, "the reminder")[0]
        assert reminder["content"].startswith(f"<@{alice.id}> ⏳ Claude is still waiting")
        assert pinged(stack, reminder).users == (alice.id,)
        stack.discord.click_button(chan, int(question["id"]), buttons(question)["No"], user=bob)
        said = stack.discord.wait_for(
            lambda: [m for m in stack.bot_messages(chan) if '="No"' in m["content"]], 30, "answer"
        )
        assert said and len(reminders(stack, chan, question)) == 1

        # Bob's turn asks for a permission: Bob is pinged, Alice is not; answered in time, no
        # reminder.
        stack.discord.post_user_message(chan, "!bash echo bob-ran-$((6 * 7))", author=bob)
        permission = asked(stack, chan, "bob-ran")
        assert permission["content"].startswith(f"<@{bob.id}> 🔐")
        assert pinged(stack, permission).users == (bob.id,)
        stack.discord.click_button(
            chan, int(permission["id"]), buttons(permission)["Allow"], user=bob
        )
        stack.discord.wait_for(
            lambda: [m for m in stack.bot_messages(chan) if m["content"] == "bob-ran-42"],
            30,
            "the command's output",
        )

        # Turned off by `vai reload`: the next choice names and pings nobody.
        stack.write_config(config.replace("wait_reminder_s = 2", "mention_on_wait = false"))
        reload = stack.vai("reload")
        assert reload.returncode == 0, reload.stderr
        assert "mention_on_wait" in reload.stdout
        quiet = quiet_choice(stack, chan, alice)
        assert not quiet["content"].startswith("<@") and not pinged(stack, quiet).anyone
        assert reminders(stack, chan, quiet) == []


def quiet_choice(stack: Stack, chan: int, author: LocalUser) -> dict[str, Any]:
    """A question asked once the reload has reached the gateway (its log says so)."""
    stack.discord.wait_for(
        lambda: "pings" in (stack.layout.logs_dir / "gateway.log").read_text(), 20, "the reload"
    )
    stack.discord.post_user_message(chan, "!ask Quietly? | Yes | No", author=author)
    return asked(stack, chan, "Quietly?")
