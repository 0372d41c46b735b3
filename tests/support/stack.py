"""A whole bridge for end-to-end tests: `vai run` as a real process against a local Discord.

Everything is private to one test: VAI_HOME, the tmux socket, the Discord server's port.
Processes are ended by pid, never by name.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import psutil

from tests.support.harness import end_process_tree, standin_command, wait_until
from tests.support.tmux import TmuxServer
from vai.gateway.local_discord import LocalDiscordThread
from vai.protocol.layout import Layout

TOKEN = "test-token"


class Stack:
    def __init__(
        self,
        home: Path,
        tmux: TmuxServer,
        discord: LocalDiscordThread,
        claude_command: list[str] | None = None,
        extra_env: Mapping[str, str] | None = None,
    ) -> None:
        self.home = home / "vai"
        self.layout = Layout(str(self.home))
        self.tmux = tmux
        self.discord = discord
        self.work_dir = home / "work"
        self.work_dir.mkdir(parents=True, exist_ok=True)
        claude_home = home / "claude-home"
        claude_home.mkdir(exist_ok=True)
        self.env = {
            **os.environ,
            "VAI_HOME": str(self.home),
            "DISCORD_BOT_TOKEN": TOKEN,
            "VAI_DISCORD_API_URL": discord.api_url,
            "VAI_DISCORD_GATEWAY_URL": discord.gateway_url,
            "VAI_CLAUDE_COMMAND": shlex.join(claude_command or standin_command()),
            "VAI_CLAUDE_WORK_DIR": str(self.work_dir),
            "VAI_TMUX_SOCKET": tmux.socket_name,
            "HOME": str(claude_home),
            "STANDIN_CLAUDE_STARTUP_MS": "0",
            **(extra_env or {}),
        }
        self.process: subprocess.Popen[bytes] | None = None

    def write_sessions(self, sessions: dict[int, int]) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        data = {str(n): str(c) for n, c in sessions.items()}
        self.layout.sessions_file.write_text(json.dumps(data))

    def write_config(self, text: str) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        self.layout.config_file.write_text(text)

    def start(self, prefix: Sequence[str] = ()) -> None:
        """`vai run`, after `prefix` (a command that runs it, such as setpriv) if given."""
        self.home.mkdir(parents=True, exist_ok=True)
        log = open(self.home / "vai-run.out", "ab")  # noqa: SIM115 - handed to the child
        self.process = subprocess.Popen(
            [*prefix, sys.executable, "-m", "vai.supervisor", "run"],
            env=self.env,
            stdout=log,
            stderr=log,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        log.close()

    def vai(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "vai.supervisor", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def wait_all_running(self, timeout: float = 30) -> None:
        wait_until(lambda: self.vai("status").returncode == 0, timeout, "all sessions RUNNING")

    def bot_messages(self, channel_id: int) -> list[dict[str, Any]]:
        bot = self.discord.bot_user_id
        return [m for m in self.discord.messages(channel_id) if int(m["author"]["id"]) == bot]

    def wait_bot_message(
        self, channel_id: int, content: str, timeout: float = 15
    ) -> dict[str, Any]:
        def found() -> dict[str, Any]:
            return next((m for m in self.bot_messages(channel_id) if m["content"] == content), {})

        return self.discord.wait_for(found, timeout, f"bot message {content!r} in {channel_id}")

    def descendants(self) -> list[psutil.Process]:
        assert self.process is not None
        try:
            return psutil.Process(self.process.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []

    def output(self) -> str:
        parts = []
        for path in [self.home / "vai-run.out", *sorted(self.layout.logs_dir.glob("*.log"))]:
            with contextlib.suppress(OSError):
                parts.append(f"--- {path.name}\n{path.read_text(errors='replace')[-4000:]}")
        panes = self.tmux.run("list-sessions", "-F", "#{session_name}", check=False).split()
        for name in panes:
            screen = self.tmux.run("capture-pane", "-p", "-t", f"={name}:", check=False)
            parts.append(f"--- pane {name}\n{screen.rstrip()}")
        return "\n".join(parts)

    def kill(self) -> None:
        """Teardown: end the supervisor's process group and every process it started."""
        end_process_tree(self.process)


@contextlib.contextmanager
def running_stack(
    home: Path, tmux: TmuxServer, channels: int = 2, rate_limits: bool = True, **kwargs: Any
) -> Iterator[tuple[Stack, list[int]]]:
    with LocalDiscordThread(token=TOKEN, rate_limits=rate_limits) as discord:
        ids = [discord.add_channel(f"channel-{i}") for i in range(1, channels + 1)]
        stack = Stack(home, tmux, discord, **kwargs)
        stack.write_sessions({n: c for n, c in enumerate(ids, start=1)})
        try:
            yield stack, ids
        except BaseException:
            print(stack.output())
            raise
        finally:
            stack.kill()


def worker_pids(stack: Stack) -> dict[int, int]:
    """session -> worker pid, from the supervisor's process tree."""
    found = {}
    for process in stack.descendants():
        try:
            if process.cmdline()[-2:] == ["-m", "vai.worker"]:
                session = int(
                    process.environ()["VAI_WORKER_SPEC"].split('"session":')[1].split(",")[0]
                )
                found[session] = process.pid
        except (psutil.Error, IndexError, KeyError, ValueError):
            continue
    return found


def gateway_pid(stack: Stack) -> int | None:
    for process in stack.descendants():
        try:
            if process.cmdline()[-2:] == ["-m", "vai.gateway"]:
                return process.pid
        except psutil.Error:
            continue
    return None
