"""What the supervisor makes for Claude in a work dir is Claude's to use, as the work dir is.

The supervisor runs under umask 077 (private_files), but a directory made for `/new`, or a
thread's git worktree, is Claude's work, not the bridge's: it is made with the operator's
umask (the one panes get), and when Claude has its own user the work dir root is shared
with Claude's group (`vai doctor --fix`: mode 2070), so what is made below it is given the
same group access, recursively (setgid on directories keeps the group for what Claude
makes next).
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

GROUP_BITS = stat.S_IRWXG


def share_like(path: Path, model: Path) -> None:
    """Give everything at and under `path` the group access `model` (a directory) grants;
    nothing when `model` grants its group nothing. Symlinks are left alone."""
    try:
        model_mode = model.stat().st_mode
    except OSError:
        return
    group = model_mode & GROUP_BITS
    if not group:
        return
    setgid = model_mode & stat.S_ISGID
    _share_one(path, group, setgid)
    if not path.is_symlink() and path.is_dir():
        for root, dirs, files in os.walk(path):
            for name in [*dirs, *files]:
                _share_one(Path(root) / name, group, setgid)


def _share_one(path: Path, group: int, setgid: int) -> None:
    try:
        mode = path.lstat().st_mode
    except OSError:
        return
    if stat.S_ISLNK(mode):
        return
    if stat.S_ISDIR(mode):
        wanted = mode | group | setgid
    else:  # a file: read/write as the group may; execute only if its owner may
        wanted = mode | (group & (stat.S_IRGRP | stat.S_IWGRP))
        if mode & stat.S_IXUSR:
            wanted |= group & stat.S_IXGRP
    if wanted != mode:
        with contextlib.suppress(OSError):  # not ours to change: Claude keeps its access
            os.chmod(path, stat.S_IMODE(wanted))
