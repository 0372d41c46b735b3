"""What the bridge leaves on disk is private: modes whatever the umask, and with
ENCRYPTION_KEY set no channel id in plain text in the inbox, metrics.json or any log."""

from __future__ import annotations

import contextlib
import os
import stat
import struct
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from tests.support.harness import standin_command, wait_until
from tests.support.stack import Stack, running_stack
from tests.support.tmux import TmuxServer

pytestmark = pytest.mark.timeout(150)


@contextlib.contextmanager
def umask(mask: int) -> Iterator[None]:
    previous = os.umask(mask)
    try:
        yield
    finally:
        os.umask(previous)


def private_tree(stack: Stack) -> list[Path]:
    layout = stack.layout
    roots = [layout.state_dir, layout.run_dir, layout.logs_dir, layout.monitoring_dir]
    found: list[Path] = []
    for root in roots:
        found.append(root)
        found.extend(root.rglob("*"))
    return found


def plain_forms(channel: int) -> list[bytes]:
    """How an id looks stored plainly: decimal text, or 8 bytes big-endian (msgpack's
    uint64 and SQLite's integer cells)."""
    return [str(channel).encode(), struct.pack(">Q", channel)]


def dp(stack: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vai.supervisor.dp", *args],
        env=stack.env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_files_are_private_and_channel_ids_are_not_stored_plain(
    short_tmp: Path, tmux_server: TmuxServer
) -> None:
    dumps = short_tmp / "dumps"
    dumps.mkdir()
    claude = ["sh", "-c", f'umask > {dumps}/umask.$$; exec "$0" "$@"', *standin_command()]
    extra = {"ENCRYPTION_KEY": Fernet.generate_key().decode()}
    with running_stack(
        short_tmp, tmux_server, channels=1, claude_command=claude, extra_env=extra
    ) as (stack, (chan,)):
        stack.write_config("[monitoring]\ninterval = 0.2\n")
        with umask(0):
            stack.start()
        stack.wait_all_running()
        stack.discord.post_user_message(chan, "hello")
        stack.wait_bot_message(chan, "echo: hello", timeout=30)
        second = stack.discord.add_channel("second")
        added = stack.vai("add-session", str(second))
        assert added.returncode == 0, added.stderr
        stack.discord.post_user_message(second, "hi two")
        stack.wait_bot_message(second, "echo: hi two", timeout=30)
        # discord.py logs a 429 with the URL, which names the channel: logs name the session.
        stack.discord.inject_429("POST", rf"/channels/{second}/messages$", retry_after=0.05)
        assert dp(stack, "2", "posted by dp").returncode == 0
        stack.wait_bot_message(second, "posted by dp")
        gateway_log = stack.layout.process_log("gateway")
        wait_until(lambda: "[channel of session 2]" in gateway_log.read_text(), 10, "the 429")
        metrics = stack.layout.monitoring_dir / "metrics.json"
        wait_until(lambda: metrics.exists() and b'"2"' in metrics.read_bytes(), 20, "metrics")

        pane_dps = {stack.layout.pane_dp(session) for session in (1, 2)}
        for path in private_tree(stack):
            mode = path.lstat().st_mode
            if stat.S_ISDIR(mode):
                assert stat.S_IMODE(mode) == 0o700, path
            elif stat.S_ISREG(mode):
                # The pane's own `dp` (run/session-N/bin/dp) must be executable: 0700.
                executable = path in pane_dps
                assert stat.S_IMODE(mode) == (0o700 if executable else 0o600), path
            else:
                assert stat.S_IMODE(mode) & 0o077 == 0, path
        inbox = stack.layout.inbox_db
        assert {p.name for p in inbox.parent.iterdir()} >= {inbox.name, f"{inbox.name}-wal"}
        for path in [p for p in private_tree(stack) if p.is_file()]:
            data = path.read_bytes()
            for channel in (chan, second):
                for form in plain_forms(channel):
                    assert form not in data, f"{path} holds channel {channel} as {form!r}"
        # Claude keeps the operator's umask; only the bridge's own files are tightened.
        assert {p.read_text().strip() for p in dumps.glob("umask.*")} == {"0000"}
