"""The Discord front end with the whole bridge: `vai run`, workers and the stand-in Claude."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import psutil
import pytest
from cryptography.fernet import Fernet

from tests.support.harness import standin_command, wait_until
from tests.support.stack import Stack, running_stack
from tests.support.tmux import TmuxServer
from vai.supervisor.sessions_file import load_sessions

pytestmark = pytest.mark.timeout(120)


def followup_text(stack: Stack, interaction: int) -> str:
    def found() -> str:
        responses = stack.discord.interaction_responses(interaction)
        texts = [r["data"].get("content", "") for r in responses if r["kind"] == "followup"]
        return "\n".join(texts)

    return stack.discord.wait_for(found, 20, "the command's answer")


def test_slash_commands_ask_the_real_supervisor(short_tmp: Path, tmux_server: TmuxServer) -> None:
    with running_stack(short_tmp, tmux_server, channels=2) as (stack, (chan_a, chan_b)):
        stack.start()
        stack.wait_all_running()
        stack.discord.wait_for(lambda: stack.discord.commands(guild=True), 20, "commands")
        status = followup_text(stack, stack.discord.invoke_command(chan_a, "status"))
        assert "supervisor pid" in status and "2 of 2 sessions running" in status
        assert status.count("RUNNING") == 3  # the gateway and both sessions, like `vai status`
        sessions = followup_text(stack, stack.discord.invoke_command(chan_a, "sessions"))
        assert f"<#{chan_a}>" in sessions and f"<#{chan_b}>" in sessions
        interrupted = followup_text(stack, stack.discord.invoke_command(chan_b, "interrupt"))
        # Session 2 is idle: the answer says so (it used to claim "interrupted").
        assert "Session 2 is idle: nothing to interrupt" in interrupted
        recovered = followup_text(stack, stack.discord.invoke_command(chan_b, "recover"))
        assert "Session 2 restarting" in recovered
        stack.wait_all_running()
        stack.discord.post_user_message(chan_b, "still there?")
        stack.wait_bot_message(chan_b, "echo: still there?", timeout=30)


def test_access_lists_from_vai_toml(short_tmp: Path, tmux_server: TmuxServer) -> None:
    with running_stack(short_tmp, tmux_server, channels=2) as (stack, (chan_a, chan_b)):
        alice = stack.discord.make_user("alice")
        bob = stack.discord.make_user("bob")
        stack.write_config(
            f"""
[discord]
allowed_users = [{alice.id}]
denied_reaction = "🚫"

[discord.sessions.2]
allowed_users = [{bob.id}]
"""
        )
        stack.start()
        stack.wait_all_running()
        refused = stack.discord.post_user_message(chan_a, "bob in A", author=bob)
        stack.discord.post_user_message(chan_a, "alice in A", author=alice)
        stack.discord.post_user_message(chan_b, "alice in B", author=alice)
        stack.discord.post_user_message(chan_b, "bob in B", author=bob)
        stack.wait_bot_message(chan_a, "echo: alice in A")
        stack.wait_bot_message(chan_b, "echo: bob in B")
        stack.discord.wait_for(
            lambda: "🚫" in stack.discord.reactions(chan_a, int(refused["id"])), 10, "🚫"
        )
        assert [m["content"] for m in stack.bot_messages(chan_a)] == ["echo: alice in A"]
        assert [m["content"] for m in stack.bot_messages(chan_b)] == ["echo: bob in B"]


def test_a_long_answer_from_claude_arrives_split_with_fences_intact(
    short_tmp: Path, tmux_server: TmuxServer
) -> None:
    with running_stack(short_tmp, tmux_server, channels=1) as (stack, (chan,)):
        stack.start()
        stack.wait_all_running()
        stack.discord.post_user_message(chan, "!long 4500")
        stack.discord.wait_for(lambda: len(stack.bot_messages(chan)) >= 3, 30, "3 parts")
        texts = [m["content"] for m in stack.bot_messages(chan)]
        assert len(texts) == 3 and all(len(t) <= 2000 for t in texts)
        assert all(t.count("```") % 2 == 0 for t in texts)
        assert "```python" in "".join(texts)


def worker_pid(stack: Stack, session: int) -> int | None:
    for process in stack.descendants():
        try:
            cmdline = process.cmdline()
            environ = process.environ()
        except psutil.Error:
            continue
        if cmdline[-2:] == ["-m", "vai.worker"] and f'"session":{session}' in environ.get(
            "VAI_WORKER_SPEC", ""
        ):
            return process.pid
    return None


def test_a_session_that_comes_back_is_announced(short_tmp: Path, tmux_server: TmuxServer) -> None:
    ready = short_tmp / "claude-may-start"
    # Claude cannot start until `ready` exists: the session goes FATAL, then is recovered.
    claude = ["sh", "-c", f'[ -e {ready} ] || exit 3; exec "$0" "$@"', *standin_command()]
    with running_stack(short_tmp, tmux_server, channels=1, claude_command=claude) as (
        stack,
        (chan,),
    ):
        stack.write_config("[supervisor]\nstart_retries = 2\nbackoff_base = 0.2\n")
        stack.start()
        stopped = stack.discord.wait_for(
            lambda: [m for m in stack.bot_messages(chan) if "Session 1 stopped" in m["content"]],
            30,
            "the FATAL alert",
        )
        assert len(stopped) == 1
        ready.touch()
        assert stack.vai("recover", "1").returncode == 0
        stack.wait_bot_message(chan, "✅ Session 1 recovered: running again.", timeout=30)
        stack.wait_all_running()
        # A worker that dies and comes back by itself is no news: Claude never noticed.
        pid = wait_until(lambda: worker_pid(stack, 1), 10, "the worker")
        psutil.Process(pid).kill()
        wait_until(lambda: worker_pid(stack, 1) not in (None, pid), 30, "a new worker")
        stack.wait_all_running()
        stack.discord.post_user_message(chan, "still here?")
        stack.wait_bot_message(chan, "echo: still here?")
        assert len(stack.bot_messages(chan)) == 3


def test_encrypted_sessions_file_and_add_session_from_discord(
    short_tmp: Path, tmux_server: TmuxServer
) -> None:
    key = Fernet.generate_key().decode()
    with running_stack(short_tmp, tmux_server, channels=1, extra_env={"ENCRYPTION_KEY": key}) as (
        stack,
        (chan,),
    ):
        admins = stack.discord.add_role("bridge-admins")
        root = stack.discord.make_user("root", roles=[admins])
        stack.write_config(f"[discord]\nadmin_roles = [{admins}]\n")
        migrated = stack.vai("encrypt-sessions")
        assert migrated.returncode == 0, migrated.stderr
        assert str(chan) not in stack.layout.sessions_file.read_text()
        stack.start()
        stack.wait_all_running()
        stack.discord.post_user_message(chan, "secret channel")
        stack.wait_bot_message(chan, "echo: secret channel")

        new_chan = stack.discord.add_channel("new-work")
        added = followup_text(
            stack, stack.discord.invoke_command(new_chan, "add-session", user=root)
        )
        assert "Session 2 added" in added
        stored: dict[str, Any] = json.loads(stack.layout.sessions_file.read_text())
        assert not any(str(v).isdigit() for v in stored.values())
        assert load_sessions(stack.layout.sessions_file, key) == {1: chan, 2: new_chan}
        stack.discord.post_user_message(new_chan, "hello new session")
        stack.wait_bot_message(new_chan, "echo: hello new session", timeout=30)


def test_a_bad_token_shows_in_vai_status_and_is_not_retried(
    short_tmp: Path, tmux_server: TmuxServer
) -> None:
    with running_stack(
        short_tmp, tmux_server, channels=1, extra_env={"DISCORD_BOT_TOKEN": "wrong"}
    ) as (stack, _):
        stack.start()

        def gateway_row(out: str) -> str:
            return next((line for line in out.splitlines() if line.startswith("gateway")), "")

        def fatal() -> str:
            out = stack.vai("status").stdout
            return out if "FATAL" in gateway_row(out) else ""

        out = wait_until(fatal, 30, "the gateway FATAL in vai status")
        assert "problem: Discord refused the bot token" in out
        assert "DISCORD_BOT_TOKEN" in out
        assert stack.vai("status").returncode == 3
        assert stack.discord.invalid_request_count == 1  # one 401, never a retry storm


def test_dp_files_within_discords_limit_and_a_clear_error_otherwise(
    short_tmp: Path, tmux_server: TmuxServer
) -> None:
    with running_stack(short_tmp, tmux_server, channels=1) as (stack, (chan,)):
        stack.start()
        stack.wait_all_running()
        small = short_tmp / "notes.txt"
        small.write_text("the notes")
        big = short_tmp / "big.bin"
        with big.open("wb") as f:
            f.truncate(11 * 1024 * 1024)

        def dp(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [sys.executable, "-m", "vai.supervisor.dp", *args],
                env=stack.env,
                capture_output=True,
                text=True,
                timeout=30,
                check=False,
            )

        refused = dp("1", "--file", str(big))
        assert refused.returncode == 1
        assert "big.bin" in refused.stderr and "11.0 MiB" in refused.stderr
        assert "10.0 MiB" in refused.stderr and "Traceback" not in refused.stderr
        sent = dp("1", "--file", str(small))
        assert sent.returncode == 0, sent.stderr
        stack.discord.wait_for(
            lambda: any(m["attachments"] for m in stack.bot_messages(chan)), 15, "the file"
        )
        attachment = next(m for m in stack.bot_messages(chan) if m["attachments"])["attachments"][0]
        assert attachment["filename"] == "notes.txt"
        assert stack.discord.attachment_bytes(chan, int(attachment["id"])) == b"the notes"
