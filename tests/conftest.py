"""Shared fixtures: a private tmux server and a short temp dir per test.

Unix socket paths (ZeroMQ ipc, tmux, hook sockets) are limited to ~107 bytes, so tests
use short directories under /tmp rather than pytest's deep tmp_path.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest


class TmuxServer:
    """A tmux server on its own socket (`tmux -L name`), killed at teardown."""

    def __init__(self, socket_name: str) -> None:
        self.socket_name = socket_name

    def run(self, *args: str, check: bool = True) -> str:
        done = subprocess.run(
            ["tmux", "-L", self.socket_name, *args],
            capture_output=True,
            text=True,
            check=False,
        )
        if check and done.returncode != 0:
            raise RuntimeError(f"tmux {' '.join(args)} failed: {done.stderr.strip()}")
        return done.stdout

    def capture(self, target: str) -> str:
        return self.run("capture-pane", "-p", "-t", target)

    def has_session(self, name: str) -> bool:
        return (
            subprocess.run(
                ["tmux", "-L", self.socket_name, "has-session", "-t", f"={name}"],
                capture_output=True,
                check=False,
            ).returncode
            == 0
        )

    def kill(self) -> None:
        subprocess.run(
            ["tmux", "-L", self.socket_name, "kill-server"], capture_output=True, check=False
        )


@pytest.fixture
def short_tmp() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="vai-", dir="/tmp"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def tmux_server() -> Iterator[TmuxServer]:
    server = TmuxServer(f"vai-test-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    try:
        yield server
    finally:
        server.kill()
