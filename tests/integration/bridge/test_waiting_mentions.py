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

        # Interrupted while it asks: the buttons close, and no reminder ever comes for it
        # (the next question's reminder, due later, comes first). The reminder now comes
        # after 10 s (`vai reload`), well after the interrupt's couple of seconds.
        reload(stack, config.replace("wait_reminder_s = 2", "wait_reminder_s = 10"), 1)
        stack.discord.post_user_message(chan, "!ask Withdrawn? | Yes | No", author=alice)
        withdrawn = asked(stack, chan, "Withdrawn?")
        stack.discord.invoke_command(chan, "interrupt", user=alice)
        stack.discord.wait_for(
            lambda: (
                "Claude no longer asks (interrupted)"
                in stack.discord.message(chan, int(withdrawn["id"]))["content"]
            ),
            30,
            "the withdrawn question",
        )
        stack.discord.post_user_message(chan, "!ask Later? | Yes | No", author=alice)
        later = asked(stack, chan, "Later?")
        stack.discord.wait_for(lambda: reminders(stack, chan, later), 20, "the later reminder")
        assert reminders(stack, chan, withdrawn) == []
        stack.discord.click_button(chan, int(later["id"]), buttons(later)["Yes"], user=alice)

        # Turned off by `vai reload`: the next choice names and pings nobody.
        reload(stack, config.replace("wait_reminder_s = 2", "mention_on_wait = false"), 2)
        stack.discord.post_user_message(chan, "!ask Quietly? | Yes | No", author=alice)
        quiet = asked(stack, chan, "Quietly?")
        assert not quiet["content"].startswith("<@") and not pinged(stack, quiet).anyone


def reload(stack: Stack, config: str, count: int) -> None:
    """`vai reload` with `config`, once the gateway has applied it (the `count`th time)."""
    stack.write_config(config)
    done = stack.vai("reload")
    assert done.returncode == 0, done.stderr
    assert "mention_on_wait" in done.stdout or "wait_reminder_s" in done.stdout
    log = stack.layout.logs_dir / "gateway.log"
    stack.discord.wait_for(
        lambda: log.read_text().count("settings reloaded") >= count, 20, "the reload"
    )
