"""Removing and adding sessions as an operator does, with a running bridge and without one.

A removed session is forgotten: a new channel that gets its number starts a new Claude
conversation and never receives a message the removed channel left queued. `--purge`
deletes every log of the session, rotated ones too, online and offline.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support.harness import wait_until
from tests.support.stack import Stack, running_stack
from tests.support.tmux import TmuxServer
from vai.protocol.layout import Layout

pytestmark = pytest.mark.timeout(180)


def claude_log(path: Path, event: str) -> list[dict[str, Any]]:
    """The stand-in Claude's records of one event (STANDIN_CLAUDE_LOG), oldest first."""
    if not path.exists():
        return []
    records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [r for r in records if r["event"] == event]


def queued(stack: Stack, session: int) -> int:
    document = json.loads(stack.vai("status", "--json").stdout or "{}")
    rows = [s for s in document.get("sessions", []) if s["session"] == session]
    return int(rows[0]["queued"]) if rows else -1


def session_files(layout: Layout, session: int) -> list[Path]:
    """Everything under VAI_HOME that belongs to one session number."""
    run, state, logs = layout.run_dir, layout.state_dir, layout.logs_dir
    found = [
        layout.session_state(session),
        layout.session_run_dir(session),
        layout.hook_spool(session),
        layout.claude_settings(session),
        layout.worker_lock(session),
        layout.session_attachments(session),
        *logs.glob(f"session_{session}.log*"),
    ]
    found += [*run.glob(f"*-{session}.*"), *state.glob(f"*session_{session}.*")]
    return sorted({p for p in found if p.exists()})


def test_a_reused_number_starts_afresh_and_purge_deletes_rotated_logs(
    short_tmp: Path, tmux_server: TmuxServer
) -> None:
    log = short_tmp / "claude.jsonl"
    extra = {"STANDIN_CLAUDE_LOG": str(log)}
    with running_stack(short_tmp, tmux_server, channels=2, extra_env=extra) as (stack, channels):
        layout = stack.layout
        stack.start()
        stack.wait_all_running()

        # Session 2 has a conversation, a turn running and a message waiting behind it.
        stack.discord.post_user_message(channels[1], "the secret plan")
        stack.wait_bot_message(channels[1], "echo: the secret plan", timeout=30)
        old = [r for r in claude_log(log, "prompt") if r["prompt"] == "the secret plan"]
        old_conversation = old[0]["session_id"]
        stack.discord.post_user_message(channels[1], "!sleep 60")
        wait_until(
            lambda: any(r["prompt"].strip() == "!sleep 60" for r in claude_log(log, "prompt")),
            30,
            "Claude busy in session 2",
        )
        stack.discord.post_user_message(channels[1], "queued for the old channel")
        wait_until(lambda: queued(stack, 2) == 2, 30, "a message queued behind the turn")
        assert layout.session_state(2).exists()

        # Rotated logs, as log rotation leaves them.
        for suffix in (".1", ".2"):
            Path(f"{layout.session_log(2)}{suffix}").write_text("an old line\n")

        removed = stack.vai("remove-session", "2", "--purge")
        assert (removed.returncode, removed.stdout.strip()) == (0, "Session 2 removed")
        assert session_files(layout, 2) == []
        assert not tmux_server.has_session("claude-session-2")

        # A new channel gets number 2 and a new Claude conversation.
        fresh = stack.discord.add_channel("channel-new")
        starts_before = len(claude_log(log, "start"))
        added = stack.vai("add-session", str(fresh))
        assert added.returncode == 0, added.stderr
        assert added.stdout.startswith("Success: Session 2 added")
        stack.wait_all_running()
        stack.discord.post_user_message(fresh, "hello from the new channel")
        stack.wait_bot_message(fresh, "echo: hello from the new channel", timeout=30)

        starts = claude_log(log, "start")[starts_before:]
        assert [r["source"] for r in starts] == ["startup"]  # --session-id, not --resume
        new_conversation = starts[0]["session_id"]
        assert new_conversation != old_conversation
        answered = [r for r in claude_log(log, "prompt") if r["session_id"] == new_conversation]
        assert [r["prompt"] for r in answered] == ["hello from the new channel"]
        prompts = [r["prompt"] for r in claude_log(log, "prompt")]
        assert "queued for the old channel" not in prompts
        assert queued(stack, 2) == 0
        screen = tmux_server.run("capture-pane", "-p", "-t", "=claude-session-2:")
        assert "secret plan" not in screen
        assert [m["content"] for m in stack.bot_messages(fresh)] == [
            "echo: hello from the new channel"
        ]
        assert "echo: queued for the old channel" not in [
            m["content"] for m in stack.bot_messages(channels[1])
        ]


def vai_offline(home: Path, tmux_socket: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "VAI_HOME": str(home), "VAI_TMUX_SOCKET": tmux_socket}
    env.pop("DISCORD_BOT_TOKEN", None)
    return subprocess.run(
        [sys.executable, "-m", "vai.supervisor", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_offline_removal_forgets_the_session_and_purges_rotated_logs(
    short_tmp: Path, tmux_server: TmuxServer
) -> None:
    home = short_tmp / "home"
    layout = Layout(str(home))
    socket = tmux_server.socket_name
    assert vai_offline(home, socket, "add-session", "111").returncode == 0
    assert vai_offline(home, socket, "add-session", "222").returncode == 0
    for directory in (layout.run_dir, layout.state_dir, layout.logs_dir):
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    # What a session leaves behind (a worker, Claude's hooks, log rotation)...
    for session in (1, 2):
        layout.session_state(session).write_text('{"conversation_id": "c"}')
        layout.session_run_dir(session).mkdir()
        layout.hook_spool(session).write_text("{}\n")
        layout.claude_settings(session).write_text("{}")
        layout.worker_lock(session).write_text("123")
        layout.session_log(session).write_text("a line\n")
        Path(f"{layout.session_log(session)}.1").write_text("an older line\n")
        (layout.session_attachments(session) / "photo.png").write_bytes(b"x")
    # ...and a session whose number starts with the same digit, which must stay.
    layout.session_log(12).write_text("session twelve\n")

    kept = vai_offline(home, socket, "remove-session", "1")
    assert (kept.returncode, kept.stdout.strip()) == (
        0,
        "Session 1 removed (attachments and log kept)",
    )
    assert session_files(layout, 1) == sorted(
        [layout.session_attachments(1), layout.session_log(1), Path(f"{layout.session_log(1)}.1")]
    )
    purged = vai_offline(home, socket, "remove-session", "2", "--purge")
    assert (purged.returncode, purged.stdout.strip()) == (0, "Session 2 removed")
    assert session_files(layout, 2) == []
    assert layout.session_log(12).read_text() == "session twelve\n"

    # The number comes back clean: the kept files of the removed session 1 are set aside.
    again = vai_offline(home, socket, "add-session", "333")
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith("Success: Session 1 added")
    assert list(layout.session_attachments(1).iterdir()) == []
    assert not layout.session_log(1).exists()
    archived = sorted(p.name for p in (layout.root / "removed").rglob("*") if p.is_file())
    assert archived == ["photo.png", "session_1.log", "session_1.log.1"]
