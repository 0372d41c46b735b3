"""What the supervisor makes for Claude (a `/new` work dir, a thread's worktree) is usable by
Claude: the operator's umask, not the bridge's 077, and the group access of a work dir root
shared with Claude's user."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from vai.common.tmux import PANE_UMASK_ENV
from vai.supervisor.claude_access import share_like
from vai.supervisor.work_dirs import confined_work_dir
from vai.supervisor.worktrees import add_worktree


@pytest.fixture
def bridge_umask(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """As under `vai run`: the process at 077, the operator's 022 kept for the panes."""
    monkeypatch.setenv(PANE_UMASK_ENV, "0022")
    previous = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_share_like_gives_the_models_group_access_below(tmp_path: Path) -> None:
    model = tmp_path / "root"
    model.mkdir()
    os.chmod(model, 0o2770)
    tree = model / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "sub" / "file").write_text("x")
    os.chmod(tree / "sub" / "file", 0o600)
    (tree / "run.sh").write_text("#!/bin/sh\n")
    os.chmod(tree / "run.sh", 0o700)
    os.chmod(tree / "sub", 0o700)
    os.chmod(tree, 0o700)

    share_like(tree, model)

    assert mode(tree) == 0o2770 and mode(tree / "sub") == 0o2770
    assert mode(tree / "sub" / "file") == 0o660
    assert mode(tree / "run.sh") == 0o770


def test_share_like_changes_nothing_when_the_model_shares_nothing(tmp_path: Path) -> None:
    model = tmp_path / "root"
    model.mkdir(mode=0o700)
    os.chmod(model, 0o700)
    made = model / "made"
    made.mkdir()
    os.chmod(made, 0o700)
    share_like(made, model)
    assert mode(made) == 0o700


def test_a_work_dir_made_from_discord_has_the_operators_umask(
    tmp_path: Path, bridge_umask: None
) -> None:
    root = tmp_path / "root"
    root.mkdir()
    os.chmod(root, 0o755)
    made = confined_work_dir("new/deeper", [root], [tmp_path / "home"], create=True)
    assert mode(made) == 0o755 and mode(made.parent) == 0o755


def test_a_work_dir_made_under_a_root_shared_with_claude_is_shared_too(
    tmp_path: Path, bridge_umask: None
) -> None:
    root = tmp_path / "root"
    root.mkdir()
    os.chmod(root, 0o2770)
    made = confined_work_dir("app", [root], [tmp_path / "home"], create=True)
    assert mode(made) & 0o070 == 0o070 and made.stat().st_mode & stat.S_ISGID


def make_repo(repo: Path, repo_mode: int) -> None:
    repo.mkdir()
    os.chmod(repo, repo_mode)
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.invalid"]
    subprocess.run([*git, "init", "-q"], check=True)
    (repo / "code.py").write_text("print(1)\n")
    subprocess.run([*git, "add", "code.py"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "one"], check=True)


@pytest.mark.skipif(not shutil.which("git"), reason="needs git")
def test_a_threads_worktree_has_the_operators_umask(tmp_path: Path, bridge_umask: None) -> None:
    repo = tmp_path / "repo"
    make_repo(repo, 0o755)
    tree = add_worktree(repo, "thread-1")
    assert tree is not None
    assert mode(tree.path / "code.py") == 0o644 and mode(tree.path) == 0o755


@pytest.mark.skipif(not shutil.which("git"), reason="needs git")
def test_a_threads_worktree_is_shared_with_claudes_group(
    tmp_path: Path, bridge_umask: None
) -> None:
    repo = tmp_path / "repo"
    make_repo(repo, 0o2770)
    tree = add_worktree(repo, "thread-1")

    assert tree is not None
    checked_out = tree.path / "code.py"
    assert mode(checked_out) & 0o660 == 0o660  # the operator's 0644, plus the group's rw
    assert mode(tree.path) & 0o070 == 0o070
    metadata = repo / ".git" / "worktrees" / "thread-1"
    assert mode(metadata) & 0o070 == 0o070  # Claude's group can commit in it
