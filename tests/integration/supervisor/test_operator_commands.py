"""What an operator does next to supervisorctl/systemctl, against a real bridge: restart a
session (worker and Claude) or everything but the supervisor, stop a session until it is
started again (across supervisor restarts, its messages waiting), reload vai.toml (also on
SIGHUP), read every log at once, interrupt an idle session, and stop without leaving
anything `vai doctor` would warn about.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path
from typing import Any

from tests.support.harness import wait_until
from tests.support.stack import Stack, gateway_pid, running_stack
from tests.support.tmux import TmuxServer
from vai.protocol.messages import InterruptSession, OkReply
from vai.supervisor.control_client import request


def status_json(stack: Stack) -> dict[str, Any]:
    done = stack.vai("status", "--json", "--timeout", "20")
    document: dict[str, Any] = json.loads(done.stdout)
    return document


def session(stack: Stack, number: int) -> dict[str, Any]:
    """The session's entry in `vai status --json` ({} while the supervisor starts)."""
    sessions = status_json(stack).get("sessions", [])
    found: dict[str, Any] = next((s for s in sessions if s["session"] == number), {})
    return found


def ok(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout.strip()


def test_operator_commands(short_tmp: Path, tmux_server: TmuxServer) -> None:
    with running_stack(short_tmp, tmux_server, channels=2) as (stack, (chan_1, chan_2)):
        stack.start()
        stack.wait_all_running()

        # /interrupt on an idle session says so (the worker knows), rather than "interrupted".
        reply = request(stack.layout, InterruptSession(session=1), 20)
        assert isinstance(reply, OkReply)
        assert reply.text == "Session 1 is idle: nothing to interrupt"

        # stop-session: STOPPED (by operator), Claude's pane gone, messages wait.
        stopped = ok(stack.vai("stop-session", "2"))
        assert stopped.startswith("Session 2 stopped (by operator)")
        assert not tmux_server.has_session("claude-session-2")
        status = stack.vai("status")
        assert status.returncode == 3
        row = next(line for line in status.stdout.splitlines() if line.startswith("2 "))
        assert row.split()[2] == "STOPPED" and row.endswith("by operator")
        assert ok(stack.vai("stop-session", "2")) == "Session 2 is already stopped"
        refused = stack.vai("recover", "2")
        assert refused.returncode == 1 and "vai start-session 2" in refused.stderr
        stack.discord.post_user_message(chan_2, "kept for later")
        wait_until(lambda: session(stack, 2)["queued"] == 1, 20, "the message waiting")
        assert session(stack, 2)["state"] == "STOPPED"

        # It stays stopped across a supervisor restart, never fought by auto-restart.
        assert ok(stack.vai("stop")) == "stopped"
        assert stack.process is not None and stack.process.wait(30) == 0
        stack.start()
        wait_until(lambda: session(stack, 1).get("state") == "RUNNING", 30, "session 1 back")
        assert session(stack, 2)["state"] == "STOPPED"
        assert session(stack, 2)["detail"] == "by operator"

        # start-session: the waiting message is delivered.
        assert ok(stack.vai("start-session", "2")) == "Session 2 starting"
        stack.wait_bot_message(chan_2, "echo: kept for later", 30)
        assert ok(stack.vai("start-session", "2")).startswith("Session 2 is not stopped")

        # restart N: the worker and Claude (a new pane process); it answers again.
        before = session(stack, 1)
        restarted = ok(stack.vai("restart", "1"))
        assert restarted.startswith("Session 1 restarted")
        wait_until(lambda: session(stack, 1).get("state") == "RUNNING", 30, "session 1 again")
        after = session(stack, 1)
        assert after["pid"] != before["pid"] and after["claude_pid"] != before["claude_pid"]
        stack.discord.post_user_message(chan_1, "after restart")
        stack.wait_bot_message(chan_1, "echo: after restart", 30)

        # restart without N: every session and the gateway; the supervisor stays.
        supervisor = status_json(stack)["supervisor"]["pid"]
        gateway = gateway_pid(stack)
        everything = ok(stack.vai("restart", timeout=120))
        assert everything == "restarted 2 session(s) and the gateway"
        stack.wait_all_running(60)
        assert status_json(stack)["supervisor"]["pid"] == supervisor
        assert gateway_pid(stack) != gateway

        # reload: what applies now, at the next start, or only with a supervisor restart.
        stack.write_config(
            "[discord]\nuser_burst = 50\n[claude]\nready_timeout = 20.0\n"
            "[supervisor]\nstart_retries = 5\n"
        )
        lines = ok(stack.vai("reload")).splitlines()
        assert lines[0] == "applied now: discord.user_burst"
        assert lines[1].startswith("applied when each process next starts")
        assert lines[1].endswith(": claude.ready_timeout")
        assert lines[2].startswith("NOT applied, needs the supervisor restarted")
        assert lines[2].endswith(": supervisor.start_retries")
        # Again: only what still waits for a supervisor restart is left to say.
        assert ok(stack.vai("reload")) == lines[2]
        stack.write_config("[discord]\nuser_burst = 'many'\n")
        broken = stack.vai("reload")
        assert broken.returncode == 1 and "vai.toml" in broken.stderr
        # SIGHUP does the same (and no longer stops the supervisor).
        stack.write_config("[discord]\nuser_burst = 60\n")
        os.kill(stack.process.pid, signal.SIGHUP)
        log = stack.layout.process_log("supervisor")
        wait_until(
            lambda: "reload: applied now: discord.user_burst" in log.read_text(), 20, "SIGHUP"
        )
        assert stack.vai("status").returncode == 0

        # tail all: every log, interleaved by time, each line with its source.
        tail = ok(stack.vai("tail", "all", "-n", "400")).splitlines()
        assert any(line.startswith("supervisor ") and " | " in line for line in tail)
        assert any(line.startswith("session 2 ") for line in tail)
        assert any(line.startswith("gateway ") for line in tail)
        stamps = [line.split(" | ", 1)[1][:24] for line in tail if " | 20" in line]
        assert stamps == sorted(stamps)
        assert stack.vai("tail", "bogus").returncode == 2

        # A clean stop leaves nothing for doctor to warn about.
        assert ok(stack.vai("stop")) == "stopped"
        doctor = stack.vai("doctor", "--offline")
        assert "stale socket" not in doctor.stdout and "stale pid" not in doctor.stdout, (
            doctor.stdout
        )
        assert not list(stack.layout.run_dir.glob("*.sock"))
        assert not stack.layout.pid_file.exists()
