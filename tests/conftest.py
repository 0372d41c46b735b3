"""Shared fixtures: a private tmux server and a short temp dir per test.

Unix socket paths (ZeroMQ ipc, tmux, hook sockets) are limited to ~107 bytes, so tests
use short directories under /tmp rather than pytest's deep tmp_path.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.tmux import TmuxServer


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
