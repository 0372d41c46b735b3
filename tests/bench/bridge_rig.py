"""A whole bridge for benchmarks: `vai run` with N stand-in sessions and a local Discord.

Timestamps come from where the events happen: the local Discord server stamps messages
as it stores them, and the stand-in Claude logs (STANDIN_CLAUDE_LOG) the moment it fires
UserPromptSubmit and Stop. All on one machine, one clock.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from tests.support.stack import Stack, running_stack
from tests.support.tmux import TmuxServer


def stamp(message: dict[str, Any]) -> float:
    return datetime.fromisoformat(message["timestamp"]).timestamp()


@dataclass
class Rig:
    stack: Stack
    channels: list[int]
    log: Path

    def events(self) -> list[dict[str, Any]]:
        try:
            lines = self.log.read_text().splitlines()
        except FileNotFoundError:
            return []
        return [json.loads(line) for line in lines if line.strip()]

    def prompt_times(self) -> dict[str, float]:
        return {e["prompt"]: e["t"] for e in self.events() if e.get("event") == "prompt"}

    def stop_times(self) -> dict[str, float]:
        """Prompt text -> when its Stop hook fired."""
        by_id = {e["prompt_id"]: e["prompt"] for e in self.events() if e.get("event") == "prompt"}
        return {
            by_id[e["prompt_id"]]: e["t"]
            for e in self.events()
            if e.get("event") == "stop" and e["prompt_id"] in by_id
        }

    def post(self, channel: int, text: str) -> float:
        """Post as a user; returns the server's timestamp of the message."""
        return stamp(self.stack.discord.post_user_message(channel, text))

    def reply_time(self, channel: int, text: str) -> float | None:
        for message in self.stack.bot_messages(channel):
            if message["content"] == f"echo: {text}":
                return stamp(message)
        return None

    def wait_replies(self, pairs: list[tuple[int, str]], timeout: float = 60) -> None:
        self.stack.discord.wait_for(
            lambda: all(self.reply_time(c, t) is not None for c, t in pairs),
            timeout,
            f"{len(pairs)} replies",
        )


@contextlib.contextmanager
def bridge(sessions: int, config: str = "", **extra_env: str) -> Iterator[Rig]:
    home = Path(tempfile.mkdtemp(prefix="vai-b-", dir="/tmp"))
    tmux = TmuxServer(f"vai-bench-{os.getpid()}-{uuid.uuid4().hex[:6]}")
    log = home / "standin.log"
    env = {"STANDIN_CLAUDE_LOG": str(log), **extra_env}
    try:
        with running_stack(home, tmux, channels=sessions, rate_limits=False, extra_env=env) as (
            stack,
            channels,
        ):
            if config:
                stack.write_config(config)
            stack.start()
            stack.wait_all_running(timeout=120)
            yield Rig(stack, channels, log)
            stack.vai("stop")
            if stack.process is not None:
                stack.process.wait(timeout=60)
    finally:
        tmux.kill()
        shutil.rmtree(home, ignore_errors=True)
