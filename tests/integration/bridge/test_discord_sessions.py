"""Sessions started, bound and closed from Discord: /new, /bind, /close with the whole bridge.

The real discord.py gateway against the local Discord, `vai run`, workers and the stand-in
Claude; the work dirs an admin names are confined to `[claude] work_dir_roots`.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest

from tests.support.stack import Stack, running_stack
from tests.support.tmux import TmuxServer
from vai.protocol.layout import tmux_session_name
from vai.supervisor.sessions_file import load_entries

pytestmark = pytest.mark.timeout(180)


def answer_text(stack: Stack, interaction: int, timeout: float = 30) -> str:
    """What the bot answered: the immediate response or the followups, once there is one."""

    def found() -> str:
        texts = [
            str(r["data"].get("content") or "")
            for r in stack.discord.interaction_responses(interaction)
            if r["kind"] in ("callback", "followup")
        ]
        return "\n".join(t for t in texts if t)

    return stack.discord.wait_for(found, timeout, "the command's answer")


def pane_dir(tmux: TmuxServer, session: int) -> str:
    target = f"={tmux_session_name(session)}:"
    return tmux.run("display-message", "-p", "-t", target, "#{pane_current_path}").strip()


def bot_message_with(stack: Stack, channel: int, start: str) -> dict[str, Any]:
    def found() -> dict[str, Any]:
        return next((m for m in stack.bot_messages(channel) if m["content"].startswith(start)), {})

    return stack.discord.wait_for(found, 20, f"a bot message starting {start!r}")


def test_new_bind_and_close_from_discord(short_tmp: Path, tmux_server: TmuxServer) -> None:
    with running_stack(short_tmp, tmux_server, channels=1) as (stack, (chan,)):
        discord = stack.discord
        admins = discord.add_role("bridge-admins")
        root = discord.make_user("root", roles=[admins])
        mallory = discord.make_user("mallory")
        projects = short_tmp / "projects"
        projects.mkdir()
        outside = short_tmp / "elsewhere"
        outside.mkdir()
        (projects / "escape").symlink_to(outside)
        stack.write_config(
            f"[discord]\nadmin_roles = [{admins}]\n"
            f"allowed_users = [{discord.default_user.id}, {root.id}, {mallory.id}]\n"
            f'[claude]\nwork_dir_roots = ["{projects}"]\n'
        )
        stack.start()
        stack.wait_all_running()
        discord.wait_for(
            lambda: {"new", "bind", "close"} <= {c["name"] for c in discord.commands(guild=True)},
            20,
            "the session commands",
        )
        channels_before = set(discord.call(lambda s: list(s.store.channels)))

        # Admins only; and only inside the roots (no absolute escape, no symlink, no `..`).
        refused = answer_text(
            stack, discord.invoke_command(chan, "new", {"work_dir": "x"}, user=mallory)
        )
        assert "Only admins" in refused
        for escape in (str(outside), "escape", "../elsewhere", "/etc"):
            answer = answer_text(
                stack, discord.invoke_command(chan, "new", {"work_dir": escape}, user=root)
            )
            assert "outside the allowed work dirs" in answer, (escape, answer)
        assert set(discord.call(lambda s: list(s.store.channels))) == channels_before
        assert not (projects / "x").exists()

        # /new: a channel, a session working in the (made) directory, answering there.
        answer = answer_text(
            stack,
            discord.invoke_command(chan, "new", {"work_dir": "app", "name": "My App"}, user=root),
        )
        assert "Session 2 added" in answer, answer
        match = re.search(r"<#(\d+)>", answer)
        assert match is not None
        new_chan = int(match[1])
        assert discord.call(lambda s: s.store.channels[new_chan]["name"]) == "my-app"
        app_dir = os.path.realpath(projects / "app")
        assert Path(app_dir).is_dir()
        discord.post_user_message(new_chan, "hello app")
        stack.wait_bot_message(new_chan, "echo: hello app", timeout=30)
        assert pane_dir(tmux_server, 2) == app_dir
        entries = load_entries(stack.layout.sessions_file)
        assert entries[2].channel_id == new_chan
        assert (entries[2].work_dir, entries[2].name) == (app_dir, "my-app")
        assert entries[1].work_dir == ""  # the first session keeps the global work dir

        # /bind: this channel becomes a session (once).
        third = discord.add_channel("third")
        answer = answer_text(
            stack, discord.invoke_command(third, "bind", {"work_dir": "lib"}, user=root)
        )
        assert "Session 3 added" in answer, answer
        again = answer_text(stack, discord.invoke_command(third, "bind", user=root))
        assert "already session 3" in again
        discord.post_user_message(third, "hello lib")
        stack.wait_bot_message(third, "echo: hello lib", timeout=30)
        assert pane_dir(tmux_server, 3) == os.path.realpath(projects / "lib")
        listed = stack.vai("list-sessions")
        assert "my-app" in listed.stdout and app_dir in listed.stdout

        # /close with purge: asks first; a non-admin's click is refused; then it is gone.
        assert stack.layout.session_log(2).exists()
        discord.invoke_command(new_chan, "close", {"purge": True}, user=root)
        confirm = bot_message_with(stack, new_chan, "Close session 2?")
        denied = discord.click_button(new_chan, int(confirm["id"]), "vai:close:2:1", user=mallory)
        assert "Only admins" in answer_text(stack, denied)
        assert 2 in load_entries(stack.layout.sessions_file)
        discord.click_button(new_chan, int(confirm["id"]), "vai:close:2:1", user=root)
        discord.wait_for(
            lambda: discord.message(new_chan, int(confirm["id"]))["content"].startswith(
                "✅ Session 2 removed"
            ),
            30,
            "the close to be done",
        )
        assert set(load_entries(stack.layout.sessions_file)) == {1, 3}
        assert not stack.layout.session_log(2).exists()
        assert not stack.layout.session_attachments(2).exists()
        assert tmux_session_name(2) not in tmux_server.run("list-sessions", check=False)
        not_session = answer_text(stack, discord.invoke_command(new_chan, "close", user=root))
        assert "not a session" in not_session
        # The other sessions carry on.
        discord.post_user_message(chan, "still here?")
        stack.wait_bot_message(chan, "echo: still here?", timeout=30)
