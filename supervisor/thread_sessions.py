"""The rules for thread sessions: who may have one, where it works, what its end leaves.

A thread gets a session when its parent channel is a session with threads on (vai.toml's
`[discord.sessions.N] threads` or `/threads on`) and fewer than `[discord]
max_thread_sessions` thread sessions run. It works in a git worktree of the parent's
work dir when that is in a repository (supervisor/worktrees.py), else in the parent's
work dir itself. When the thread is archived or deleted the session is removed (its log
kept) and, with `[discord] remove_worktrees`, a clean worktree is removed; one with
uncommitted changes always stays, and the answer says so. The blocking parts (git) run
in a thread of the caller's.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from vai.common.errors import BridgeError
from vai.protocol.session_settings import SessionSettings
from vai.supervisor.config import Config
from vai.supervisor.routes import threads_enabled
from vai.supervisor.worktrees import add_worktree, label_for, remove_worktree, uncommitted


def parent_of(
    entries: Mapping[int, SessionSettings], parent_channel_id: int
) -> tuple[int, SessionSettings] | None:
    return next(((n, s) for n, s in entries.items() if s.channel_id == parent_channel_id), None)


def threads_of(
    entries: Mapping[int, SessionSettings], channel_id: int
) -> dict[int, SessionSettings]:
    """The thread sessions of the channel `channel_id`, by number."""
    return {n: s for n, s in entries.items() if s.is_thread and s.parent_channel_id == channel_id}


def refusal(config: Config, entries: Mapping[int, SessionSettings], parent_channel_id: int) -> str:
    """Why a new thread in this channel gets no session ("" when it may have one)."""
    parent = parent_of(entries, parent_channel_id)
    discord = config.file.discord
    if parent is None or not threads_enabled(parent[0], parent[1], discord):
        return "threads in this channel do not get sessions (an admin can run `/threads on`)"
    running = sum(1 for s in entries.values() if s.is_thread)
    if running >= discord.max_thread_sessions:
        return (
            f"{running} thread sessions already run (the limit, `[discord]"
            " max_thread_sessions`): archive one, then write here again"
        )
    return ""


def thread_settings(
    config: Config, parent: SessionSettings, thread_id: int, name: str
) -> SessionSettings:
    """The thread session's record, its worktree made (blocking: runs git)."""
    parent_dir = Path(parent.work_dir or config.claude_work_dir)
    label = label_for(thread_id, config.encryption_key)
    tree = add_worktree(parent_dir, label, config.layout.env_file)
    work_dir = str(tree.work_dir) if tree is not None else str(parent_dir)
    return SessionSettings(
        channel_id=thread_id,
        name=name[:100],
        work_dir=work_dir,
        kind="thread",
        parent_channel_id=parent.channel_id,
        worktree=str(tree.path) if tree is not None else "",
        host=parent.host,
    )


def end_worktree(config: Config, settings: SessionSettings) -> str:
    """After the session is gone: remove its worktree if configured and clean; what to
    tell the thread's people ("" when nothing). Never raises for git's sake."""
    if not settings.worktree or not config.file.discord.remove_worktrees:
        return ""
    path = Path(settings.worktree)
    if not path.exists():
        return ""
    env_file = config.layout.env_file
    try:
        changed = uncommitted(path, env_file)
        if changed:
            return (
                f"its git worktree {path} has {changed} uncommitted change(s) and stays"
                " (commit them, or remove it with `git worktree remove`)"
            )
        remove_worktree(path, env_file)
    except BridgeError as exc:
        return f"its git worktree {path} stays: {exc}"
    return f"its clean git worktree {path} was removed (the branch stays)"
