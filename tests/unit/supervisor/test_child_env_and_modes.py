"""Children's environment (one deny-list) and the modes of the bridge's files."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from vai.common.tmux import PANE_UMASK_ENV, pane_umask
from vai.protocol.layout import Layout
from vai.supervisor.child_env import child_environment
from vai.supervisor.private_files import tighten


def test_children_lose_every_secret_and_keep_the_rest(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("DISCORD_BOT_TOKEN=t\nexport OTHER_SECRET='x'\n")
    environ = {
        "PATH": "/bin",
        "HOME": "/home/op",
        "ANTHROPIC_API_KEY": "claude needs this",
        "DISCORD_BOT_TOKEN": "t",
        "ENCRYPTION_KEY": "k",
        "OTHER_SECRET": "x",
        "NOTIFY_SOCKET": "/run/systemd/notify",
        "WATCHDOG_USEC": "30000000",
    }
    assert child_environment(environ, env_file) == {
        "PATH": "/bin",
        "HOME": "/home/op",
        "ANTHROPIC_API_KEY": "claude needs this",
    }
    env_file.write_text("not a KEY=VALUE line\n")  # unreadable: the fixed names still go
    assert "OTHER_SECRET" in child_environment(environ, env_file)
    assert "ENCRYPTION_KEY" not in child_environment(environ, env_file)


def test_tighten_makes_the_private_trees_0600_and_0700(tmp_path: Path) -> None:
    layout = Layout(str(tmp_path))
    for directory in (layout.state_dir, layout.run_dir / "sub", layout.logs_dir):
        directory.mkdir(parents=True, mode=0o755)
    loose = [layout.inbox_db, layout.run_dir / "sub" / "x.json", layout.session_log(1)]
    for path in loose:
        path.write_text("x")
        path.chmod(0o644)
    work = tmp_path / "work.txt"  # not the bridge's: left alone
    work.write_text("x")
    work.chmod(0o644)
    os.symlink(work, layout.logs_dir / "link")
    tighten(layout)
    for path in loose:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    for directory in (layout.state_dir, layout.run_dir, layout.run_dir / "sub"):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700, directory
    assert stat.S_IMODE(work.stat().st_mode) == 0o644  # a symlink is not followed


def test_pane_umask_comes_from_the_environment() -> None:
    assert pane_umask({PANE_UMASK_ENV: "0022"}) == 0o022
    assert pane_umask({PANE_UMASK_ENV: "nonsense"}) == -1
    assert pane_umask({PANE_UMASK_ENV: "7777"}) == -1
    assert pane_umask({}) == -1
