"""The whole path: local Discord -> gateway -> supervisor -> worker -> Claude pane, and back."""

from __future__ import annotations

from pathlib import Path

import psutil

from tests.support.harness import wait_until
from tests.support.stack import running_stack
from tests.support.tmux import TmuxServer


def test_two_channels_round_trip_add_session_and_stop(
    short_tmp: Path, tmux_server: TmuxServer
) -> None:
    with running_stack(short_tmp, tmux_server, channels=2) as (stack, (chan_a, chan_b)):
        stack.start()
        stack.wait_all_running()
        for session in (1, 2):
            directory = stack.layout.session_attachments(session)
            assert directory.stat().st_mode & 0o777 == 0o700
            assert tmux_server.has_session(f"claude-session-{session}")

        sent_a = stack.discord.post_user_message(chan_a, "hello from A")
        sent_b = stack.discord.post_user_message(chan_b, "hello from B\nwith two lines")
        stack.wait_bot_message(chan_a, "echo: hello from A")
        stack.wait_bot_message(chan_b, "echo: hello from B\nwith two lines")
        # Each answer went to its own channel only.
        assert [m["content"] for m in stack.bot_messages(chan_a)] == ["echo: hello from A"]
        assert [m["content"] for m in stack.bot_messages(chan_b)] == [
            "echo: hello from B\nwith two lines"
        ]
        for channel, sent in ((chan_a, sent_a), (chan_b, sent_b)):

            def reacted(channel: int = channel, message_id: int = int(sent["id"])) -> bool:
                return {"📥", "✅"} <= set(stack.discord.reactions(channel, message_id))

            stack.discord.wait_for(reacted, 10, "received and accepted reactions")

        # A live session for a new channel.
        chan_c = stack.discord.add_channel("channel-3")
        added = stack.vai("add-session", str(chan_c))
        assert added.returncode == 0, added.stderr
        assert added.stdout.strip() == "Success: Session 3 added"
        assert tmux_server.has_session("claude-session-3")
        assert stack.layout.session_attachments(3).stat().st_mode & 0o777 == 0o700
        stack.discord.post_user_message(chan_c, "hello from C")
        stack.wait_bot_message(chan_c, "echo: hello from C")

        listed = stack.vai("list-sessions")
        assert listed.returncode == 0
        assert [line.split()[:2] for line in listed.stdout.splitlines()[1:]] == [
            ["1", str(chan_a)],
            ["2", str(chan_b)],
            ["3", str(chan_c)],
        ]
        stack.wait_all_running()
        status = stack.vai("status")
        assert status.returncode == 0, status.stdout + status.stderr
        assert status.stdout.count("RUNNING") == 4  # gateway and three sessions

        children = stack.descendants()
        assert len(children) >= 4
        stopped = stack.vai("stop")
        assert stopped.returncode == 0, stopped.stderr
        assert stack.process is not None
        assert stack.process.wait(timeout=20) == 0
        wait_until(
            lambda: not any(p.is_running() and p.status() != "zombie" for p in children),
            10,
            "every process the supervisor started to end",
        )
        assert not any(tmux_server.has_session(f"claude-session-{n}") for n in (1, 2, 3))
        assert stack.vai("status").returncode == 4


def test_messages_in_one_channel_keep_their_order(short_tmp: Path, tmux_server: TmuxServer) -> None:
    with running_stack(short_tmp, tmux_server, channels=1) as (stack, (chan,)):
        stack.start()
        stack.wait_all_running()
        texts = [f"message {i}" for i in range(10)]
        for text in texts:
            stack.discord.post_user_message(chan, text)
        expected = [f"echo: {t}" for t in texts]
        stack.discord.wait_for(
            lambda: len(stack.bot_messages(chan)) >= len(texts), 30, "ten answers"
        )
        assert [m["content"] for m in stack.bot_messages(chan)] == expected


def test_bots_and_unmapped_channels_are_ignored(short_tmp: Path, tmux_server: TmuxServer) -> None:
    with running_stack(short_tmp, tmux_server, channels=1) as (stack, (chan,)):
        stack.start()
        stack.wait_all_running()
        other = stack.discord.add_channel("unmapped")
        stack.discord.post_user_message(other, "nobody listens here")
        stack.discord.post_user_message(
            chan, "from a bot", author={"id": 555, "username": "otherbot", "bot": True}
        )
        stack.discord.post_user_message(chan, "from a human")
        stack.wait_bot_message(chan, "echo: from a human")
        assert [m["content"] for m in stack.bot_messages(chan)] == ["echo: from a human"]
        assert stack.bot_messages(other) == []


def test_pane_never_sees_the_bot_token(short_tmp: Path, tmux_server: TmuxServer) -> None:
    with running_stack(short_tmp, tmux_server, channels=1) as (stack, _):
        stack.start()
        stack.wait_all_running()
        pane_pid = int(
            tmux_server.run("display-message", "-p", "-t", "=claude-session-1:", "#{pane_pid}")
        )
        environ = psutil.Process(pane_pid).environ()
        assert "DISCORD_BOT_TOKEN" not in environ
        assert environ.get("VAI_SESSION") == "1"
        for child in stack.descendants():
            if "worker" in " ".join(child.cmdline()):
                assert "DISCORD_BOT_TOKEN" not in child.environ()
