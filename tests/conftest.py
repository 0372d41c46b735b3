"""Shared fixtures: a private tmux server and a short temp dir per test; the `--claude-code`
option choosing the real CLI the `realclaude` tests drive (tests/support/claude_versions.py).

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

from tests.support import claude_versions
from tests.support.real_claude import find_real_claude
from tests.support.tmux import TmuxServer


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--claude-code",
        default=None,
        metavar="VERSION",
        help="run the realclaude tests against this Claude Code CLI (`latest`, a dist-tag or "
        "a version; installed into .cache/claude-code-<version>); sets "
        f"{claude_versions.VERSION_VAR}. Default: the pinned tests/claude-code-version.",
    )


def pytest_configure(config: pytest.Config) -> None:
    """Resolve and install the requested CLI before collection (the test modules look for the
    binary when imported); a request that cannot be met stops the run."""
    if (chosen := config.getoption("--claude-code")) is not None:
        os.environ[claude_versions.VERSION_VAR] = chosen
    try:
        claude_versions.requested_selection()
    except claude_versions.VersionUnavailable as exc:
        raise pytest.UsageError(f"Claude Code CLI: {exc}") from None


def pytest_report_header(config: pytest.Config) -> str:
    if (selection := claude_versions.requested_selection()) is not None:
        return f"claude-code: {selection.describe()}"
    pinned = claude_versions.pinned_version()
    binary = find_real_claude()
    if binary is None:
        return f"claude-code: {pinned} (pinned) not installed; realclaude tests skip"
    found = claude_versions.installed_version(binary) or "unknown version"
    origin = "pinned" if found == pinned else f"pinned is {pinned}"
    return f"claude-code: {found} ({origin}) at {binary}"


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
