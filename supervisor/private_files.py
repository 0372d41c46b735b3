"""The bridge's own files are the operator's alone, whatever the umask it was started with.

`vai run` sets umask 077 for itself and every child, so whatever they create (the inbox
and its -wal/-shm, logs, metrics.json, sockets, journals, spools) is 0600 and every
directory 0700; `tighten` brings files left by an earlier run (or another umask) in line.
Claude is the exception: the tmux server, and so every pane, gets the umask the operator
had (common.tmux reads it from PANE_UMASK_ENV), so files Claude writes in the work
directory are as the operator expects.

When Claude runs as its own user (`[claude] user`), VAI_HOME, run/ and attachments/ are
0711: that user can pass through them to its session's folders (run/session-N/,
attachments/session_N/, given to its group by the worker) but cannot list them, and
everything else stays the bridge's alone. The session folders keep their own modes.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

from vai.common.tmux import PANE_UMASK_ENV
from vai.protocol.layout import Layout

PRIVATE_UMASK = 0o077


def private_umask() -> int:
    """Set umask 077 for this process (and so its children); the operator's is kept in the
    environment for the panes. Returns the operator's."""
    previous = os.umask(PRIVATE_UMASK)
    os.environ.setdefault(PANE_UMASK_ENV, f"{previous:04o}")
    return previous


SHARED_RUN = "session-"  # run/session-N/: the worker sets their modes and group
TRAVERSABLE = 0o711


def prepare_dirs(layout: Layout, traversable: bool = False) -> None:
    """The bridge's top directories, private; the ones a Claude user passes through 0711."""
    for directory in (layout.root, layout.run_dir, layout.state_dir):
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(directory, 0o700)
    for directory in (layout.logs_dir, layout.attachments_dir):
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    if traversable:
        for directory in (layout.root, layout.run_dir, layout.attachments_dir):
            os.chmod(directory, TRAVERSABLE)


def tighten(layout: Layout, traversable: bool = False) -> None:
    """Directories 0700 and everything else 0600 under state/, run/, logs/, monitoring/
    (run/ 0711 when `traversable`; the session folders in run/ are the workers').

    A traversable VAI_HOME no longer hides what it holds from a user who knows the names:
    then every file in it (.env, vai.toml, sessions.json) is 0600, every other directory
    0700, and so is whatever lies loose in attachments/."""
    if traversable:
        _tighten_entries(layout.root, keep=frozenset({"run", "attachments"}))
        _tighten_entries(layout.attachments_dir, keep_prefix="session_")
    for top in (layout.state_dir, layout.run_dir, layout.logs_dir, layout.monitoring_dir):
        if not top.is_dir() or top.is_symlink():
            continue
        _chmod(top, TRAVERSABLE if traversable and top == layout.run_dir else 0o700)
        for root, dirs, files in os.walk(top):
            if root == str(layout.run_dir):
                dirs[:] = [d for d in dirs if not d.startswith(SHARED_RUN)]
            for name in dirs:
                _chmod(os.path.join(root, name), 0o700)
            for name in files:
                _chmod(os.path.join(root, name), 0o600)


def _tighten_entries(
    folder: Path, keep: frozenset[str] = frozenset(), keep_prefix: str = ""
) -> None:
    """One level: files 0600, directories 0700, except those kept (and symlinks)."""
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    for entry in entries:
        if entry.name in keep or (keep_prefix and entry.name.startswith(keep_prefix)):
            continue
        with contextlib.suppress(OSError):
            if entry.is_dir(follow_symlinks=False):
                _chmod(entry.path, 0o700)
            elif entry.is_file(follow_symlinks=False):
                _chmod(entry.path, 0o600)


def _chmod(path: str | os.PathLike[str], mode: int) -> None:
    with contextlib.suppress(OSError):
        if not stat.S_ISLNK(os.lstat(path).st_mode):
            os.chmod(path, mode)
