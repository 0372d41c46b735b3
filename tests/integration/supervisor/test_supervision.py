"""Supervision with real processes: hung workers, restart storms, a supervisor SIGKILLed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil

from tests.support.harness import wait_until
from tests.support.stack import gateway_pid, running_stack, worker_pids
from tests.support.tmux import TmuxServer


def test_a_hung_worker_is_killed_and_restarted(short_tmp: Path, tmux_server: TmuxServer) -> None:
    with running_stack(short_tmp, tmux_server, channels=1) as (stack, (chan,)):
        stack.write_config("[supervisor]\nheartbeat_interval = 0.2\n")
        stack.start()
        stack.wait_all_running()
        hung = worker_pids(stack)[1]
        os.kill(hung, signal.SIGSTOP)  # alive, but silent
        wait_until(lambda: worker_pids(stack).get(1) not in (None, hung), 15, "a new worker")
        assert not psutil.pid_exists(hung) or psutil.Process(hung).status() == "zombie"
        stack.wait_all_running()
        stack.discord.post_user_message(chan, "after the hang")
        stack.wait_bot_message(chan, "echo: after the hang")


def test_restart_storm_ends_fatal_with_an_alert_and_no_busy_loop(
    short_tmp: Path, tmux_server: TmuxServer
) -> None:
    with running_stack(short_tmp, tmux_server, channels=1, claude_command=["false"]) as (
        stack,
        (chan,),
    ):
        stack.write_config("[supervisor]\nstart_retries = 3\nbackoff_base = 0.3\nbackoff_max = 2\n")
        stack.start()
        assert stack.process is not None
        supervisor = psutil.Process(stack.process.pid)
        started = time.monotonic()

        def fatal_alert() -> dict[str, Any]:
            return next(
                (m for m in stack.bot_messages(chan) if "Session 1 stopped" in m["content"]), {}
            )

        alert = stack.discord.wait_for(fatal_alert, 30, "the FATAL alert in the session's channel")
        elapsed = time.monotonic() - started
        assert "vai recover 1" in alert["content"]
        status = stack.vai("status")
        assert status.returncode == 3
        assert "FATAL" in status.stdout
        cpu = supervisor.cpu_times()
        used = cpu.user + cpu.system
        print(f"restart storm: FATAL after {elapsed:.2f}s, supervisor CPU {used:.2f}s")
        # A busy loop would burn about one core for the whole storm.
        assert used < 0.5 * elapsed + 0.5
        recovered = stack.vai("recover", "1")
        assert recovered.returncode == 0, recovered.stderr


def test_supervisor_sigkilled_is_replaced_without_duplicates(
    short_tmp: Path, tmux_server: TmuxServer
) -> None:
    with running_stack(short_tmp, tmux_server, channels=2) as (stack, (chan_a, chan_b)):
        stack.start()
        stack.wait_all_running()
        old_children = stack.descendants()
        old_gateway = gateway_pid(stack)
        panes = tmux_server.run("list-panes", "-a", "-F", "#{session_name} #{pane_pid}")
        assert stack.process is not None
        os.kill(stack.process.pid, signal.SIGKILL)
        stack.process.wait()
        # Posted while no supervisor runs: caught up by the next one's gateway.
        stack.discord.post_user_message(chan_a, "while the supervisor was dead")
        stack.start()
        stack.wait_all_running()
        wait_until(
            lambda: not any(p.is_running() and p.status() != "zombie" for p in old_children),
            15,
            "the dead supervisor's children to be gone",
        )
        assert gateway_pid(stack) not in (None, old_gateway)
        # Claude was adopted, not restarted.
        assert tmux_server.run("list-panes", "-a", "-F", "#{session_name} #{pane_pid}") == panes
        stack.wait_bot_message(chan_a, "echo: while the supervisor was dead", timeout=30)
        stack.discord.post_user_message(chan_b, "and after")
        stack.wait_bot_message(chan_b, "echo: and after")
        assert len(stack.bot_messages(chan_a)) == 1


def test_stop_is_bounded_even_with_a_stuck_worker(short_tmp: Path, tmux_server: TmuxServer) -> None:
    with running_stack(short_tmp, tmux_server, channels=1) as (stack, _):
        stack.write_config("[supervisor]\nstop_grace = 1.0\n")
        stack.start()
        stack.wait_all_running()
        stuck = worker_pids(stack)[1]
        os.kill(stuck, signal.SIGSTOP)
        started = time.monotonic()
        stopped = stack.vai("stop", "--timeout", "20")
        assert stopped.returncode == 0, stopped.stderr
        assert stack.process is not None
        stack.process.wait(timeout=20)
        print(f"vai stop with a stopped worker took {time.monotonic() - started:.2f}s")
        assert not psutil.pid_exists(stuck) or psutil.Process(stuck).status() == "zombie"
        assert not tmux_server.has_session("claude-session-1")


def test_vai_run_refuses_a_second_supervisor(short_tmp: Path, tmux_server: TmuxServer) -> None:
    with running_stack(short_tmp, tmux_server, channels=1) as (stack, _):
        stack.start()
        stack.wait_all_running()
        second = subprocess.run(
            [sys.executable, "-m", "vai.supervisor", "run"],
            env=stack.env,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert second.returncode != 0
        assert "already running" in second.stderr
        assert "Traceback" not in second.stderr


def test_a_gateway_with_a_bad_token_is_fatal_at_once(
    short_tmp: Path, tmux_server: TmuxServer
) -> None:
    bad = {"DISCORD_BOT_TOKEN": "a-wrong-token"}
    with running_stack(short_tmp, tmux_server, channels=1, extra_env=bad) as (stack, _):
        stack.start()

        def fatal() -> dict[str, Any] | None:
            done = stack.vai("status", "--json")
            document: dict[str, Any] = json.loads(done.stdout or "{}")
            return document if document.get("gateway", {}).get("state") == "FATAL" else None

        document = wait_until(fatal, 60, "the gateway FATAL", 0.2)
        assert any("Discord refused the bot token" in p for p in document["problems"])
        log = stack.layout.process_log("supervisor").read_text()
        assert log.count("gateway: started pid") == 1  # never restarted into the same wall
        assert "only the operator can fix it" in log
        assert stack.discord.invalid_request_count == 1
