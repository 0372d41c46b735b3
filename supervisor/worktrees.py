"""A thread session's git worktree: made from the parent's work dir, removed only when clean.

A thread gets `<repository>/.vai-worktrees/<label>` on a branch `vai/<label>` made from
the parent work dir's HEAD, and works in the same sub-directory there as the parent does
in its checkout; `.vai-worktrees/` is added to the repository's `info/exclude` so the
parent's `git status` stays clean. The label is `thread-<thread id>`, or with
ENCRYPTION_KEY a keyed hash of it (no channel id in plain text, in the repository either).
A thread that comes back (unarchived, written in again) finds its worktree and branch
and carries on. Removing never forces: a worktree with uncommitted or untracked changes
stays, and the branch always stays (it may hold commits). Blocking (git runs here):
async callers use a thread. git runs without the bridge's secrets, since a repository's
hooks run with its environment.
"""

from __future__ import annotations

import hashlib
import hmac
import subprocess
from dataclasses import dataclass
from pathlib import Path

from vai.common.errors import BridgeError
from vai.common.tmux import pane_umask
from vai.supervisor.child_env import child_environment
from vai.supervisor.claude_access import share_like

WORKTREES_DIR = ".vai-worktrees"
GIT_TIMEOUT = 60.0


@dataclass(frozen=True)
class Worktree:
    path: Path  # the worktree's top
    work_dir: Path  # where Claude works in it
    branch: str
    reused: bool = False


def _git(
    directory: Path, *args: str, env_file: Path | None = None
) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            ["git", "-C", str(directory), *args],
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT,
            check=False,
            env=child_environment(env_file=env_file) | {"GIT_TERMINAL_PROMPT": "0"},
            stdin=subprocess.DEVNULL,
            umask=pane_umask(),  # the checkout is Claude's work: the operator's umask
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise BridgeError(f"git {args[0]} in {directory} failed: {exc}") from None


def _failed(done: subprocess.CompletedProcess[str], what: str) -> BridgeError:
    lines = (done.stderr or done.stdout).strip().splitlines()
    return BridgeError(f"{what}: {lines[-1] if lines else f'git exited {done.returncode}'}")


def label_for(thread_id: int, key: str | None) -> str:
    if not key:
        return f"thread-{thread_id}"
    digest = hmac.new(key.encode(), f"vai worktree {thread_id}".encode(), hashlib.sha256)
    return f"thread-{digest.hexdigest()[:16]}"


def repository_top(directory: Path, env_file: Path | None = None) -> Path | None:
    """The top of the git checkout `directory` is in; None if it is in none."""
    if not directory.is_dir():
        return None
    done = _git(directory, "rev-parse", "--show-toplevel", env_file=env_file)
    return Path(done.stdout.strip()) if done.returncode == 0 and done.stdout.strip() else None


def _exclude(top: Path, env_file: Path | None) -> None:
    done = _git(top, "rev-parse", "--git-common-dir", env_file=env_file)
    if done.returncode != 0:
        return
    common = Path(done.stdout.strip())
    exclude = (common if common.is_absolute() else top / common) / "info" / "exclude"
    line = f"/{WORKTREES_DIR}/"
    try:
        text = exclude.read_text(encoding="utf-8") if exclude.exists() else ""
        if line not in text.splitlines():
            exclude.parent.mkdir(parents=True, exist_ok=True)
            with exclude.open("a", encoding="utf-8") as file:
                file.write(("" if not text or text.endswith("\n") else "\n") + line + "\n")
    except OSError:
        pass  # only cosmetic: the parent's `git status` lists the directory


def add_worktree(parent_dir: Path, label: str, env_file: Path | None = None) -> Worktree | None:
    """The thread's worktree (made, or found again); None when `parent_dir` is not in a
    git repository; BridgeError when git cannot make one (say, a repository with no
    commit yet)."""
    top = repository_top(parent_dir, env_file)
    if top is None:
        return None
    inside = Path(parent_dir).resolve().relative_to(top.resolve())
    path = top / WORKTREES_DIR / label
    branch = f"vai/{label}"
    _exclude(top, env_file)
    if (path / ".git").exists():
        return Worktree(path, path / inside, branch, reused=True)
    has_branch = _git(top, "rev-parse", "--verify", "--quiet", f"refs/heads/{branch}").returncode
    args = ["worktree", "add", str(path), branch] if has_branch == 0 else [
        "worktree", "add", "-b", branch, str(path)
    ]  # fmt: skip
    done = _git(top, *args, env_file=env_file)
    if done.returncode != 0:
        raise _failed(done, f"cannot make a git worktree of {top}")
    share_like(path, Path(parent_dir))
    share_like(top / ".git" / "worktrees" / label, Path(parent_dir))  # its HEAD, index
    return Worktree(path, path / inside, branch)


def uncommitted(path: Path, env_file: Path | None = None) -> int:
    """How many files have uncommitted or untracked changes in the worktree."""
    done = _git(path, "status", "--porcelain", env_file=env_file)
    if done.returncode != 0:
        raise _failed(done, f"cannot read the state of {path}")
    return len([line for line in done.stdout.splitlines() if line.strip()])


def remove_worktree(path: Path, env_file: Path | None = None) -> None:
    """`git worktree remove` (never forced: git refuses a worktree with changes)."""
    # From the main checkout (`.vai-worktrees/` is in it), not from the worktree itself.
    done = _git(path.parent, "worktree", "remove", str(path), env_file=env_file)
    if done.returncode != 0:
        raise _failed(done, f"cannot remove the worktree {path}")
