"""A session per Discord thread, with the whole bridge: the real discord.py gateway against
the local Discord, `vai run`, workers and the stand-in Claude; the parent's work dir is a
git repository, so each thread works in a git worktree of it."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.support.stack import Stack, gateway_pid, running_stack
from tests.support.tmux import TmuxServer
from vai.protocol.layout import tmux_session_name
from vai.supervisor.sessions_file import load_entries

pytestmark = pytest.mark.timeout(240)


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.org", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


def bot_message_starting(stack: Stack, channel: int, start: str, timeout: float = 40) -> str:
    def found() -> str:
        return next(
            (m["content"] for m in stack.bot_messages(channel) if m["content"].startswith(start)),
            "",
        )

    return stack.discord.wait_for(found, timeout, f"a bot message starting {start!r}")


def answer_text(stack: Stack, interaction: int) -> str:
    def found() -> str:
        texts = [
            str(r["data"].get("content") or "")
            for r in stack.discord.interaction_responses(interaction)
            if r["kind"] in ("callback", "followup")
        ]
        return "\n".join(t for t in texts if t)

    return stack.discord.wait_for(found, 30, "the command's answer")


def pane_dir(tmux: TmuxServer, session: int) -> str:
    target = f"={tmux_session_name(session)}:"
    return tmux.run("display-message", "-p", "-t", target, "#{pane_current_path}").strip()


def threads_of(stack: Stack) -> dict[int, Any]:
    return {n: e for n, e in load_entries(stack.layout.sessions_file).items() if e.is_thread}


def test_threads_get_sessions_in_git_worktrees(short_tmp: Path, tmux_server: TmuxServer) -> None:
    with running_stack(short_tmp, tmux_server, channels=2) as (stack, (chan, other)):
        discord = stack.discord
        repo = stack.work_dir
        git(repo, "init", "-q", "-b", "main")
        (repo / "README").write_text("hello\n")
        git(repo, "add", "README")
        git(repo, "commit", "-q", "-m", "start")
        admins = discord.add_role("bridge-admins")
        root = discord.make_user("root", roles=[admins])
        stack.write_config(
            f"[discord]\nadmin_roles = [{admins}]\n"
            f"allowed_users = [{discord.default_user.id}, {root.id}]\n"
            "max_thread_sessions = 2\nremove_worktrees = true\n"
        )
        stack.start()
        stack.wait_all_running()
        discord.wait_for(
            lambda: "threads" in {c["name"] for c in discord.commands(guild=True)}, 20, "/threads"
        )
        on = answer_text(stack, discord.invoke_command(chan, "threads", {"state": "on"}, user=root))
        assert "Threads on for session 1" in on, on

        # A thread in a channel with threads off gets no session.
        quiet = discord.create_thread(other, "no session here")
        discord.post_user_message(quiet, "anyone?")

        # A thread made from a message: its own session, in a git worktree of the parent's.
        starter = discord.post_user_message(chan, "let's branch")
        stack.wait_bot_message(chan, "echo: let's branch")
        first = discord.create_thread(chan, "feature one", message_id=int(starter["id"]))
        said = bot_message_starting(stack, first, "🧵 Session 3 works on this thread")
        tree = repo / ".vai-worktrees" / f"thread-{first}"
        assert str(tree) in said and f"vai/thread-{first}" in said
        joined = [(r.method, r.status) for r in discord.request_log if "thread-members" in r.path]
        assert ("PUT", 204) in joined  # the bot is a member of its session's thread
        discord.post_user_message(first, "hi thread")
        stack.wait_bot_message(first, "echo: hi thread", timeout=30)
        record = threads_of(stack)[3]
        assert (record.channel_id, record.parent_channel_id) == (first, chan)
        assert record.worktree == str(tree)
        assert pane_dir(tmux_server, 3) == os.path.realpath(tree)
        assert f"vai/thread-{first}" in git(repo, "branch", "--list")
        assert git(repo, "status", "--porcelain") == ""  # .vai-worktrees/ is excluded
        # The parent session is unaffected.
        discord.post_user_message(chan, "parent still here")
        stack.wait_bot_message(chan, "echo: parent still here")
        assert not any("parent still" in m["content"] for m in discord.messages(first))
        status = stack.vai("status").stdout
        assert f"thread of {chan}" in next(x for x in status.splitlines() if x.startswith("3 "))
        listed = stack.vai("list-sessions")
        row = next(line for line in listed.stdout.splitlines() if line.startswith("3 "))
        assert str(chan) in row and "feature one" in row

        # The limit: two thread sessions at once; the third thread is told.
        second = discord.create_thread(chan, "feature two")
        bot_message_starting(stack, second, "🧵 Session 4 works on this thread")
        third = discord.create_thread(chan, "feature three")
        refused = bot_message_starting(stack, third, "⚠️ No Claude session for this thread")
        assert "max_thread_sessions" in refused
        assert set(threads_of(stack)) == {3, 4}

        # Archived: the session stops (log kept) and its clean worktree goes.
        discord.archive_thread(first)
        note = bot_message_starting(stack, chan, f"🧵 <#{first}>:")
        assert "clean git worktree" in note and "removed" in note
        assert set(threads_of(stack)) == {4}
        assert not tree.exists()
        assert stack.layout.session_log(3).exists()
        discord.archive_thread(third)  # a refused thread, archived: nothing to stop

        # While the gateway is down: a message in a thread session, and a new thread with
        # a message. Both are caught up once it is back; the new thread gets its session.
        pid = gateway_pid(stack)
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        discord.post_user_message(second, "while you were away")
        fourth = discord.create_thread(chan, "made while away")
        discord.post_user_message(fourth, "new while away")
        stack.wait_bot_message(second, "echo: while you were away", timeout=60)
        bot_message_starting(stack, fourth, "🧵 Session 3 works on this thread", timeout=60)
        stack.wait_bot_message(fourth, "echo: new while away", timeout=30)
        assert set(threads_of(stack)) == {3, 4}

        # Deleted with uncommitted work: the session stops, the worktree stays, it says so.
        second_tree = repo / ".vai-worktrees" / f"thread-{second}"
        (second_tree / "draft.txt").write_text("unsaved\n")
        discord.delete_channel(second)
        kept = bot_message_starting(stack, chan, f"🧵 <#{second}>:")
        assert "uncommitted" in kept and second_tree.exists()
        assert set(threads_of(stack)) == {3}
        assert not stack.bot_messages(quiet)
        assert all(e.channel_id != quiet for e in load_entries(stack.layout.sessions_file).values())

        # The channel's session removed: its thread sessions go with it (their clean
        # worktrees too), and the other channel's session stays.
        fourth_tree = repo / ".vai-worktrees" / f"thread-{fourth}"
        assert fourth_tree.exists()
        removed = stack.vai("remove-session", "1").stdout
        assert "Session 1 removed" in removed and "thread session(s) 3 too" in removed, removed
        assert "clean git worktree" in removed and not fourth_tree.exists(), removed
        assert set(threads_of(stack)) == set()
        assert set(load_entries(stack.layout.sessions_file)) == {2}
